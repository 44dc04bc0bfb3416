"""Uncertainty over problems: percentile bootstrap confidence intervals for a statistic of per-problem
values, paired differences between two systems on the same problems, and a pass@k table with CIs.

Resampling is over problems (the unit that varies between benchmarks), not over samples of one problem.
Not for: the pass@k estimator itself (see `passk`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from .passk import pass_at_k


def _as_array(values) -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("bootstrap needs a non-empty 1-D sequence of numbers")
    return arr


def _resample(arr: np.ndarray, stat: Callable, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    if stat is np.mean:  # vectorised fast path for the common case
        return arr[idx].mean(axis=1)
    return np.array([stat(arr[row]) for row in idx], dtype=float)


def bootstrap_ci(values: Sequence[float], stat: Callable = np.mean, n_boot: int = 2000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of `stat` over per-problem values."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    arr = _as_array(values)
    boots = _resample(arr, stat, n_boot, seed)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


class PairedDiff(NamedTuple):
    mean: float      # mean of a - b over problems
    lo: float        # (1 - alpha) percentile bootstrap interval of that mean
    hi: float
    p_value: float   # two-sided bootstrap p-value for "no difference"


def paired_bootstrap_diff(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, alpha: float = 0.05,
                          seed: int = 0) -> PairedDiff:
    """Mean difference a - b over the same problems, with a paired bootstrap CI (problems resampled
    together, so per-problem difficulty cancels)."""
    x, y = _as_array(a), _as_array(b)
    if x.shape != y.shape:
        raise ValueError(f"paired values need equal lengths, got {x.size} and {y.size}")
    d = x - y
    boots = _resample(d, np.mean, n_boot, seed)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    # Share of resampled means on either side of zero, doubled: an approximate two-sided p-value.
    p = min(1.0, 2.0 * min(float(np.mean(boots <= 0)), float(np.mean(boots >= 0))))
    return PairedDiff(float(d.mean()), float(lo), float(hi), p)


def pass_at_k_table(per_problem_counts: Mapping[str, Sequence[tuple[int, int]]], ks: Sequence[int] = (1,),
                    n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> dict[str, dict]:
    """{lang: {"pass@k": float, "ci95": [lo, hi], "n": int}} from (n_samples, n_correct) per problem.

    Every k in `ks` gets "pass@{k}" and "ci95@{k}"; "ci95" is the interval of the first k. "n" is the
    number of problems. (The key says 95 for the default alpha; it holds the (1 - alpha) interval.)
    """
    if not ks:
        raise ValueError("pass_at_k_table needs at least one k")
    table: dict[str, dict] = {}
    for lang, counts in per_problem_counts.items():
        counts = list(counts)
        if not counts:
            raise ValueError(f"{lang}: no problems")
        row: dict = {"n": len(counts)}
        for j, k in enumerate(ks):
            values = [pass_at_k(n, c, k) for n, c in counts]
            lo, hi = bootstrap_ci(values, n_boot=n_boot, alpha=alpha, seed=seed)
            row[f"pass@{k}"] = float(np.mean(values))
            row[f"ci95@{k}"] = [lo, hi]
            if j == 0:
                row["ci95"] = [lo, hi]
        table[lang] = row
    return table
