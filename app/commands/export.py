"""`psft export RUN --to parquet|projector|summary [--out DIR]`: the run's probed activations, per
checkpoint, pooling and layer, as Parquet for embedding-atlas, Phoenix and pandas (columns `id`, `row`,
`task_id`, `lang`, `passed`, `n_tokens`, `code`, `x`, `y`, `neighbors`, `vector`) or as TensorBoard
Projector TSV files with a `projector_config.pbtxt` (see app/export.py); `summary`: the run's tables
and slim evaluation rows, to keep a finished seed with a results page and pool it later (app/summary.py)."""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path


def add_parser(sub):
    from app.export import ExportConfig
    p = sub.add_parser("export", help="export a run's probed activations (Parquet, TensorBoard Projector) or its summary",
                       description=__doc__)
    p.add_argument("run", type=Path, help="run folder with probes/ (from psft run or psft probe)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder, new or empty (default RUN/exports/<to>[-control])")
    helps = {f.name: f.metadata["help"] for f in fields(ExportConfig)}
    p.add_argument("--to", default="parquet", help=helps["to"])
    p.add_argument("--ckpt", dest="ckpts", action="append", default=[], help=helps["ckpts"] + "; repeatable")
    p.add_argument("--layer", dest="layers", action="append", default=[], help=helps["layers"] + "; repeatable")
    p.add_argument("--pooling", dest="poolings", action="append", default=[], help=helps["poolings"] + "; repeatable")
    p.add_argument("--norm", default="centered", help=helps["norm"])
    p.add_argument("--method", default="PCA", help=helps["method"])
    p.add_argument("--k", type=int, default=10, help=helps["k"])
    p.add_argument("--seed", type=int, default=0, help=helps["seed"])
    p.add_argument("--control", action="store_true", help=helps["control"])
    return p


def run(args) -> int:
    from app.cli import CliError
    from app.export import ExportConfig, export
    from app.rundata import NotARun, open_run
    cfg = ExportConfig(to=args.to, ckpts=args.ckpts, layers=args.layers, poolings=args.poolings, norm=args.norm,
                       method=args.method, k=args.k, seed=args.seed, control=args.control)
    errors = cfg.check()
    if errors:
        raise CliError("; ".join(errors))
    try:
        r = open_run(args.run)
    except NotARun as e:
        raise CliError(str(e)) from e
    out = args.out or (r.root / "exports" / (cfg.to + ("-control" if cfg.control else "")))
    if cfg.to == "summary":
        from app.summary import summary_copy
        try:
            written = summary_copy(r.root, out)
        except (ValueError, FileExistsError) as e:
            raise CliError(str(e)) from e
        print(f"{len(written)} files under {out}; `psft study` pools it beside other seed-<s>/ folders")
        return 0
    try:
        written = export(r, out, cfg)
    except (ValueError, FileExistsError) as e:
        raise CliError(str(e)) from e
    print(f"{len(written)} files under {out}")
    if cfg.to == "parquet":
        print(f"open one: embedding-atlas {written[0]} --x x --y y --neighbors neighbors --text code")
    else:
        print(f"open: tensorboard --logdir {out}  (or load a tensors.tsv + metadata.tsv pair in the projector page)")
    return 0
