"""`psft probe`: where do equivalent programs sit inside the model? Captures the residual stream of
every checkpoint of a run on a parallel program set (the world's tasks in every language, code only by
default) and measures cross-language retrieval, parallel-pair cosine, clustering, probes and CKA per
layer, with bootstrap CIs, permutation tests between checkpoints and alignment vs transfer.

Writes RUN/probes/<ckpt>/ (rows.jsonl, acts.<pooling>.safetensors) and RUN/probes/metrics.json.
With --model DIR --data MBXP_PATH it probes any HF model folder on MBXP's parallel set instead (RUN is
then the output folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _list(s: str | None) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()] if s else []


def add_parser(sub):
    p = sub.add_parser("probe", help="activations and cross-language alignment metrics of a run's checkpoints",
                       description=__doc__)
    p.add_argument("run", type=Path, help="run folder (with --model: the output folder)")
    p.add_argument("--ckpt", action="append", default=None,
                   help="checkpoint(s) to probe, repeatable or comma-separated (default: all)")
    p.add_argument("--layers", default=None,
                   help="hooks: 'all' (default) or a list of 'embed', block indices (negative from the end), "
                        "hook names, e.g. embed,0,-1")
    p.add_argument("--pooling", default=None, help="poolings: mean, last or both (default: the run's recipe, else "
                                                   "mean,last)")
    p.add_argument("--norms", default=None, help="normalisations (default: the run's recipe, else "
                                                 "raw,centered,standardized)")
    p.add_argument("--n-tasks", type=int, default=None,
                   help="tasks in the probe set: a run's evaluated tasks, the first N (default: the run's recipe; "
                        "0: all)")
    p.add_argument("--langs", default=None, help="languages (default: all six world languages; MBXP: "
                                                 "python,javascript,ruby,php)")
    p.add_argument("--split", default=None, help="world split of the probe set when the run has evaluated "
                                                 "nothing yet (default: the run's recipe, else test)")
    p.add_argument("--text", default=None, choices=("code", "body", "description"),
                   help="pool over code only, the body alone (no function name), or the full text with its "
                        "description (a control); default: the run's recipe, else code")
    p.add_argument("--batch-size", type=int, default=None, help="programs per trace (default 16)")
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=None, help="seed of bootstraps, permutations, k-means (default 0)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", default=None, help="torch device (default cpu)")
    p.add_argument("--model", type=Path, default=None, help="probe this HF model folder (needs --data)")
    p.add_argument("--name", default=None, help="name of --model's outputs (default: the folder's name)")
    p.add_argument("--data", default=None, help="MBXP data (file, folder or hub id) for --model")
    p.add_argument("--no-check", action="store_true",
                   help="with --data: do not run the references to keep only passing ones")
    p.add_argument("--bench-report", type=Path, default=None,
                   help="with --data: reuse a `psft check-bench --json` report instead of running the references")
    p.add_argument("--lexical-control", action=argparse.BooleanOptionalAction, default=None,
                   help="world runs: also probe the same tasks with per-language identifiers (metrics.json's "
                        "\"control\"; default on; about doubles the time); not with --model")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    return p


def recipe_probe(run: Path) -> dict:
    """The probe settings the run's own probe stage used: its recipe's [probe] table (config.json), or,
    without one, what the pipeline then uses (at most as many tasks as the evaluation, the lexical control
    on), so that `psft probe RUN` with no options measures what the report shows."""
    from app.runfs import read_json
    from probe.config import ProbeConfig
    cfg = read_json(Path(run) / "config.json")
    if not isinstance(cfg, dict):
        return {}
    section = cfg.get("probe")
    if isinstance(section, dict) and section:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    n_eval = (cfg.get("eval") or {}).get("n_tasks") if isinstance(cfg.get("eval"), dict) else None
    out: dict = {"lexical_control": True}
    if isinstance(n_eval, int) and 0 < n_eval < ProbeConfig().n_tasks:
        out["n_tasks"] = n_eval
    return out


def config_from_args(args):
    from probe.config import ProbeConfig
    kw: dict = recipe_probe(args.run) if args.model is None else {}
    for opt, key in (("split", "split"), ("text", "text")):
        if getattr(args, opt) is not None:
            kw[key] = getattr(args, opt)
    if args.pooling:
        kw["poolings"] = tuple(_list(args.pooling))
        if kw.get("alignment_pooling") not in kw["poolings"]:
            kw.pop("alignment_pooling", None)
    ckpts = [c for item in (args.ckpt or []) for c in _list(item)]
    if ckpts:
        kw["ckpts"] = tuple(ckpts)
    if args.layers and args.layers.strip() != "all":
        kw["layers"] = tuple(_list(args.layers))
    if args.norms:
        kw["norms"] = tuple(_list(args.norms))
    if args.langs:
        kw["langs"] = tuple(_list(args.langs))
    for opt, key in (("n_tasks", "n_tasks"), ("batch_size", "batch_size"), ("n_boot", "n_boot"), ("seed", "seed"),
                     ("threads", "threads"), ("device", "device")):
        if getattr(args, opt) is not None:
            kw[key] = getattr(args, opt)
    if args.lexical_control is not None:
        kw["lexical_control"] = args.lexical_control
    elif args.model is not None:
        kw["lexical_control"] = False
    if args.model is not None and not args.langs:
        from app.probing import MBXP_LANGS
        kw["langs"] = MBXP_LANGS
    if "alignment_pooling" not in kw and kw.get("poolings") and "mean" not in kw["poolings"]:
        kw["alignment_pooling"] = kw["poolings"][0]
    if "norms" in kw and kw["norms"] and "centered" not in kw["norms"]:
        kw["alignment_norm"] = kw["norms"][0]
    return ProbeConfig(**kw)


def run(args) -> int:
    from app.cli import CliError
    from app.probing import ProbeError, mbxp_rows, probe_model, probe_run
    from app.runfs import read_json

    evaluated = read_json(args.run / "config.json") if args.model is None and not args.data else None
    if isinstance(evaluated, dict) and evaluated.get("kind") == "eval" and evaluated.get("bench") not in ("mbxp",
                                                                                                        "world"):
        raise CliError(f"{args.run} evaluated {evaluated.get('bench')}; probes read the world or MBXP: "
                       "probe its model with --model FOLDER --data MBXP_DATA")
    if isinstance(evaluated, dict) and evaluated.get("kind") == "eval" and evaluated.get("bench") == "mbxp":
        # A `psft eval` folder on MBXP: probe its model on the MBXP data it was evaluated on.
        args.model, args.name, args.data = args.run / "checkpoints" / evaluated["name"], evaluated["name"], evaluated["data"]
        if not args.model.is_dir():
            raise CliError(f"{args.run}: the evaluated model is not a local folder ({evaluated['model']}): probe it "
                           "with --model FOLDER --data DATA")
    if args.model is None and (args.data or args.name or args.no_check or args.bench_report):
        raise CliError("--data, --name, --no-check and --bench-report go with --model")
    if args.model is not None and not args.data:
        raise CliError("--model needs --data (an MBXP file or folder) for its parallel program set")
    if args.model is not None and args.ckpt:
        raise CliError("--ckpt picks a run's checkpoints; with --model there is one model")
    if args.model is not None and args.lexical_control:
        raise CliError("--lexical-control renames the world's identifiers; a benchmark has none to rename")
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        raise CliError(str(e)) from None
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.quiet:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()       # "Loading weights" bars
        hf_logging.set_verbosity_error()
    progress = not args.quiet and sys.stderr.isatty()
    try:
        if args.model is None:
            probe_run(args.run, cfg, progress=progress, log=log)
            metrics = read_json(args.run / "probes" / "metrics.json")
        else:
            rows, meta = mbxp_rows(args.data, cfg.langs, cfg.n_tasks, cfg.text, check=not args.no_check,
                                   report=args.bench_report, progress=progress)
            name = args.name or args.model.resolve().name
            metrics = probe_model(args.run, args.model, name, rows, cfg, meta, progress=progress, log=log)
    except ProbeError as e:
        raise CliError(str(e)) from None
    if not args.quiet:
        print(summary(metrics), file=sys.stderr)
    print(args.run / "probes" / "metrics.json")
    return 0


def summary(metrics: dict) -> str:
    """Top-1 retrieval (mean over language pairs) per checkpoint and layer, mean pooling, raw and centred."""
    meta = metrics["meta"]
    pooling = "mean" if "mean" in meta["poolings"] else meta["poolings"][0]
    lines = [f"top-1 retrieval, mean over language pairs ({pooling} pooling; chance "
             f"{meta['retrieval_chance_top1']:.3f}); layers: {', '.join(meta['layers'])}"]
    for label, block in (("", metrics), (" control", metrics.get("control"))):
        if not block:
            continue
        if label:
            lines.append("lexical control set (per-language identifiers):")
        for ckpt, by_pool in block["checkpoints"].items():
            for norm in ("raw", "centered"):
                if norm not in by_pool[pooling]:
                    continue
                vals = [by_pool[pooling][norm][h]["retrieval_mean"]["top1"]["value"] for h in meta["layers"]]
                lines.append(f"  {ckpt:<14} {norm:<9} " + " ".join("  -  " if v is None else f"{v:.3f}" for v in vals))
        bag = (block.get("baselines") or {}).get("bag_of_tokens") or {}
        for norm in ("raw", "centered"):
            if norm in bag:
                lines.append(f"  {'bag of tokens':<14} {norm:<9} {bag[norm]['retrieval_mean']['top1']['value']:.3f}")
    return "\n".join(lines)
