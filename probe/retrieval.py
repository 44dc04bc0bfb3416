"""Cross-language retrieval: does program i in language A find program i in language B among all B
programs, by cosine similarity? (Tatoeba-style bitext retrieval.)

`faiss.IndexFlatIP` over L2-normalised float32 vectors (inner product = cosine) ranks every key for
every query; we read off the rank of the gold key. top-k accuracy and reciprocal ranks per query, so
that confidence intervals can resample tasks. Ties are broken by faiss's order (measure zero for real
activations). Not for: normalising vectors first (`normalize.py`).
"""
from __future__ import annotations

import numpy as np


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X / np.maximum(norms, 1e-12), dtype=np.float32)  # zero rows stay zero


def gold_ranks(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1-based rank of keys[i] among all keys for queries[i], by cosine similarity."""
    import faiss

    q, k = _unit(queries), _unit(keys)
    if q.shape != k.shape:
        raise ValueError(f"queries {q.shape} and keys {k.shape} must be aligned (row i = task i)")
    n, d = k.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    index = faiss.IndexFlatIP(d)
    index.add(k)
    _, order = index.search(q, n)
    return np.argmax(order == np.arange(n)[:, None], axis=1) + 1


def retrieval_scores(queries: np.ndarray, keys: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, np.ndarray]:
    """Per-query scores: {"top1": 0/1, "top5": 0/1, "rr": reciprocal rank} (float64 arrays)."""
    ranks = gold_ranks(queries, keys)
    out = {f"top{k}": (ranks <= k).astype(np.float64) for k in ks}
    out["rr"] = 1.0 / ranks
    return out


def retrieval_accuracy(queries: np.ndarray, keys: np.ndarray, k: int = 1) -> float:
    """Share of queries whose gold key (same row) is among their k nearest keys by cosine."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ranks = gold_ranks(queries, keys)
    return float(np.mean(ranks <= k)) if len(ranks) else float("nan")
