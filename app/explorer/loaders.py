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


@st.cache_resource(max_entries=64, show_spinner=False)
def poolings(root: str, ckpt: str, version: tuple) -> tuple[str, ...]:
    """A checkpoint's poolings (a glob of its probe folder), read once per version of the run: every
    script run asks, and on shared cores each file-system call of a script run is slow (it waits for
    Python's lock while the server sends files)."""
    return tuple(run_at(root, version).poolings(ckpt))


@st.cache_resource(max_entries=64, show_spinner=False)
def layers(root: str, ckpt: str, pooling: str | None, version: tuple) -> tuple[str, ...]:
    """A checkpoint's layer labels (the header of its activation file), read once per version of the run."""
    return tuple(run_at(root, version).layers(ckpt, pooling))


@st.cache_resource(ttl=20, show_spinner=False)
def run_folders() -> tuple[str, ...]:
    """The runs under artifacts/runs, newest first; listed again at most every 20 s."""
    from ..rundata import find_runs
    return tuple(str(p) for p in find_runs())


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
    "completion": first sample's completion, "prompt": its prompt} from evals/<ckpt>.jsonl."""
    out: dict[tuple[str, str], dict] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for r in open_run(root).eval_rows(ckpt):
        key = (r.get("task_id"), r.get("lang"))
        c = counts.setdefault(key, [0, 0])
        c[0] += bool(r.get("passed"))
        c[1] += 1
        out.setdefault(key, {"status": r.get("status"), "completion": r.get("completion"), "prompt": r.get("prompt")})
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


# ---- what RL did to each program ----------------------------------------------------------------

TRANSITIONS = ("fixed", "broken", "both pass", "both fail", "not evaluated")
TRANSITION_COLOURS = {"fixed": "#2ca02c", "broken": "#d62728", "both pass": "#1f77b4", "both fail": "#ff9f40",
                      "not evaluated": "#c7c7c7"}


def rl_arms(run: Run) -> dict[str, tuple[str, str]]:
    """{arm: (sft checkpoint, rl checkpoint)} of the run's evaluated RL arms (an oracle starts from
    sft-parallel), in the transfer table's order when it has one."""
    have = set(run.scores) or set(run.ckpts)
    out = {}
    names = [a for a in (run.transfer or {}) if not a.startswith("_")] or \
        [c.removeprefix("rl-") for c in run.ckpts if c.startswith("rl-")] + [c for c in run.ckpts if c.startswith("oracle-")]
    for arm in names:
        pair = ("sft-parallel", arm) if arm.startswith("oracle-") else (f"sft-{arm}", f"rl-{arm}")
        if pair[0] in have and pair[1] in have:
            out[arm] = pair
    return out


def arm_of(ckpt: str | None) -> str | None:
    """"sft-parallel" / "rl-parallel" -> "parallel"; "oracle-lua" -> "oracle-lua"; others None."""
    if not ckpt:
        return None
    if ckpt.startswith(("sft-", "rl-")):
        return ckpt.split("-", 1)[1]
    return ckpt if ckpt.startswith("oracle-") else None


@st.cache_resource(max_entries=32, show_spinner=False)
def transition_column(root: str, ckpt: str, arm: str, lang: str | None, version: tuple) -> np.ndarray:
    """Per program row: what RL did in `arm` to its task in `lang` (None: the program's own language),
    one of TRANSITIONS, from the SFT and RL checkpoints' verdicts (a task passes when at least half its
    samples pass)."""
    run = get_run(root)
    sft, rl = rl_arms(run)[arm]
    progs = programs(root, ckpt, version)
    vs, vr = verdicts(root, sft, version), verdicts(root, rl, version)
    out = []
    for t, own in zip(progs.task_ids.tolist(), progs.langs.tolist()):
        key = (t, lang or own)
        a, b = vs.get(key), vr.get(key)
        if a is None or b is None:
            out.append("not evaluated")
            continue
        pa, pb = a["passed"] >= 0.5, b["passed"] >= 0.5
        out.append("fixed" if pb and not pa else "broken" if pa and not pb else "both pass" if pa else "both fail")
    return _frozen(np.array(out))


@st.cache_resource(max_entries=32, show_spinner=False)
def pass_share(root: str, ckpt: str, rows_of: str, lang: str | None, version: tuple) -> np.ndarray:
    """Per program row of `rows_of`'s probe set: the share of `ckpt`'s samples that passed on its task in
    `lang` (None: its own language); NaN when not evaluated."""
    progs = programs(root, rows_of, version)
    v = verdicts(root, ckpt, version)
    return _frozen(np.array([(v.get((t, lang or own)) or {}).get("passed", np.nan)
                             for t, own in zip(progs.task_ids.tolist(), progs.langs.tolist())], dtype=np.float32))


@st.cache_resource(max_entries=24, show_spinner=False)
def alignment_column(root: str, ckpt: str, pooling: str, layer: str, norm: str, source: str, version: tuple) -> np.ndarray:
    """Per program row: the cosine to its translation in `source` (for a `source` program: the mean cosine
    to its translations), at this checkpoint, layer and normalisation; NaN when the task has none."""
    progs = programs(root, ckpt, version)
    U = unit_vectors(root, ckpt, pooling, layer, norm, version)
    tasks, langs = progs.task_ids, progs.langs
    out = np.full(len(tasks), np.nan, dtype=np.float32)
    src = {t: i for i, (t, lg) in enumerate(zip(tasks.tolist(), langs.tolist())) if lg == source}
    members: dict[str, list[int]] = {}
    for i, t in enumerate(tasks.tolist()):
        members.setdefault(t, []).append(i)
    for t, rows in members.items():
        j = src.get(t)
        if j is None:
            continue
        sims = U[rows] @ U[j]
        for i, s in zip(rows, sims):
            if i != j:
                out[i] = s
        others = [s for i, s in zip(rows, sims) if i != j]
        if others:
            out[j] = float(np.mean(others))
    return _frozen(out)


@st.cache_resource(max_entries=4, show_spinner=False)
def world_tasks(root: str, version: tuple) -> dict:
    """{task_id: Task} of a world run (to show a program's description and signature); {} for a benchmark
    run or a config without a world table."""
    cfg = get_run(root).config or {}
    w = cfg.get("world")
    if not isinstance(w, dict) or "n_tasks" not in w:
        return {}
    try:
        from evals.world import World, WorldConfig
        world = World(WorldConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in w.items()}))
        return {t.id: t for t in world.tasks}
    except (TypeError, ValueError):
        return {}


# ---- interventions (`psft intervene`) -------------------------------------------------------------

def intervention_stamp(root: str, name: str) -> tuple:
    """Modification times of interventions/<name>.json and its rows."""
    d = Path(root) / "interventions"
    out = []
    for p in (d / f"{name}.json", d / f"{name}.rows.jsonl"):
        try:
            out.append(p.stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


@st.cache_resource(max_entries=16, show_spinner=False)
def intervention(root: str, name: str, version: tuple) -> dict:
    """interventions/<name>.json ({} when absent or not one); one file, not every intervention of the run."""
    return open_run(root).intervention(name)


@st.cache_resource(max_entries=4, show_spinner=False)
def intervention_rows(root: str, name: str, version: tuple) -> dict[tuple[str, str, str], dict]:
    """(condition, task_id, lang) -> row of interventions/<name>.rows.jsonl; read only when a page asks for
    a completion."""
    from ..intervention_results import index_rows
    return index_rows(open_run(root).intervention_rows(name))
