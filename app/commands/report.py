"""`psft report RUN [--vs RUN2] [--label A --label B]`: write the run's self-contained HTML report (the
finding first: the declared contrasts with their intervals and verdicts; then pass@1 with CIs, transfer,
alignment per layer, CKA heatmaps, hypothesis tests, config); `--vs` compares it with a second run
(differences of pass@1 and RL gains with intervals paired over tasks), under the names `--label` gives.
`--markdown` prints the run's tables as Markdown instead (for a results page) and writes nothing."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("report", help="write RUN/report.html comparing checkpoints (--vs: two runs)",
                       description=__doc__)
    p.add_argument("run", type=Path, help="run folder (from psft run)")
    p.add_argument("--vs", type=Path, default=None, help="a second run folder to compare with (seed, recipe)")
    p.add_argument("--label", action="append", default=None, metavar="NAME",
                   help="the name of RUN in the report (repeat once more for --vs's run); default: the folder names")
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default RUN/report.html, or RUN/report-vs-<RUN2>.html with --vs)")
    p.add_argument("--markdown", action="store_true",
                   help="print the run's tables (pass@1, confirmatory contrasts, RL gains, retrieval vs the "
                        "bag-of-tokens baseline) as Markdown; writes nothing")
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.report import write_report
    from app.rundata import NotARun, open_run
    if args.markdown:
        if args.vs or args.out or args.label:
            raise CliError("--markdown prints one run's tables: it takes neither --vs, --out nor --label")
        from app.markdown import run_markdown
        try:
            print(run_markdown(open_run(args.run)), end="")
        except NotARun as e:
            raise CliError(str(e)) from e
        return 0
    labels = [x.strip() for x in args.label or []]
    if len(labels) > (2 if args.vs else 1) or any(not x for x in labels):
        raise CliError(f"--label names the runs: at most {2 if args.vs else 1} non-empty name(s) "
                       f"({'RUN and --vs' if args.vs else 'RUN; a second one goes with --vs'}), got {len(labels)}")
    try:
        path = write_report(args.run, vs=args.vs, out=args.out, labels=labels or None)
    except NotARun as e:
        raise CliError(str(e)) from e
    print(path)
    return 0
