"""Cross-language retrieval: does program i in language A find program i in language B among all B
programs, by cosine similarity? (Tatoeba-style bitext retrieval.)

`faiss.IndexFlatIP` over L2-normalised float32 vectors (inner product = cosine) scores every key for
every query; the gold key's place is read off those scores. Ties are counted, not broken by index
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


def gold_place(queries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(above, tied) per query: keys strictly more similar to queries[i] than keys[i], and keys tied
    with keys[i] (see the module docstring; keys[i] itself included, so tied >= 1)."""
    import faiss

    q, k = _unit(queries), _unit(keys)
    if q.shape != k.shape:
        raise ValueError(f"queries {q.shape} and keys {k.shape} must be aligned (row i = task i)")
    n, d = k.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    index = faiss.IndexFlatIP(d)
    index.add(k)
    sims, order = index.search(q, n)
    first: dict[bytes, int] = {}                 # equal unit vectors share a group (+ 0: -0.0 and 0.0 alike)
    group = np.array([first.setdefault(row.tobytes(), i) for i, row in enumerate(k + np.float32(0))])
    gold_col = np.argmax(order == np.arange(n)[:, None], axis=1)
    gold = sims[np.arange(n), gold_col][:, None]
    tied = (group[order] == group[:, None]) | (sims == gold)
    above = ~tied & (sims > gold)
    return above.sum(1).astype(np.int64), tied.sum(1).astype(np.int64)


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
