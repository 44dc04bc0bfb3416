"""Similarity of parallel pairs against non-parallel pairs: a baseline-adjusted cosine.

For aligned rows (row i of A and of B are the same task), task i's score is
    cos(a_i, b_i) - (mean_{j != i} cos(a_i, b_j) + mean_{j != i} cos(a_j, b_i)) / 2,
how much closer a program is to its translation than to other programs of the other language. Zero
means no task information; an offset shared by all programs of a language cancels in the baseline.
Not for: ranking (`retrieval.py`).
"""
from __future__ import annotations

import numpy as np


def cosine_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
    B = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-12)
    return A @ B.T


def parallel_cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Per-task baseline-adjusted cosine (see module docstring); needs at least 2 tasks."""
    S = cosine_matrix(A, B)
    n = S.shape[0]
    if n < 2 or S.shape[1] != n:
        raise ValueError(f"need two aligned sets of at least 2 rows, got {A.shape} and {B.shape}")
    diag = np.diag(S)
    row_base = (S.sum(1) - diag) / (n - 1)
    col_base = (S.sum(0) - diag) / (n - 1)
    return diag - (row_base + col_base) / 2
