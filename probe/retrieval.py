"""Cross-language retrieval: does program i in language A find program i in language B among all B
programs, by cosine similarity? (Tatoeba-style bitext retrieval.)

The vectors are L2-normalised in float32 and scored in float64 (inner product = cosine), one matrix
product per block of queries; the gold key's place is a count over its query's row. Until 2026-12-07 a
faiss `IndexFlatIP` scored them in float32: it sorts every row, which this count does not need (7-14
times slower at 200-300 keys), and float32 sums put keys whose cosines differ by less than ~1e-7 in an
order that depends on the summation order of the library and CPU (on the toy's probes: 8 queries in
180,000 moved by one place). In float64 such gaps are resolved as the exact cosines of the normalised
vectors order them. Ties are counted, not broken by index
order. A key ties with the gold key when it is the same unit vector (float32; equal vectors can score
an ulp apart in BLAS) or scores exactly the same; a query with `above` strictly closer keys and `tied`
keys tied with the gold one (the gold key included) is scored by the expectation under a uniformly
random order of the tied keys (rank uniform on above+1 .. above+tied): top-k = P(rank <= k),
reciprocal rank = E[1/rank]. Deterministic, no seed, and independent of the order of the keys. Ties
matter for model-free vectors (two programs with the same token multiset have identical bags of
tokens; an empty program is a zero vector, tied with every key); for real activations they have
measure zero. Per-query scores, so that confidence intervals can resample tasks.
Not for: normalising vectors first (`normalize.py`).
"""
from __future__ import annotations

import numpy as np


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X / np.maximum(norms, 1e-12), dtype=np.float32)  # zero rows stay zero


BLOCK = 1024   # queries scored at once: a block's scores are BLOCK x n_keys float64 (8 MB per 1000 keys)


def gold_place(queries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(above, tied) per query: keys strictly more similar to queries[i] than keys[i], and keys tied
    with keys[i] (see the module docstring; keys[i] itself included, so tied >= 1)."""
    q, k = _unit(queries), _unit(keys)
    if q.shape != k.shape:
        raise ValueError(f"queries {q.shape} and keys {k.shape} must be aligned (row i = task i)")
    n = len(k)
    q64, k64 = q.astype(np.float64), k.astype(np.float64)
    above, tied = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    first: dict[bytes, int] = {}                 # equal unit vectors share a group (+ 0: -0.0 and 0.0 alike)
    group = np.array([first.setdefault(row.tobytes(), i) for i, row in enumerate(k + np.float32(0))], dtype=np.int64)
    for lo in range(0, n, BLOCK):
        rows = np.arange(lo, min(lo + BLOCK, n))
        sims = q64[rows] @ k64.T                 # [block, n] cosines
        gold = sims[np.arange(len(rows)), rows][:, None]
        tie = (group[None, :] == group[rows][:, None]) | (sims == gold)
        above[rows] = (~tie & (sims > gold)).sum(1)
        tied[rows] = tie.sum(1)
    return above, tied


def gold_ranks(queries: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1-based rank of keys[i] among all keys for queries[i], by cosine similarity; a tie takes the
    best place (1 + keys strictly more similar)."""
    return gold_place(queries, keys)[0] + 1


def retrieval_scores(queries: np.ndarray, keys: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, np.ndarray]:
    """Per-query scores: {"top1", "top5": P(rank <= k), "rr": E[1/rank]} (float64 arrays; 0/1 and
    1/rank when there is no tie, expectations over the tied keys' order otherwise)."""
    above, tied = gold_place(queries, keys)
    out = {f"top{k}": np.clip(k - above, 0, tied) / np.maximum(tied, 1) for k in ks}
    n = len(above)
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])   # H(m) for m = 0..n
    out["rr"] = (harmonic[above + tied] - harmonic[above]) / np.maximum(tied, 1)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def retrieval_accuracy(queries: np.ndarray, keys: np.ndarray, k: int = 1) -> float:
    """Share of queries whose gold key (same row) is among their k nearest keys by cosine (ties counted
    as in `retrieval_scores`)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores = retrieval_scores(queries, keys, ks=(k,))[f"top{k}"]
    return float(np.mean(scores)) if len(scores) else float("nan")
