"""A run's probed activations exported to the tools the field already uses (`psft export`).

- `parquet`: one file per checkpoint, pooling and layer, `<out>/<ckpt>/<pooling>/<layer>.parquet`, one row
  per probed program with the columns Apple's embedding-atlas reads (`x`, `y`, `neighbors` as
  `{"ids": [...], "distances": [...]}` referring to the `id` column) and the lab's own (`task_id`,
  `lang`, `passed`, `n_tokens`, `code`, `vector`). Phoenix, pandas and pyarrow read the same files.
- `projector`: TensorBoard Projector's `tensors.tsv` (one vector per line, tab-separated) and
  `metadata.tsv` (a header line, then one line per vector) per checkpoint, pooling and layer, plus a
  `projector_config.pbtxt` at `<out>` naming them all, so `tensorboard --logdir <out>` lists every
  embedding; each pair also loads into the standalone projector page by "Load".

What the rows are: the run's `probes/<ckpt>/rows.jsonl` (the same programs in the same order for every
checkpoint), with `probes/<ckpt>/acts.<pooling>.safetensors`. `passed` is the share of that checkpoint's
evaluation samples of the row's task in the row's language that passed (0 or 1 under greedy decoding;
empty when that checkpoint did not evaluate it). Vectors are normalised as the probes are (`--norm`:
`raw`, `centered` = each language's mean removed, `standardized`); `x`, `y` are their 2-D projection
(`--method`: PCA by default, deterministic; t-SNE, UMAP when installed, seeded); `neighbors` are the k
nearest other rows by cosine of the normalised vectors, closest first, distance = 1 − cosine, ties in
row order.
Not for: metrics (probe/), the explorer's maps (app/explorer/).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .explorer.projection import NORMS, normalise, project, unit_rows
from .rundata import Run, ckpt_sort_key, layer_label, read_jsonl

FORMATS = ("parquet", "projector", "summary")
METHODS = ("PCA", "t-SNE", "UMAP")
META_COLUMNS = ("id", "row", "task_id", "lang", "passed", "n_tokens")


@dataclass
class ExportConfig:
    """What `psft export` writes."""
    to: str = field(default="parquet", metadata={"help": "parquet (embedding-atlas, Phoenix, pandas), projector "
                                                          "(TensorBoard Projector TSV files) or summary (the run's "
                                                          "tables and slim evaluation rows, app/summary.py)"})
    ckpts: list[str] = field(default_factory=list, metadata={"help": "checkpoints to export (default: every probed one)"})
    layers: list[str] = field(default_factory=list, metadata={
        "help": "layer labels to export (embed, 0, 1, ...; default: every captured one)"})
    poolings: list[str] = field(default_factory=list, metadata={"help": "mean and/or last (default: every captured one)"})
    norm: str = field(default="centered", metadata={"help": "raw, centered (per-language mean removed) or standardized"})
    method: str = field(default="PCA", metadata={"help": "2-D projection for x, y: PCA, t-SNE or UMAP (umap-learn)"})
    k: int = field(default=10, metadata={"help": "neighbours per row in the `neighbors` column"})
    seed: int = field(default=0, metadata={"help": "seed of t-SNE and UMAP"})
    control: bool = field(default=False, metadata={"help": "export the lexical control set (probes/control/) "
                                                            "instead of the default probe set"})

    def check(self) -> list[str]:
        errors = []
        if self.to not in FORMATS:
            errors.append(f"--to {self.to!r}: known formats are {', '.join(FORMATS)}")
        if self.norm not in NORMS:
            errors.append(f"--norm {self.norm!r}: known normalisations are {', '.join(NORMS)}")
        if self.method not in METHODS:
            errors.append(f"--method {self.method!r}: known projections are {', '.join(METHODS)}")
        if self.k < 1:
            errors.append(f"--k {self.k}: must be >= 1")
        return errors


@dataclass
class Selection:
    """The (checkpoint, pooling, layer) cells an export covers, each with its row source."""
    cells: list[tuple[str, str, str]]
    source: Run   # where the rows and activations are read (the run, or its lexical control set)


def _probe_run(run: Run, control: bool) -> Run:
    """The run whose probe rows and activations are exported: the run itself, or its lexical control set."""
    if not control:
        return run
    root = run.root / "probes" / "control"
    if not root.is_dir():
        raise ValueError(f"{run.root}: no lexical control set (probes/control/); the probe stage ran without "
                         "[probe].lexical_control")
    return _ControlRun(run.root, root)


class _ControlRun(Run):
    """probes/control/<ckpt>/ read as probes/<ckpt>/ (evaluations from the run itself)."""

    def __init__(self, root: Path, control_root: Path):
        super().__init__(root=root)
        self._control = control_root

    @property
    def probe_ckpts(self) -> list[str]:   # type: ignore[override]
        return sorted((p.name for p in self._control.iterdir() if (p / "rows.jsonl").exists()), key=ckpt_sort_key)

    def act_path(self, ckpt: str, pooling: str) -> Path:
        return self._control / ckpt / f"acts.{pooling}.safetensors"

    def poolings(self, ckpt: str | None = None) -> list[str]:
        ckpt = ckpt or (self.probe_ckpts[0] if self.probe_ckpts else None)
        if ckpt is None:
            return []
        return sorted(p.name.split(".")[1] for p in (self._control / ckpt).glob("acts.*.safetensors"))

    def rows(self, ckpt: str) -> list[dict]:
        return read_jsonl(self._control / ckpt / "rows.jsonl")


def select(run: Run, cfg: ExportConfig) -> Selection:
    """The cells to export; ValueError naming what was asked for and is not in the run."""
    src = _probe_run(run, cfg.control)
    have = src.probe_ckpts
    if not have:
        raise ValueError(f"{run.root}: no probed checkpoints (run `psft probe {run.root}` or the probe stage first)")
    ckpts = cfg.ckpts or have
    missing = [c for c in ckpts if c not in have]
    if missing:
        raise ValueError(f"checkpoint(s) {', '.join(missing)} not probed in {run.root}; probed: {', '.join(have)}")
    cells = []
    for c in ckpts:
        pools = src.poolings(c)
        want_pools = cfg.poolings or pools
        bad = [p for p in want_pools if p not in pools]
        if bad:
            raise ValueError(f"{c}: pooling {', '.join(bad)} not captured; captured: {', '.join(pools)}")
        for p in want_pools:
            layers = src.layers(c, p)
            want_layers = cfg.layers or layers
            bad = [la for la in want_layers if la not in layers]
            if bad:
                raise ValueError(f"{c}/{p}: layer {', '.join(bad)} not captured; captured: {', '.join(layers)}")
            cells += [(c, p, la) for la in want_layers]
    return Selection(cells=cells, source=src)


def pass_shares(run: Run, ckpt: str) -> dict[tuple[str, str], float]:
    """(task_id, lang) -> share of the checkpoint's evaluation samples that passed."""
    counts: dict[tuple[str, str], list[int]] = {}
    for r in run.eval_rows(ckpt):
        c = counts.setdefault((r.get("task_id"), r.get("lang")), [0, 0])
        c[0] += bool(r.get("passed"))
        c[1] += 1
    return {key: ok / n for key, (ok, n) in counts.items()}


