"""`psft run` for bench recipes (smol-micro, smol, paper): a pretrained model on MBXP / Multi-HumanEval.

    psft run --recipe smol-micro --data ../shared/data/mbxp          # the whole path, minutes, CPU
    psft run --recipe paper --data DATA --dry-run                      # check the GPU plan on a CPU
    psft run --recipe smol --data DATA --stage sft-parallel --resume   # one stage (what accelerate launches)

Called by `app/commands/run.py` when the recipe is a bench recipe; see `app/pipeline_bench.py`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def overrides(args) -> dict:
    """`--set KEY=VALUE` (repeatable) and `--data` as dotted recipe overrides; a malformed item is a
    CliError."""
    from app.cli import CliError
    out = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {item!r}: expected KEY=VALUE, e.g. sft.lr=1e-4")
        out[key.strip()] = value
    if args.data:
        out["data.mbxp"] = args.data
    return out


def run_bench(args) -> int:
    from app.cli import CliError
    from app.pipeline import RunExists
    from app.pipeline_bench import BadProbeConfig, StageOrderError, run_bench_pipeline
    from train.bench_recipe import load_bench_recipe
    from train.config import ConfigError
    from train.recipe import RecipeError

    try:
        recipe = load_bench_recipe(args.recipe, overrides(args))
    except (RecipeError, ConfigError, ValueError) as e:
        raise CliError(str(e)) from e
    from app.preflight import precision_note
    note = precision_note(recipe)
    if note:
        print(f"psft run: {note}", file=sys.stderr)
    if not recipe.data.mbxp:
        raise CliError(f"recipe {recipe.name}: no data: pass --data PATH (a folder of MBXP JSONL files, e.g. "
                       "../shared/data/mbxp, or the hub id mxeval/mbxp)")
    out = args.out or Path("artifacts") / "runs" / recipe.name
    from app.commands.run import resolve_seeds
    seeds = resolve_seeds(list(recipe.seeds), args)
    roots = {seed: out if len(seeds) == 1 else out / f"seed-{seed}" for seed in seeds}
    if args.dry_run:
        from app.plan_bench import plan
        report = plan(recipe, out, list(roots.values()), recipe_arg=args.recipe, data_arg=args.data, sets=args.set)
        print(json.dumps(report, indent=1))
        if report["errors"]:
            raise CliError("dry run found problems:\n  " + "\n  ".join(report["errors"]))
        return 0
    for seed, root in roots.items():
        try:
            res = run_bench_pipeline(recipe.with_seed(seed), root, quiet=args.quiet, resume=args.resume,
                                     force=args.force, only=args.stage)
        except (RunExists, StageOrderError, BadProbeConfig, FileNotFoundError) as e:
            raise CliError(str(e)) from e
        if not args.quiet:
            print(f"run {root}: {len(res.ran)} stages ran, {len(res.skipped)} skipped, {res.seconds:.0f}s",
                  file=sys.stderr)
    print(out)
    return 0
