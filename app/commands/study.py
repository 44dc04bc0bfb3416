"""`psft study DIR`: pool the finished seeds of a multi-seed run (DIR/seed-<s>/) into DIR/study.json and
print its tables as markdown: pass@1 per checkpoint, the confirmatory contrasts declared in the recipe's
[analysis] (Holm), RL gain per arm with each seed's gain, and the paired differences between arms, the
last two exploratory; intervals cover seeds and tasks (see app/study.py and train/transfer.py)."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("study", help="pool the seeds of a multi-seed run into study.json and print its tables",
                       description=__doc__)
    p.add_argument("run", type=Path, help="the run folder that holds seed-<s>/ folders (e.g. artifacts/runs/study)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples of cells from a single run (default 2000); "
                                                                  "pooled cells use the seed x task model")
    p.add_argument("--plan", type=float, default=None, metavar="POINTS",
                   help="also size a study of this design: seeds needed for a confirmatory half-width of POINTS "
                        "(study.json \"plan\"; train/power.py)")
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.study import markdown, pool_seeds, seed_runs

    if not args.run.is_dir():
        raise CliError(f"{args.run}: no such run folder")
    if args.n_boot < 100:
        raise CliError("--n-boot must be at least 100")
    if args.plan is not None and not args.plan > 0:
        raise CliError("--plan must be a positive number of points")
    found = seed_runs(args.run)
    if len(found) < 2:
        raise CliError(f"{args.run}: {len(found)} finished seed run(s) (seed-<s>/ with transfer.json); "
                       "pooling needs at least 2")
    try:
        study = pool_seeds(args.run, n_boot=args.n_boot, plan_target=args.plan)
    except ValueError as e:
        raise CliError(str(e)) from e
    print(markdown(study), end="")
    print(f"\nwritten: {args.run / 'study.json'}")
    return 0
