"""`psft intervene`: causal tests of transfer on two checkpoints, scored as checkpoints are (greedy pass@1
per language through the sandbox, paired over tasks against both unedited checkpoints).

    psft intervene RUN --kind transplant|patch|erase [--arm parallel] [--layers 1,2] [--alpha 0.5,1]
    psft intervene --model RL_DIR --vs SFT_DIR --data toy --kind patch [--out DIR]

--kind transplant adds alpha * Δ_L (the mean residual update of --model over --vs at
blocks.{L}.hook_resid_post on source-language prompts) to --vs's residual on every language's prompts,
beside a random direction of the same norm and Δ computed on each target language's own prompts;
--kind patch replaces one model's residual at L by the other's on the same token prefix (both
directions), one layer at a time; --kind erase applies a LEACE eraser of the language label at L to each
checkpoint. With RUN, the pair is RUN/checkpoints/rl-<arm> and sft-<arm>, the tasks are the run's, and the
output is RUN/interventions/<name>.json; with --model/--vs (full or LoRA folders), --data names a world
recipe (or a run folder) that gives the tasks, and the output goes to --out (default
artifacts/interventions). Rows of every condition go beside it (<name>.rows.jsonl). Bad input is one
message, exit code 2, nothing written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KINDS = ("transplant", "patch", "erase")


def add_parser(sub):
    p = sub.add_parser("intervene", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="transplant, patch or erase residuals of two checkpoints; pass@1 with paired intervals")
    p.add_argument("run", type=Path, nargs="?", default=None, help="a run folder (or give --model/--vs/--data)")
    p.add_argument("--kind", required=True, choices=KINDS, help="the intervention")
    p.add_argument("--arm", default="parallel", help="with RUN: the arm (rl-<arm> vs sft-<arm>; default parallel)")
    p.add_argument("--model", type=Path, default=None, help="the checkpoint whose update is studied (e.g. RL)")
    p.add_argument("--vs", type=Path, default=None, help="the checkpoint it is compared with (e.g. its SFT parent)")
    p.add_argument("--data", default=None, help="with --model: a world recipe (name or .toml) or a run folder: the tasks")
    p.add_argument("--layers", default=None, help="decoder layers, comma-separated, negative from the end (default all)")
    p.add_argument("--alpha", default=None, help="transplant scales, comma-separated (default 1)")
    p.add_argument("--n-tasks", type=int, default=None, help="evaluated tasks per language (default: the recipe's)")
    p.add_argument("--langs", default=None, help="languages to score (default: the recipe's evaluation languages)")
    p.add_argument("--group", default=None, choices=("targets", "seen", "zero_shot"),
                   help="languages of the confirmatory contrasts (default: zero_shot with a recipe's SFT languages)")
    p.add_argument("--no-controls", action="store_true", help="transplant: skip the random and target-Δ controls")
    p.add_argument("--delta-tasks", type=int, default=None, help="transplant: prompts Δ averages over (default 200)")
    p.add_argument("--probe-tasks", type=int, default=None, help="erase: tasks of the probe set (default 200)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random direction and bootstraps (default 0)")
    p.add_argument("--name", default=None, help="output name (default <kind>-<arm> or <kind>-<model>-vs-<vs>)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN/interventions or "
                                                          "artifacts/interventions)")
    p.add_argument("--force", action="store_true", help="replace an existing <name>.json")
    p.add_argument("--device", default=None, help="torch device of both checkpoints (default: cuda when available, else cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _ints(text: str, opt: str) -> tuple[int, ...]:
    from app.cli import CliError
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise CliError(f"{opt} {text!r}: expected comma-separated integers, e.g. 0,2,-1") from None


def _floats(text: str, opt: str) -> tuple[float, ...]:
    from app.cli import CliError
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise CliError(f"{opt} {text!r}: expected comma-separated numbers, e.g. 0.5,1") from None
    if not vals:
        raise CliError(f"{opt}: give at least one number")
    return vals


def _model_dir(path: Path, what: str) -> Path:
    from app.cli import CliError
    from app.preflight import model_problem
    why = model_problem(path)
    if why:
        raise CliError(f"{what} {path}: not a model folder ({why})")
    return path


def resolve(args):
    """[(seed or None, Pair, WorldSetup, output folder, default name)] from the arguments, or CliError: one job,
    or one per finished seed of a multi-seed run (`<RUN>/seed-<s>/`)."""
    from app.cli import CliError
    from app.intervening import InterventionError, Pair, setup_from_recipe, setup_from_run
    if args.run is not None and (args.model or args.vs or args.data):
        raise CliError("give either RUN or --model/--vs/--data, not both")
    if args.run is None:
        if args.model is None:
            raise CliError("give a run folder, or --model (and --vs) with --data")
        if args.vs is None and args.kind != "erase":
            raise CliError(f"--kind {args.kind} compares two checkpoints: give --vs")
        if not args.data:
            raise CliError("--model needs --data: a world recipe (name or .toml) or a run folder, for the tasks")
        _model_dir(args.model, "--model")
        if args.vs is not None:
            _model_dir(args.vs, "--vs")
        data = Path(args.data)
        try:
            if data.is_dir():
                setup = setup_from_run(data)
            else:
                from train.recipe import RecipeError, load_recipe
                try:
                    setup = setup_from_recipe(load_recipe(args.data))
                except RecipeError as e:
                    raise CliError(f"--data {args.data}: {e}") from None
        except InterventionError as e:
            raise CliError(str(e)) from None
        pair = Pair(args.model, args.vs, args.model.resolve().name,
                    args.vs.resolve().name if args.vs is not None else "vs")
        return [(None, pair, setup, args.out or Path("artifacts") / "interventions", None)]
    root = args.run
    if not root.is_dir():
        raise CliError(f"no run folder at {root}")
    if (root / "checkpoints").is_dir():
        return [(None, *_run_job(root, args), None)]
    from app.study import SEED_DIR
    seeds = sorted((int(m.group(1)), d) for d in root.iterdir() if (m := SEED_DIR.match(d.name)) and d.is_dir())
    ready = [(s, d) for s, d in seeds if (d / "checkpoints" / f"rl-{args.arm}").is_dir()]
    if not seeds:
        raise CliError(f"{root} is not a run folder (no checkpoints/, no seed-<s>/ folders)")
    if not ready:
        raise CliError(f"no seed under {root} has checkpoints/rl-{args.arm} yet")
    if args.out is not None and len(ready) > 1:
        raise CliError("--out goes with one run: each seed writes into its own interventions/ folder")
    return [(s, *_run_job(d, args), None) for s, d in ready]


def _run_job(root: Path, args):
    from app.cli import CliError
    from app.intervening import InterventionError, Pair, load_rows, setup_from_run
    try:
        setup = setup_from_run(root)
    except InterventionError as e:
        raise CliError(str(e)) from None
    sft, rl = f"sft-{args.arm}", f"rl-{args.arm}"
    model = _model_dir(root / "checkpoints" / rl, f"--arm {args.arm}:")
    vs = _model_dir(root / "checkpoints" / sft, f"--arm {args.arm}:")
    ref = {"model": load_rows(root / "evals" / f"{rl}.jsonl"), "vs": load_rows(root / "evals" / f"{sft}.jsonl")}
    return Pair(model, vs, rl, sft, ref), setup, args.out or root / "interventions"


def config_from_args(args, setup):
    from app.cli import CliError
    from probe.interventions.config import InterventionConfig
    kw: dict = {"kind": args.kind}
    if args.layers:
        kw["layers"] = _ints(args.layers, "--layers")
    if args.alpha:
        if args.kind != "transplant":
            raise CliError("--alpha scales a transplanted direction: it goes with --kind transplant")
        kw["alphas"] = _floats(args.alpha, "--alpha")
    kw["group"] = args.group or ("zero_shot" if setup.seen_langs is not None else "targets")
    if args.no_controls:
        kw["controls"] = False
    if (setup.probe or {}).get("text"):
        kw["probe_text"] = setup.probe["text"]      # the run's probe set: the same programs it probed
    for opt, key in (("delta_tasks", "delta_tasks"), ("probe_tasks", "probe_tasks"), ("seed", "seed")):
        if getattr(args, opt) is not None:
            kw[key] = getattr(args, opt)
    try:
        return InterventionConfig(**kw)
    except ValueError as e:
        raise CliError(str(e)) from None


def run(args) -> int:
    from app.cli import CliError
    from app.intervening import InterventionError, default_name, run_interventions
    from app.intervention_stats import pool_seeds
    from app.preflight import BadInput, check_runtimes
    from app.runfs import write_json
    from train.config import resolve_device
    if args.n_tasks is not None and args.n_tasks < 0:
        raise CliError(f"--n-tasks must be >= 0 (0: all), got {args.n_tasks}")
    jobs = resolve(args)
    setup = jobs[0][2]
    cfg = config_from_args(args, setup)
    langs = None
    if args.langs:
        langs = tuple(x.strip() for x in args.langs.split(",") if x.strip())
        bad = [x for x in langs if x not in type(setup.eval).LANGUAGES]
        if bad or not langs:
            raise CliError(f"--langs: unknown language(s) {', '.join(bad) or '(none given)'}; known: "
                           f"{', '.join(type(setup.eval).LANGUAGES)}")
    try:
        check_runtimes(langs or setup.eval.langs)
    except BadInput as e:
        raise CliError(str(e)) from None
    device = resolve_device(args.device)
    if device.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise CliError(f"--device {device}: no CUDA device is visible here (pass --device cpu)")
    if cfg.kind == "transplant" and cfg.source_lang not in (langs or setup.eval.langs):
        raise CliError(f"--langs must include the source language {cfg.source_lang}")
    name = args.name or (f"{args.kind}-{args.arm}" if args.run is not None else default_name(cfg, jobs[0][1]))
    pooled_out = args.run / "interventions" / f"{name}.json" if len(jobs) > 1 else None
    for _seed, _pair, _setup, out, _ in jobs:
        if out.exists() and not out.is_dir():
            raise CliError(f"--out {out}: is a file, expected a folder")
        for target in (out / f"{name}.json", pooled_out):
            if target is not None and target.exists() and not args.force:
                raise CliError(f"{target} already exists (pass --force to replace it, or --name)")
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.quiet:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    results = []
    try:
        for seed, pair, job_setup, out, _ in jobs:
            if seed is not None:
                _say(log, f"seed {seed}: {pair.model_name} vs {pair.vs_name}")
            results.append(run_interventions(pair, job_setup, cfg, out, name=name, n_tasks=args.n_tasks, langs=langs,
                                             force=args.force, progress=not args.quiet and sys.stderr.isatty(),
                                             log=log, device=device))
    except InterventionError as e:
        raise CliError(str(e)) from None
    if pooled_out is not None:
        try:
            result = pool_seeds(results, [j[0] for j in jobs], cfg)
        except ValueError as e:       # the seeds were not scored alike
            raise CliError(str(e)) from None
        write_json(pooled_out, result)
    result = results[0] if pooled_out is None else result
    if not args.quiet:
        print(summary(result), file=sys.stderr)
    print(pooled_out or jobs[0][3] / f"{name}.json")
    return 0


def _say(log, msg):
    if log is not None:
        log(msg)


def summary(result: dict) -> str:
    """pass@1 per condition on the family's group, and its difference with the receiver."""
    g = result["family"]["group"]
    lines = [f"{result['kind']}: pass@1 on {g} ({', '.join(result['groups'][g])}); diff vs the unedited receiver "
             f"[95% CI over {result['interval_unit'].replace('+', ' and ')}, {result['tasks']['n']} tasks]"]
    for cond, c in result["conditions"].items():
        s = c["scores"]
        mean = sum(s[la]["pass@1"] for la in result["groups"][g]) / len(result["groups"][g])
        line = f"  {cond:<28} {mean:.3f}"
        cell = c.get(f"vs_{c['receiver']}", {}).get(g) if c.get("edit") else None
        if cell:
            ci = cell.get("ci95")
            line += f"  {cell['diff']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else " (no CI)")
            if "p_holm" in cell:
                line += f"  Holm p={cell['p_holm']:.3g}"
            if cell.get("per_seed"):
                line += "  (seeds: " + " ".join(f"{v:+.3f}" for v in cell["per_seed"]) + ")"
        lines.append(line)
    if "seconds" in result:
        lines.append(json.dumps({"seconds": result["seconds"]}))
    return "\n".join(lines)
