"""`psft run`: the whole study, resumable, for every recipe (see app/pipeline.py and README).

    psft run --recipe toy                                              # the synthetic world, CPU
    psft run --recipe toy --jobs 2                                     # two independent stages at a time
    psft run --recipe smol-micro --data ../shared/data/mbxp            # a pretrained model on MBXP, minutes
    psft run --recipe paper --data DATA --dry-run                      # check a GPU plan on a CPU
    psft run --recipe smol --data DATA --stage sft-parallel --resume   # one stage (what accelerate launches)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("run", help="run a study: pretrain or load a model, SFT arms, RL arms, evaluation (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="toy",
                   help="built-in recipe (micro, toy, study, study-forms, study-joined, mechanism; bench: smol-micro, smol, io-smol, paper) or a .toml file")
    p.add_argument("--out", type=Path, default=None, help="run folder (default artifacts/runs/<recipe>)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: the recipe's first)")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds, from --seed on (default: the recipe's). With several seeds (or a "
                        "recipe that has several) each seed runs in <out>/seed-<s>, and the finished seeds "
                        "are pooled into <out>/study.json (see `psft study`)")
    p.add_argument("--resume", action="store_true", help="continue an existing run, skipping finished stages")
    p.add_argument("--force", action="store_true", help="delete an existing run folder and start afresh "
                                                        "(after the recipe and inputs are checked)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    p.add_argument("--data", default=None, help="bench recipes: MBXP folder or hub id (sets [data].mbxp)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set sft.lr=1e-4 or --set runtime.bf16_autocast=false "
                        "(repeatable; the run folder's config.json records the result)")
    p.add_argument("--stage", default=None,
                   help="run only this stage (its upstream stages must be done): what `accelerate launch` runs "
                        "per training stage; see --dry-run for the stages and their commands")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="run up to N independent stages at once, each in its own process with its output in "
                        "<run>/logs/<stage>.log (sets [runtime].jobs; default the recipe's, 1: one stage after "
                        "another). CPU runs only; the torch threads are split between them (see `psft config`)")
    p.add_argument("--dry-run", action="store_true",
                   help="check the recipe, inputs and launch and print the stage graph with each stage's "
                        "command, without loading or writing anything")
    return p


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
    if getattr(args, "data", None):
        out["data.mbxp"] = args.data
    if getattr(args, "jobs", None) is not None:
        out["runtime.jobs"] = str(args.jobs)
    return out


def seed_roots(recipe_seeds, seeds: list[int], out: Path) -> dict[int, Path]:
    """seed -> run folder: <out>/seed-<s> whenever the run or the recipe has several seeds (`--seed 2` of a
    3-seed recipe goes to seed-2/), else <out> itself."""
    per_seed = len(seeds) > 1 or len(recipe_seeds) > 1
    return {seed: out / f"seed-{seed}" if per_seed else out for seed in seeds}


def run(args) -> int:
    from app.cli import CliError
    from app.jobs import StageFailed
    from app.pipeline import RunExists, dry_run, run_pipeline
    from app.preflight import BadInput, precision_note
    from app.stages import StageOrderError
    from train.bench_recipe import is_bench_recipe
    from train.config import ConfigError
    from train.recipe import RecipeError, load_recipe

    if args.resume and args.force:
        raise CliError("--resume and --force exclude each other")
    if args.data and not is_bench_recipe(args.recipe):
        raise CliError("--data is for bench recipes (smol-micro, smol, paper)")
    try:
        recipe = load_recipe(args.recipe, overrides(args))
    except (RecipeError, ConfigError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from e
    note = None if args.quiet else precision_note(recipe)   # --quiet prints the run folder only

    def advise():   # once the input has passed preflight: a refusal stays one line
        nonlocal note
        if note:
            print(f"psft run: {note}", file=sys.stderr)
            note = None
    seeds = resolve_seeds(list(recipe.seeds), args)
    out = args.out or Path("artifacts") / "runs" / recipe.name
    roots = seed_roots(recipe.seeds, seeds, out)
    if args.dry_run:
        report = dry_run(recipe.with_seed(seeds[0]), out, list(roots.values()), recipe_arg=args.recipe,
                         data_arg=args.data, sets=args.set)
        if note:
            report["warnings"].append(note)
        print(json.dumps(report, indent=1))
        if report["errors"]:
            raise CliError("dry run found problems:\n  " + "\n  ".join(report["errors"]))
        return 0
    for seed, root in roots.items():
        try:
            res = run_pipeline(recipe.with_seed(seed), root, quiet=args.quiet, resume=args.resume, force=args.force,
                               only=args.stage, checked=advise)
        except (RunExists, BadInput, StageOrderError) as e:
            raise CliError(str(e)) from e
        except StageFailed as e:   # not bad input: the finished stages are kept, --resume goes on
            print(f"psft run: {e}; the finished stages are kept: fix it, then rerun with --resume", file=sys.stderr)
            return 1
        if not args.quiet:
            print(f"run {root}: {len(res.ran)} stages ran, {len(res.skipped)} skipped, {res.seconds:.0f}s",
                  file=sys.stderr)
    if args.stage:
        print(out)
        return 0
    study = None
    if any(root != out for root in roots.values()):   # seed-<s>/ folders: pool the finished ones
        from app.study import markdown, pool_seeds
        try:
            study = pool_seeds(out)
        except ValueError as e:   # the seeds ran; only pooling them failed: say why, keep the exit code
            print(f"study: seeds not pooled: {e}", file=sys.stderr)
        if study is not None and not args.quiet:
            print("\n" + markdown(study), file=sys.stderr)
    if args.quiet:
        print(out)
        return 0
    first = roots[seeds[0]]
    psft = _psft_command()
    print(f"\nrun:     {out}")
    for root in roots.values():
        print(f"report:  {root / 'report.html'}")
    if study is not None:
        print(f"study:   {out / 'study.json'}  (seeds {', '.join(map(str, study['seeds']))} pooled; "
              f"tables: {psft} study {out})")
    if len(seeds) > 1:
        print(f"compare: {psft} report {first} --vs {roots[seeds[1]]}")
    print(f"explore: {psft} app {first}    (then open http://localhost:8501)")
    return 0


def _psft_command() -> str:
    """How to call psft again from here: the venv's script by relative path when that is how we ran."""
    import os
    import shlex
    exe = Path(sys.argv[0])
    if exe.name == "psft" and exe.exists():
        rel = os.path.relpath(exe.resolve().parent / exe.name)
        return shlex.quote(rel if not rel.startswith("..") else str(exe))
    return "psft"


def resolve_seeds(recipe_seeds: list[int], args) -> list[int]:
    """The seeds to run: `--seed S [--seeds N]` gives S..S+N-1; `--seeds N` alone counts from the recipe's
    first seed; neither keeps the recipe's."""
    from app.cli import CliError
    if args.seed is not None:
        return [args.seed + i for i in range(args.seeds or 1)]
    if args.seeds is not None:
        if args.seeds < 1:
            raise CliError("--seeds must be >= 1")
        return [recipe_seeds[0] + i for i in range(args.seeds)]
    return recipe_seeds
