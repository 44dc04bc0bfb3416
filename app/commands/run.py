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
                   help="number of seeds, from --seed on (default: the recipe's). With several seeds (or a "
                        "recipe that has several) each seed runs in <out>/seed-<s>, and the finished seeds "
                        "are pooled into <out>/study.json (see `psft study`)")
    p.add_argument("--resume", action="store_true", help="continue an existing run, skipping finished stages")
    p.add_argument("--force", action="store_true", help="delete an existing run folder and start afresh")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage lines")
    # Recipes with kind = "bench" (smol-micro, smol, paper): a pretrained model on real benchmarks.
    p.add_argument("--data", default=None, help="bench recipes: MBXP folder or hub id (sets [data].mbxp)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set sft.lr=1e-4 or --set runtime.bf16_autocast=false "
                        "(repeatable; the run folder's config.json records the result)")
    p.add_argument("--stage", default=None, help="bench recipes: run only this stage (its upstream must be done)")
    p.add_argument("--dry-run", action="store_true",
                   help="bench recipes: check configs, data, model and launch commands without training")
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.pipeline import RunExists, run_pipeline
    from app.preflight import BadInput
    from train.config import ConfigError
    from train.recipe import RecipeError, load_recipe

    if args.resume and args.force:
        raise CliError("--resume and --force exclude each other")
    from train.bench_recipe import is_bench_recipe
    if is_bench_recipe(args.recipe):
        from app.commands.run_bench import run_bench
        return run_bench(args)
    if args.data or args.stage or args.dry_run:
        raise CliError("--data, --stage and --dry-run are for bench recipes (smol-micro, smol, paper)")
    from app.commands.run_bench import overrides
    try:
        recipe = load_recipe(args.recipe, overrides(args))
    except (RecipeError, ConfigError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from e
    from app.preflight import precision_note
    note = precision_note(recipe)
    if note:
        print(f"psft run: {note}", file=sys.stderr)
    seeds = resolve_seeds(list(recipe.seeds), args)
    out = args.out or Path("artifacts") / "runs" / recipe.name
    per_seed = len(seeds) > 1 or len(recipe.seeds) > 1   # `--seed 2` of a 3-seed study goes to seed-2/

    def root_of(seed: int) -> Path:
        return out / f"seed-{seed}" if per_seed else out

    for seed in seeds:
        root = root_of(seed)
        try:
            res = run_pipeline(recipe.with_seed(seed), root, quiet=args.quiet, resume=args.resume, force=args.force)
        except (RunExists, BadInput) as e:
            raise CliError(str(e)) from e
        if not args.quiet:
            print(f"run {root}: {len(res.ran)} stages ran, {len(res.skipped)} skipped, {res.seconds:.0f}s",
                  file=sys.stderr)
    study = None
    if per_seed:
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
    first = root_of(seeds[0])
    psft = _psft_command()
    print(f"\nrun:     {out}")
    for seed in seeds:
        print(f"report:  {root_of(seed) / 'report.html'}")
    if study is not None:
        print(f"study:   {out / 'study.json'}  (seeds {', '.join(map(str, study['seeds']))} pooled; "
              f"tables: {psft} study {out})")
    if len(seeds) > 1:
        print(f"compare: {psft} report {first} --vs {root_of(seeds[1])}")
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
