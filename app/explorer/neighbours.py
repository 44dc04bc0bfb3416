"""Nearest neighbours of one program by cosine similarity, and the rank of its true translations (the
same task in another language) among every program of that language — the Tatoeba-style retrieval the
probe stage averages, here for a single program. Not for: aggregate metrics (`probe/`).
"""
from __future__ import annotations

import numpy as np


def cosine_to(U: np.ndarray, i: int) -> np.ndarray:
    """Cosine of every row of `U` (unit rows) to row i."""
    return U @ U[i]


def nearest(U: np.ndarray, i: int, k: int = 10) -> list[tuple[int, float]]:
    """The k rows closest to row i (itself excluded), closest first."""
    sims = cosine_to(U, i)
    sims[i] = -np.inf
    k = min(k, len(U) - 1)
    if k <= 0:
        return []
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(int(j), float(sims[j])) for j in top]


def translation_ranks(U: np.ndarray, task_ids: np.ndarray, langs: np.ndarray, i: int) -> dict[str, dict]:
    """For every language other than row i's: the rank (1 = nearest) of the row with the same task among
    all rows of that language, its cosine, and how many candidates there were."""
    sims = cosine_to(U, i)
    out: dict[str, dict] = {}
    for lang in dict.fromkeys(langs.tolist()):
        if lang == langs[i]:
            continue
        cand = np.flatnonzero(langs == lang)
        gold = cand[task_ids[cand] == task_ids[i]]
        if len(gold) == 0:
            out[lang] = {"rank": None, "cosine": None, "candidates": int(len(cand))}
            continue
        g = sims[gold[0]]
        out[lang] = {"rank": int((sims[cand] > g).sum()) + 1, "cosine": float(g), "candidates": int(len(cand))}
    return out
