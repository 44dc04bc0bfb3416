"""What the explorer loads, loaded once per server: the run, its programs, activations per layer, the
evaluations' verdicts, and 2-D maps aligned onto a reference map. Everything large lives in
`st.cache_resource` (shared, not copied per call as `st.cache_data` would) with bounded entries; arrays are returned
read-only. Every loader takes the run's `stamp` (modification times of its result files) so that a
run updated by a resumed pipeline is read again. Not for: drawing (`map_view.py`, `panels.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from ..rundata import Run, open_run
from .projection import normalise, procrustes, project, sample_rows, unit_rows

# t-SNE and UMAP on more points than this keep a user waiting (1,500 points: 14 s on 2 shared cores,
# measured here): they map a sample of
# whole tasks (PCA maps every point).
SLOW_METHOD_POINTS = 1500


def stamp(root: str) -> tuple:
    """Modification times of the files a view depends on."""
    r = Path(root)
    out = []
    for p in (r / "scores.json", r / "transfer.json", r / "probes" / "metrics.json", r / "probes"):
        try:
            out.append(p.stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@st.cache_resource(max_entries=8, show_spinner=False)
def run_at(root: str, version: tuple) -> Run:
    return open_run(root)


def get_run(root: str) -> Run:
    return run_at(root, stamp(root))


@dataclass(frozen=True)
class Programs:
    """The probed programs of one checkpoint, in rows.jsonl order (the same for every checkpoint)."""
    task_ids: np.ndarray
    langs: np.ndarray
    n_tokens: np.ndarray
    code: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.task_ids)


@st.cache_resource(max_entries=16, show_spinner=False)
def programs(root: str, ckpt: str, version: tuple) -> Programs:
    rows = open_run(root).rows(ckpt)
    return Programs(task_ids=_frozen(np.array([r["task_id"] for r in rows])),
                    langs=_frozen(np.array([r["lang"] for r in rows])),
                    n_tokens=_frozen(np.array([r.get("n_tokens") or 0 for r in rows])),
                    code=tuple(r.get("code") or "" for r in rows))


@st.cache_resource(max_entries=24, show_spinner=False)
def vectors(root: str, ckpt: str, pooling: str, layer: str, norm: str, version: tuple) -> np.ndarray:
    """One layer's activations, normalised, [n_rows, d] float32."""
    X = open_run(root).acts(ckpt, pooling, layer)
    return _frozen(normalise(X, programs(root, ckpt, version).langs, norm))


@st.cache_resource(max_entries=24, show_spinner=False)
def unit_vectors(root: str, ckpt: str, pooling: str, layer: str, norm: str, version: tuple) -> np.ndarray:
    return _frozen(unit_rows(vectors(root, ckpt, pooling, layer, norm, version)))


@st.cache_resource(max_entries=48, show_spinner=False)
def raw_map(root: str, ckpt: str, pooling: str, layer: str, norm: str, method: str, version: tuple):
    """(row indices, [n, 2] coordinates) before alignment."""
    progs = programs(root, ckpt, version)
    idx = np.arange(len(progs)) if method == "PCA" else sample_rows(progs.task_ids, SLOW_METHOD_POINTS)
    X = vectors(root, ckpt, pooling, layer, norm, version)
    return _frozen(idx), _frozen(project(X[idx], method))


def aligned_map(root: str, ckpt: str, pooling: str, layer: str, norm: str, method: str,
                anchor: tuple[str, str]):
    """The map of (ckpt, layer), rotated/reflected/scaled onto the map of `anchor` = (ckpt, layer) by
    Procrustes over the rows both show, so that switching checkpoint or layer keeps points in place."""
    return _aligned(root, ckpt, pooling, layer, norm, method, anchor, stamp(root))


@st.cache_resource(max_entries=48, show_spinner=False)
def _aligned(root, ckpt, pooling, layer, norm, method, anchor, version):
    idx, xy = raw_map(root, ckpt, pooling, layer, norm, method, version)
    if (ckpt, layer) == tuple(anchor):
        return idx, xy
    ref_idx, ref_xy = raw_map(root, anchor[0], pooling, anchor[1], norm, method, version)
    if len(ref_idx) != len(idx) or not np.array_equal(ref_idx, idx):
        return idx, xy
    return idx, _frozen(procrustes(xy, ref_xy))


@st.cache_resource(max_entries=16, show_spinner=False)
def verdicts(root: str, ckpt: str, version: tuple) -> dict[tuple[str, str], dict]:
    """(task_id, lang) -> {"passed": share of samples that passed, "status": first sample's status,
    "completion": first sample's completion} from evals/<ckpt>.jsonl."""
    out: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for r in open_run(root).eval_rows(ckpt):
        key = (r.get("task_id"), r.get("lang"))
        c = counts.setdefault(key, [0, 0])
        c[0] += bool(r.get("passed"))
        c[1] += 1
        out.setdefault(key, {"status": r.get("status"), "completion": r.get("completion")})
    for key, (ok, n) in counts.items():
        out[key]["passed"] = ok / n
    return out


@st.cache_resource(max_entries=16, show_spinner=False)
def pass_column(root: str, ckpt: str, version: tuple) -> np.ndarray:
    """Per program row: 1.0 passed, 0.0 failed, NaN not evaluated (this checkpoint, that task and language)."""
    progs = programs(root, ckpt, version)
    v = verdicts(root, ckpt, version)
    out = np.array([(v.get((t, lang)) or {}).get("passed", np.nan) for t, lang in zip(progs.task_ids, progs.langs)],
                   dtype=np.float32)
    return _frozen(out)
