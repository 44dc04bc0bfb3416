"""How sure can we be? Bootstrap CIs over tasks, paired permutation tests between checkpoints, and
the link between alignment and transfer (Spearman per language with an exact p-value at few languages,
a rank test per (task, language) unit that resamples tasks).

Conventions: tasks are the units (a task's programs in every language move together); CIs are 95%
percentile bootstrap intervals, and there are none over fewer than MIN_BOOT_UNITS tasks (a handful of
units has too few distinct resamples: the interval collapses or misses); p-values are two-sided; effect sizes are reported with every p-value.
Per-row quantities (a retrieval hit, a silhouette value, a cluster id) are computed once on the whole
probe set and the bootstrap resamples tasks over them: the CI covers which tasks were drawn, holding
the reference set (candidates, clusters, folds) fixed. Undefined values are None (JSON null).
Not for: computing the per-task quantities (`retrieval.py`, `clustering.py`, ...).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

ALPHA = 0.05
MIN_BOOT_UNITS = 10     # fewer units than this get no bootstrap CI (the resamples are too few and degenerate)
EXACT_MAX_N = 10        # Spearman's p-value is exact (every pairing enumerated) up to this many pairs


def _num(x) -> float | None:
    """A JSON-safe float: None for None/NaN/inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def with_ci(value, lo=None, hi=None) -> dict:
    v, lo, hi = _num(value), _num(lo), _num(hi)
    return {"value": v, "ci95": [lo, hi] if v is not None and lo is not None and hi is not None else None}


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(samples, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return float(lo), float(hi)


@lru_cache(maxsize=8)
def _draws(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap draws of n units, shared by every metric with the same n and seed (so CIs of related
    metrics come from the same task samples). Read-only."""
    d = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    d.flags.writeable = False
    return d


def bootstrap_mean(values: Sequence[float] | None, n_boot: int = 1000, seed: int = 0) -> dict:
    """{"value": mean, "ci95": [lo, hi]} of per-task values (None when there are none; no CI below
    MIN_BOOT_UNITS of them)."""
    if values is None:
        return with_ci(None)
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return with_ci(None)
    if len(v) < MIN_BOOT_UNITS or n_boot < 1:
        return with_ci(v.mean())
    means = v[_draws(len(v), n_boot, seed)].mean(1)
    return with_ci(v.mean(), *_percentiles(means))


def bootstrap_means(V: np.ndarray, n_boot: int = 1000, seed: int = 0) -> list[dict]:
    """`bootstrap_mean` of each row of V [m, n_tasks] at once, from the same task draws."""
    V = np.atleast_2d(np.asarray(V, dtype=np.float64))
    m, n = V.shape
    if n < MIN_BOOT_UNITS or n_boot < 1:
        return [bootstrap_mean(v, n_boot, seed) for v in V]
    counts = np.stack([np.bincount(d, minlength=n) for d in _draws(n, n_boot, seed)]).astype(np.float64)
    means = V @ counts.T / n                                   # [m, n_boot]
    lo, hi = np.percentile(means, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)], axis=1)
    return [with_ci(v.mean(), a, b) for v, a, b in zip(V, lo, hi)]


def task_means(row_values: np.ndarray, row_task: np.ndarray, n_tasks: int) -> np.ndarray:
    """Mean of per-row values per task (row_task[i] in 0..n_tasks-1)."""
    s = np.bincount(row_task, weights=row_values, minlength=n_tasks)
    c = np.bincount(row_task, minlength=n_tasks)
    return s / np.maximum(c, 1)


# ---- NMI with a bootstrap over tasks -------------------------------------------------------------

def nmi_resampled(labels: np.ndarray, clusters: np.ndarray, row_task: np.ndarray, W: np.ndarray) -> np.ndarray:
    """NMI (arithmetic normalisation, scikit-learn's default) of `clusters` against `labels` on the
    rows of a task sample, for each row of W [draws, n_tasks] (how often each task was drawn).

    Equal to `normalized_mutual_info_score` on the drawn rows (tested). Hand-written so that a thousand
    draws cost one sparse product: the contingency table of a draw is the tasks' own tables weighted by
    W, and only its non-empty cells (at most one per row) are ever formed."""
    from scipy import sparse
    _, lab = np.unique(labels, return_inverse=True)
    _, clu = np.unique(clusters, return_inverse=True)
    _, task = np.unique(row_task, return_inverse=True)
    n_tasks, L, K = task.max() + 1, lab.max() + 1, clu.max() + 1
    cells, cell = np.unique(lab * K + clu, return_inverse=True)
    nc = len(cells)
    A = sparse.csr_matrix((np.ones(len(cell)), (task, cell)), shape=(n_tasks, nc))      # counts per task
    Gl = sparse.csr_matrix((np.ones(nc), (np.arange(nc), cells // K)), shape=(nc, L))
    Gk = sparse.csr_matrix((np.ones(nc), (np.arange(nc), cells % K)), shape=(nc, K))
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    M = np.asarray((A.T @ W.T).T)                              # [draws, cells] joint counts
    N = M.sum(1, keepdims=True)
    P = M / N
    PU = np.asarray((Gl.T @ P.T).T)                            # label marginals
    PV = np.asarray((Gk.T @ P.T).T)                            # cluster marginals
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = P / (PU[:, cells // K] * PV[:, cells % K])
        mi = np.where(P > 0, P * np.log(np.where(P > 0, ratio, 1.0)), 0.0).sum(1)
        hu = -np.where(PU > 0, PU * np.log(np.where(PU > 0, PU, 1.0)), 0.0).sum(1)
        hv = -np.where(PV > 0, PV * np.log(np.where(PV > 0, PV, 1.0)), 0.0).sum(1)
        out = np.where(mi > 1e-15, mi / ((hu + hv) / 2), 0.0)
    both_single = ((PU > 0).sum(1) == 1) & ((PV > 0).sum(1) == 1)   # nothing split: a perfect match
    return np.where(both_single, 1.0, out)


def nmi_draws(labels: np.ndarray, clusters: np.ndarray | None, row_task: np.ndarray, n_boot: int = 1000,
              seed: int = 0) -> tuple[float | None, np.ndarray | None]:
    """(NMI on all rows, NMI on each bootstrap sample of tasks) of `clusters` against `labels`; the
    samples come from the shared task draws (`_draws`), so two clusterings' samples pair up draw by
    draw. (None, None) without clusters; no samples below MIN_BOOT_UNITS tasks or with no resamples."""
    if clusters is None:
        return None, None
    _, task = np.unique(row_task, return_inverse=True)
    n_tasks = task.max() + 1
    value = float(nmi_resampled(labels, clusters, task, np.ones((1, n_tasks)))[0])
    if n_tasks < MIN_BOOT_UNITS or n_boot < 1:
        return value, None
    W = np.stack([np.bincount(d, minlength=n_tasks) for d in _draws(n_tasks, n_boot, seed)])
    return value, nmi_resampled(labels, clusters, task, W)


def bootstrap_nmi(labels: np.ndarray, clusters: np.ndarray | None, row_task: np.ndarray, n_boot: int = 1000,
                  seed: int = 0) -> dict:
    """NMI of `clusters` against `labels` (one per row) with a CI resampling tasks (with their rows)."""
    value, samples = nmi_draws(labels, clusters, row_task, n_boot, seed)
    return with_ci(value) if samples is None else with_ci(value, *_percentiles(samples))


# ---- a metric against a baseline on the same tasks -------------------------------------------------

def paired_excess(a_value, b_value, a, b, n_boot: int = 1000, seed: int = 0, draws: bool = False) -> dict:
    """{"value": a_value - b_value, "ci95"} of a metric over a baseline measured on the same tasks.

    `a`, `b`: per-task values of both (the CI is the bootstrap of the mean of a - b, tasks resampled
    together), or with `draws` both metrics' bootstrap samples from the shared task draws (the CI is
    the percentile interval of the draw-by-draw difference). The value is the difference of the two
    reported values, so that it equals metric - baseline exactly. None when either value is."""
    a_value, b_value = _num(a_value), _num(b_value)
    if a_value is None or b_value is None:
        return with_ci(None)
    value = a_value - b_value
    if a is None or b is None:
        return with_ci(value)
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if draws:
        return with_ci(value, *_percentiles(d))
    ci = bootstrap_mean(d, n_boot, seed)["ci95"]
    return with_ci(value, *(ci or (None, None)))


# ---- comparing checkpoints -----------------------------------------------------------------------

def paired_permutation(a: Sequence[float], b: Sequence[float], n_perm: int = 10000, seed: int = 0,
                       n_boot: int = 1000) -> dict:
    """Is A's mean over tasks different from B's on the same tasks? Sign-flip permutation test of the
    per-task differences (exact enumeration up to 2^14 sign patterns). Returns effect (mean A - B),
    its bootstrap CI, p_value (two-sided) and n."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return {"effect": None, "ci95": None, "p_value": None, "n": 0}
    obs = abs(d.mean())
    if n <= 14:
        signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
        stats = np.abs(signs @ d) / n
        p = float(np.mean(stats >= obs - 1e-12))
    else:
        rng = np.random.default_rng(seed)
        count = 0
        for s in range(0, n_perm, 2000):
            signs = rng.choice((-1.0, 1.0), size=(min(2000, n_perm - s), n))
            count += int(np.sum(np.abs(signs @ d) / n >= obs - 1e-12))
        p = (count + 1) / (n_perm + 1)
    ci = bootstrap_mean(d, n_boot, seed)
    return {"effect": _num(d.mean()), "ci95": ci["ci95"], "p_value": _num(p), "n": n}



# ---- alignment and transfer ----------------------------------------------------------------------

def spearman(x: Sequence[float], y: Sequence[float], n_boot: int = 1000, seed: int = 0) -> dict:
    """Spearman's rho with a two-sided p-value and a bootstrap CI over the pairs; None when undefined
    (fewer than 3 pairs, or a constant variable). The p-value is exact for n <= EXACT_MAX_N (over every
    pairing of the ranks, `_exact_spearman_p`: scipy's `permutation_test` gives the same values but took
    10 s at n = 10), else scipy's asymptotic one, which is far off at 5 languages (rho = 0.9: 0.037 where
    the exact value is 0.083; rho = 1: 1e-24 where it is 2/5! = 0.017). "p_method" names which.
    Below MIN_BOOT_UNITS pairs there is no CI ("ci_note" says why): a bootstrap over 5 languages has a
    handful of distinct resamples, most of them degenerate."""
    from scipy.stats import rankdata, spearmanr
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    empty = {"rho": None, "ci95": None, "p_value": None, "n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return empty
    rho = float(spearmanr(x, y).statistic)
    if n <= EXACT_MAX_N:
        p, p_method = _exact_spearman_p(rankdata(x), rankdata(y)), "exact permutation"
    else:
        p, p_method = float(spearmanr(x, y).pvalue), "asymptotic t (scipy)"
    out = {"rho": _num(rho), "ci95": None, "p_value": _num(min(1.0, p)), "p_method": p_method, "n": n}
    if n < MIN_BOOT_UNITS:
        out["ci_note"] = f"no CI: {n} pairs are too few for a bootstrap (at least {MIN_BOOT_UNITS})"
        return out
    rhos = []
    for d in _draws(n, n_boot, seed):
        if np.ptp(x[d]) > 0 and np.ptp(y[d]) > 0:
            rhos.append(spearmanr(x[d], y[d]).statistic)
    lo, hi = _percentiles(np.asarray(rhos)) if rhos else (float("nan"), float("nan"))
    ci = [_num(lo), _num(hi)]
    out["ci95"] = ci if None not in ci else None
    return out


def _exact_spearman_p(xr: np.ndarray, yr: np.ndarray) -> float:
    """Two-sided exact permutation p-value of Spearman's rho from the ranks (mid-ranks for ties): the
    distribution of sum(xr * yr[perm]) over all n! pairings, counted by dynamic programming over the
    subsets of y's positions already paired (2^n states) instead of listing the n! pairings. rho is
    increasing in that sum, so p = 2 min(P(sum >= observed), P(sum <= observed)), as
    `scipy.stats.permutation_test` defines it (tested against it)."""
    a = np.rint(2 * np.asarray(xr)).astype(np.int64)          # mid-ranks are multiples of 1/2
    b = np.rint(2 * np.asarray(yr)).astype(np.int64)
    n = len(a)
    obs = int(a @ b)
    top = int(np.sort(a) @ np.sort(b))
    counts = np.zeros((1 << n, top + 1), dtype=np.float64)    # exact: n! <= 3.6e6 fits a float's 53 bits
    counts[0, 0] = 1.0
    popcount = np.array([bin(m).count("1") for m in range(1 << n)])
    for mask in range(1 << n):
        k = popcount[mask]
        row = counts[mask]
        if k == n or not row.any():
            continue
        for j in range(n):
            if not mask >> j & 1:
                shift = int(a[k] * b[j])
                counts[mask | 1 << j, shift:] += row[:top + 1 - shift]
    dist = counts[-1]
    total = dist.sum()
    return float(min(1.0, 2 * min(dist[obs:].sum(), dist[:obs + 1].sum()) / total))


def _weighted_auc(A: np.ndarray, pos: np.ndarray, neg: np.ndarray, W: np.ndarray) -> np.ndarray:
    """AUC of each row of cluster weights W [draws, K]: A[k, l] sums the wins (ties 1/2) of cluster k's
    positives over cluster l's negatives; pos/neg count each cluster's positives and negatives."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.einsum("bk,kl,bl->b", W, A, W) / ((W @ pos) * (W @ neg))


def rank_test(scores: Sequence[float], outcome: Sequence[bool], clusters: Sequence | None = None,
              n_boot: int = 1000, seed: int = 0) -> dict:
    """Do units with outcome True score higher? Effect = AUC (the probability that a random positive
    outscores a random negative, ties 1/2; 0.5 = no relation; equal to Mann-Whitney's U / (n+ n-)).

    Units that share a cluster (a task's units in several languages) are not independent, so the CI and
    the p-value come from a bootstrap that resamples clusters with all their units ("n_clusters"); the
    p-value is the share of resampled AUCs across 0.5, doubled, stored as the bound 1/B with "p_bound"
    when none is. `clusters=None`: every unit is its own cluster. No CI or p-value below MIN_BOOT_UNITS
    clusters ("ci_note"). None when either group is empty."""
    from scipy.stats import mannwhitneyu
    s = np.asarray(scores, dtype=np.float64)
    o = np.asarray(outcome, dtype=bool)
    cl = np.arange(len(s)) if clusters is None else np.unique(np.asarray(clusters), return_inverse=True)[1]
    if len(cl) != len(s):
        raise ValueError(f"rank_test: {len(s)} scores but {len(cl)} cluster labels")
    K = int(cl.max()) + 1 if len(cl) else 0
    out = {"auc": None, "ci95": None, "p_value": None, "n": int(len(s)), "n_positive": int(o.sum()),
           "n_clusters": K}
    if o.all() or not o.any():
        return out
    out["auc"] = _num(mannwhitneyu(s[o], s[~o], alternative="two-sided").statistic / (o.sum() * (~o).sum()))
    if K < MIN_BOOT_UNITS or n_boot < 1:
        out["ci_note"] = f"no CI or p-value: {K} clusters are too few for a bootstrap (at least {MIN_BOOT_UNITS})"
        return out
    pos_i, neg_i = np.flatnonzero(o), np.flatnonzero(~o)
    onehot_neg = np.zeros((len(neg_i), K))
    onehot_neg[np.arange(len(neg_i)), cl[neg_i]] = 1.0
    A = np.zeros((K, K))
    for start in range(0, len(pos_i), 512):                  # wins of each positive over each cluster's negatives
        rows = pos_i[start:start + 512]
        g = (s[rows, None] > s[None, neg_i]) + 0.5 * (s[rows, None] == s[None, neg_i])
        np.add.at(A, cl[rows], g @ onehot_neg)
    pos_k = np.bincount(cl[pos_i], minlength=K).astype(np.float64)
    neg_k = np.bincount(cl[neg_i], minlength=K).astype(np.float64)
    W = np.stack([np.bincount(d, minlength=K) for d in _draws(K, n_boot, seed)]).astype(np.float64)
    aucs = _weighted_auc(A, pos_k, neg_k, W)
    aucs = aucs[np.isfinite(aucs)]
    lo, hi = _percentiles(aucs)
    ci = [_num(lo), _num(hi)]
    p = min(1.0, 2 * min(float(np.mean(aucs <= 0.5)), float(np.mean(aucs >= 0.5)))) if len(aucs) else None
    out.update(ci95=ci if None not in ci else None, p_value=p, p_method=f"cluster bootstrap (B={n_boot})")
    if p is not None and p < 1 / n_boot:
        out.update(p_value=1 / n_boot, p_bound=True)
    return out