def neighbours(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest other rows of each row by cosine ([n, k] ids, [n, k] distances = 1 - cosine), closest
    first, ties in row order. Blocks of rows keep memory at block x n."""
    U = unit_rows(np.asarray(X, dtype=np.float32))
    n = len(U)
    k = min(k, n - 1)
    ids = np.zeros((n, max(k, 0)), dtype=np.int64)
    dist = np.zeros((n, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return ids, dist
    for start in range(0, n, 1024):
        sims = U[start:start + 1024] @ U.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        ids[start:start + len(sims)] = order
        dist[start:start + len(sims)] = 1.0 - np.take_along_axis(sims, order, axis=1)
    return ids, dist


def table(src: Run, ckpt: str, pooling: str, layer: str, cfg: ExportConfig,
          shares: dict[tuple[str, str], float] | None = None) -> dict[str, list]:
    """The columns of one cell: metadata, normalised vector, x, y and neighbours."""
    rows = src.rows(ckpt)
    X = src.acts(ckpt, pooling, layer)
    if len(rows) != len(X):
        raise ValueError(f"{ckpt}/{pooling}/{layer}: {len(rows)} rows but {len(X)} vectors")
    langs = np.array([r["lang"] for r in rows])
    Xn = normalise(X, langs, cfg.norm)
    xy = project(Xn, cfg.method, seed=cfg.seed)
    ids, dist = neighbours(Xn, cfg.k)
    shares = pass_shares(src, ckpt) if shares is None else shares
    passed = [shares.get((r["task_id"], r["lang"])) for r in rows]
    return {
        "id": list(range(len(rows))),
        "row": [int(r.get("row", i)) for i, r in enumerate(rows)],
        "task_id": [str(r["task_id"]) for r in rows],
        "lang": langs.tolist(),
        "passed": [None if p is None or (isinstance(p, float) and math.isnan(p)) else float(p) for p in passed],
        "n_tokens": [int(r["n_tokens"]) if r.get("n_tokens") is not None else None for r in rows],
        "code": [r.get("code") for r in rows],
        "x": xy[:, 0].astype(np.float32).tolist(),
        "y": xy[:, 1].astype(np.float32).tolist(),
        "neighbors": [{"ids": a.tolist(), "distances": b.astype(float).tolist()} for a, b in zip(ids, dist)],
        "vector": Xn.astype(np.float32),
    }


def _write_parquet(cols: dict, path: Path, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    vec = cols["vector"]
    arrays = {k: v for k, v in cols.items() if k != "vector"}
    schema_fields = [
        pa.field("id", pa.int64()), pa.field("row", pa.int64()), pa.field("task_id", pa.string()),
        pa.field("lang", pa.string()), pa.field("passed", pa.float64()), pa.field("n_tokens", pa.int64()),
        pa.field("code", pa.string()), pa.field("x", pa.float32()), pa.field("y", pa.float32()),
        pa.field("neighbors", pa.struct([pa.field("ids", pa.list_(pa.int64())),
                                         pa.field("distances", pa.list_(pa.float64()))])),
        pa.field("vector", pa.list_(pa.float32(), vec.shape[1])),
    ]
    data = [pa.array(arrays[f.name], type=f.type) for f in schema_fields[:-1]]
    data.append(pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1), type=pa.float32()), vec.shape[1]))
    schema = pa.schema(schema_fields, metadata={b"psft": json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(data, schema=schema), path)


def _tsv_cell(value) -> str:
    """A metadata cell: TSV has no quoting, so tabs and newlines become spaces."""
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _write_projector(cols: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savetxt(folder / "tensors.tsv", cols["vector"], delimiter="\t", fmt="%.6g")
    columns = ("task_id", "lang", "passed", "n_tokens", "row")
    lines = ["\t".join(columns)]
    lines += ["\t".join(_tsv_cell(cols[c][i]) for c in columns) for i in range(len(cols["id"]))]
    (folder / "metadata.tsv").write_text("\n".join(lines) + "\n")


def _pbtxt(entries: list[tuple[str, str, str]]) -> str:
    out = []
    for name, tensor, meta in entries:
        out.append("embeddings {\n"
                   f"  tensor_name: {json.dumps(name)}\n"
                   f"  tensor_path: {json.dumps(tensor)}\n"
                   f"  metadata_path: {json.dumps(meta)}\n"
                   "}\n")
    return "".join(out)


def export(run: Run, out: Path, cfg: ExportConfig, log=print) -> list[Path]:
    """Write the export under `out` (which must not hold a previous export: nothing is overwritten) and
    return the files written."""
    errors = cfg.check()
    if errors:
        raise ValueError("; ".join(errors))
    sel = select(run, cfg)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose another --out (nothing overwritten)")
    written: list[Path] = []
    entries: list[tuple[str, str, str]] = []
    shares_of: dict[str, dict] = {}
    for ckpt, pooling, layer in sel.cells:
        shares = shares_of.setdefault(ckpt, pass_shares(run, ckpt))
        cols = table(sel.source, ckpt, pooling, layer, cfg, shares)
        label = layer_label(layer)
        meta = {"run": str(run.root), "ckpt": ckpt, "pooling": pooling, "layer": label, "norm": cfg.norm,
                "method": cfg.method, "k": cfg.k, "set": "control" if cfg.control else "default"}
        if cfg.to == "parquet":
            path = out / ckpt / pooling / f"{label}.parquet"
            _write_parquet(cols, path, meta)
            written.append(path)
        else:
            folder = out / ckpt / pooling / label
            _write_projector(cols, folder)
            rel = folder.relative_to(out)
            entries.append((f"{ckpt} {pooling} layer {label} ({cfg.norm})",
                            str(rel / "tensors.tsv"), str(rel / "metadata.tsv")))
            written += [folder / "tensors.tsv", folder / "metadata.tsv"]
        log(f"  {ckpt} {pooling} {label}: {len(cols['id'])} rows")
    if cfg.to == "projector":
        (out / "projector_config.pbtxt").write_text(_pbtxt(entries))
        written.append(out / "projector_config.pbtxt")
    return written
