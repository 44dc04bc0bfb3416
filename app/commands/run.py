"""`psft run`: the whole study on the synthetic world, resumable (see app/pipeline.py and README)."""
from __future__ import annotations

import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("run", help="run a study: pretrain, SFT arms, RL arms, evaluation (resumable)",
                       description=__doc__)
    p.add_argument("--recipe", default="toy", help="built-in recipe (micro, toy, study) or a .toml file")
    p.add_argument("--out", type=Path, default=None, help="run folder (default artifacts/runs/<recipe>)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: the recipe's first)")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds, from --seed on (default: the recipe's); each in <out>/seed-<s>")
    p.add_argument("--resume", action="store_true", help="continue an existing run, skipping finished stages")
    p.add_argument("--force", action="store_true", help="delete an existing run folder and start afresh")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.pipeline import RunExists, run_pipeline
    from train.config import ConfigError
    from train.recipe import RecipeError, load_recipe

    if args.resume and args.force:
        raise CliError("--resume and --force exclude each other")
    try:
        recipe = load_recipe(args.recipe)
    except (RecipeError, ConfigError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from e
    seeds = list(recipe.seeds)
    if args.seed is not None:
        seeds = [args.seed + i for i in range(args.seeds or 1)]
    elif args.seeds is not None:
        if args.seeds < 1:
            raise CliError("--seeds must be >= 1")
        seeds = [seeds[0] + i for i in range(args.seeds)]
    out = args.out or Path("artifacts") / "runs" / recipe.name
    for seed in seeds:
        root = out if len(seeds) == 1 else out / f"seed-{seed}"
        try:
            res = run_pipeline(recipe.with_seed(seed), root, quiet=args.quiet, resume=args.resume, force=args.force)
        except RunExists as e:
            raise CliError(str(e)) from e
        if not args.quiet:
            print(f"run {root}: {len(res.ran)} stages ran, {len(res.skipped)} skipped, {res.seconds:.0f}s",
                  file=sys.stderr)
    print(out)
    return 0
