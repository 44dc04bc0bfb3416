"""`psft report RUN [--vs RUN2]`: write the run's self-contained HTML report (pass@1 with CIs, transfer,
alignment per layer, CKA heatmaps, hypothesis tests, config); `--vs` compares it with a second run."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("report", help="write RUN/report.html comparing checkpoints (--vs: two runs)",
                       description=__doc__)
    p.add_argument("run", type=Path, help="run folder (from psft run)")
    p.add_argument("--vs", type=Path, default=None, help="a second run folder to compare with (seed, recipe)")
    p.add_argument("--out", type=Path, default=None,
                   help="output file (default RUN/report.html, or RUN/report-vs-<RUN2>.html with --vs)")
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.report import write_report
    from app.rundata import NotARun
    try:
        path = write_report(args.run, vs=args.vs, out=args.out)
    except NotARun as e:
        raise CliError(str(e)) from e
    print(path)
    return 0
