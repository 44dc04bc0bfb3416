"""Model-free baselines: how far do tokens alone go? The bag of tokens of each probed program.

A program's bag of tokens is the count of each token id among the tokens that mean pooling covers
(the run's own tokenizer, special tokens such as BOS off, truncated at the same `max_tokens`): the
representation a model would have if it did nothing but average its token embeddings with
orthogonal embeddings. `psft probe` measures it on the same rows as the activations, under the same
normalisations and with the same statistics (`probe.metrics.compute_metrics(..., baselines=...)`), so
each layer's alignment can be read as its excess over what is lexical. Translations that share
identifiers, literals and operators retrieve each other by their bags alone; a metric that does not
beat the bag of tokens says how much lexical signal survives, not how functional the space is.

Any texts can be given: the lexical-control probe set (identifiers renamed per language) is measured
by the same function on its own texts.
Not for: running a model (`capture.py`); the metrics themselves (`metrics.py`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .config import ProbeConfig

BAG_OF_TOKENS = "bag_of_tokens"


def pooled_token_ids(tokenizer, texts: Sequence[str], max_tokens: int | None = None) -> list[list[int]]:
    """The token ids of each text that `capture`'s mean pooling covers: tokenised with special tokens
    and truncated as capture does, then the special tokens dropped (all tokens kept for a text that is
    only special tokens, as capture does)."""
    from .capture import _tokenize
    ids, special = _tokenize(tokenizer, texts, max_tokens)
    out = []
    for row, sp in zip(ids, special):
        kept = [t for t, s in zip(row, sp) if not s]
        out.append(kept if kept else list(row))
    return out


def bag_of_tokens(docs: Sequence[Sequence[int]] | Sequence[str], tokenizer=None,
                  max_tokens: int | None = None) -> np.ndarray:
    """Token-id counts [n_docs, n_distinct_ids] (float32) of `docs`: token-id lists, or texts tokenised
    by `tokenizer` (`pooled_token_ids`). Columns are the ids that occur, in increasing order: ids that
    occur nowhere would be zero columns, which no cosine, centring or z-score sees."""
    from scipy import sparse
    docs = list(docs)
    if docs and isinstance(docs[0], str):
        if tokenizer is None:
            raise ValueError("bag_of_tokens: texts need a tokenizer")
        docs = pooled_token_ids(tokenizer, docs, max_tokens)
    rows = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
    flat = np.fromiter((int(t) for d in docs for t in d), dtype=np.int64, count=len(rows))
    vocab, cols = np.unique(flat, return_inverse=True)
    counts = sparse.coo_matrix((np.ones(len(flat), dtype=np.float32), (rows, cols)),
                               shape=(len(docs), max(len(vocab), 1)))
    return np.ascontiguousarray(counts.toarray(), dtype=np.float32)       # duplicates summed


def bag_of_tokens_metrics(docs: Sequence[Sequence[int]] | Sequence[str], langs: Sequence[str],
                          task_ids: Sequence[str], cfg: ProbeConfig, tokenizer=None,
                          max_tokens: int | None = None) -> dict[str, dict]:
    """{norm: metrics} of the bag of tokens of `docs` (row i: task task_ids[i] in langs[i]; every task in
    every language), laid out as one layer's metrics in metrics.json."""
    from .metrics import make_grid, norm_metrics
    rows = [{"task_id": t, "lang": lang} for t, lang in zip(task_ids, langs)]
    if not len(rows) == len(docs) == len(langs):
        raise ValueError(f"{len(docs)} docs, {len(langs)} languages and {len(task_ids)} task ids")
    grid = make_grid(rows)
    X = bag_of_tokens(docs, tokenizer, max_tokens)
    return {norm: m for norm, (m, _) in norm_metrics(X, grid, list(langs), cfg).items()}
