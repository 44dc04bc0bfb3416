"""Two runs compared (`psft report A --vs B`): differences B − A of pass@1 and of RL gains, each with a 95%
interval paired over the tasks both runs evaluated (a paired bootstrap of per-task differences, the
tasks resampled together), and differences of the alignment curves per layer.

Why paired: two runs of one recipe (seeds) or two recipes on one world evaluate the same tasks, and a
task's difficulty is shared by both sides; resampling tasks together removes it from the interval. Runs
whose evaluated tasks do not overlap get no interval ("–"), never an unpaired one presented as paired.
A curve difference has no per-task values to pair (metrics.json keeps intervals, not per-task values):
its interval combines the two runs' own 95% intervals as independent normal ones (half-widths added in
quadrature), and says so. One run's intervals resample its tasks only, not training seeds.
Not for: pooling seeds (`app.study`, `train.transfer`).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .charts import metric_ci_at
from .rundata import Run
from .tables import GROUPS, arms

N_BOOT = 2000


def per_task(run: Run, ckpt: str) -> dict[tuple[str, str], float]:
    """{(task_id, lang): share of that checkpoint's samples that passed} from evals/<ckpt>.jsonl."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in run.eval_rows(ckpt):
        s = sums[(r.get("task_id"), r.get("lang"))]
        s[0] += float(bool(r.get("passed")))
        s[1] += 1
    return {k: v[0] / v[1] for k, v in sums.items()}


def paired(diffs: dict[str, float], n_boot: int = N_BOOT, seed: int = 0) -> dict | None:
    """{"diff", "ci95", "n"} of the mean of per-task differences, bootstrap over tasks; None when empty."""
    if not diffs:
        return None
    d = np.array(list(diffs.values()), dtype=float)
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return {"diff": float(d.mean()), "ci95": [float(lo), float(hi)], "n": int(len(d))}


def _by_task(values: dict[tuple[str, str], float], langs: list[str]) -> dict[str, float]:
    """Per task, the mean over `langs` (only tasks evaluated in every one of them)."""
    out = {}
    for t in {t for t, _ in values}:
        vals = [values.get((t, lg)) for lg in langs]
        if vals and all(v is not None for v in vals):
            out[t] = float(np.mean(vals))
    return out


def _group_langs(run: Run, arm: str, group: str, langs: list[str]) -> list[str]:
    info = (run.transfer or {}).get("_languages") or {}
    own = (info.get("rl_lang") or {}).get(arm, info.get("source", "python"))
    targets = [lg for lg in langs if lg != own]
    if group == "targets":
        return targets
    listed = info.get(group)
    return [lg for lg in targets if lg in listed] if isinstance(listed, list) else []


def pass_differences(a: Run, b: Run, langs: list[str]) -> dict[str, dict[str, dict | None]]:
    """{ckpt: {lang: {"diff", "ci95", "n"} | None}}: pass@1(B) − pass@1(A), paired over common tasks."""
    out = {}
    for c in [c for c in a.scores if c in b.scores]:
        pa, pb = per_task(a, c), per_task(b, c)
        out[c] = {lg: paired({t: pb[(t, lg)] - pa[(t, lg)] for t, l2 in pa if l2 == lg and (t, lg) in pb})
                  for lg in langs}
    return out


def gain_differences(a: Run, b: Run, langs: list[str]) -> dict[str, dict[str, dict | None]]:
    """{arm: {lang or group: {"diff", "ci95", "n"} | None}}: RL gain in B − RL gain in A, per task
    (gain = rl − sft on the same task and language), paired over the tasks both runs evaluated; a group
    (targets, seen, zero-shot) averages each task's gain over its languages first."""
    out = {}
    for arm in [x for x in arms(a.transfer or {}) if x in (b.transfer or {})]:
        rl = arm if arm.startswith("oracle-") else f"rl-{arm}"
        sft = "sft-parallel" if arm.startswith("oracle-") else f"sft-{arm}"
        gains = []
        for run in (a, b):
            s, r = per_task(run, sft), per_task(run, rl)
            gains.append({k: r[k] - s[k] for k in r if k in s})
        cells = {}
        for lg in langs:
            cells[lg] = paired({t: gains[1][(t, lg)] - gains[0][(t, lg)] for t, l2 in gains[0]
                                if l2 == lg and (t, lg) in gains[1]})
        for g in GROUPS:
            gl = _group_langs(a, arm, g, langs)
            if not gl:
                continue
            ga, gb = _by_task(gains[0], gl), _by_task(gains[1], gl)
            cells[g] = paired({t: gb[t] - ga[t] for t in ga if t in gb})
        out[arm] = cells
    return out


def curve_difference(a: Run, b: Run, ckpt: str, curve: str, pooling: str, norm: str) -> dict[str, tuple]:
    """{layer: (B − A, low, high)} of one checkpoint's curve; the interval from the runs' own intervals as
    independent normal ones (None where either run has none)."""
    pa, pb = a.layer_metrics(ckpt, pooling, norm), b.layer_metrics(ckpt, pooling, norm)
    out = {}
    for layer in [x for x in pa if x in pb]:
        va, la, ha = metric_ci_at(pa[layer], curve)
        vb, lb, hb = metric_ci_at(pb[layer], curve)
        if va is None or vb is None:
            continue
        d = vb - va
        if None in (la, ha, lb, hb):
            out[layer] = (d, None, None)
            continue
        half = float(np.hypot((ha - la) / 2, (hb - lb) / 2))
        out[layer] = (d, d - half, d + half)
    return out
