"""Normalisations applied to pooled activations before measuring them, reported side by side.

- `raw`: as captured;
- `centered`: each language's mean vector removed (a language's "accent" is a shared offset; real
  models' outlier dimensions make raw cosines useless in middle layers, centring restores them);
- `standardized`: every dimension z-scored over all rows (outlier dimensions weigh like any other).

Statistics come from the rows given (the probe set itself). Float32 in, float32 out.
Not for: metrics (`retrieval.py`, `similarity.py`, ...).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NORMS = ("raw", "centered", "standardized")


def center_by_group(X: np.ndarray, groups: Sequence) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    groups = np.asarray(groups)
    out = np.empty_like(X)
    for g in np.unique(groups):
        m = groups == g
        out[m] = X[m] - X[m].mean(0)
    return out


def standardize(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(0)
    return (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)


def normalize(X: np.ndarray, langs: Sequence[str], mode: str) -> np.ndarray:
    """`X` [n, d] under normalisation `mode` (one of NORMS); `langs[i]` is row i's language."""
    if mode == "raw":
        out = np.asarray(X, dtype=np.float64)
    elif mode == "centered":
        out = center_by_group(X, langs)
    elif mode == "standardized":
        out = standardize(X)
    else:
        raise ValueError(f"unknown normalisation {mode!r}; known: {', '.join(NORMS)}")
    return np.ascontiguousarray(out, dtype=np.float32)
