"""Directions to add to the residual stream: the mean update of one checkpoint over another, and a
random direction of the same norm (the control).

`mean_difference(a, b, tokenizer, texts, layers)` is Δ_L = E[h_a − h_b] at `blocks.{L}.hook_resid_post`
over `texts` (e.g. source-language prompts, with a = the RL checkpoint and b its SFT parent): both
models read the same token ids, the difference is taken per token, averaged over each text's tokens
(attended, not special: BOS is left out as `probe.capture` pools), then over texts (each text weighs
the same). `random_direction(v, seed)` is a standard Gaussian direction scaled to ‖v‖ (seeded).
Not for: applying them (`edits.AddVector`, `edited.EditedLM`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .edited import activations, pooled


def mean_difference(model_a, model_b, tokenizer, texts: Sequence[str], layers: Sequence[int],
                    batch_size: int = 16, max_tokens: int | None = 512) -> dict[int, dict]:
    """{L: {"vector": float32 [d] numpy (Δ_L), "norm": ‖Δ_L‖, "resid_norm": mean over texts of the norm of
    model_b's mean-pooled residual at L (a scale for ‖Δ_L‖), "n_texts"}}."""
    if not texts:
        raise ValueError("mean_difference needs at least one text")
    acts_a, owner = activations(model_a, tokenizer, texts, layers, batch_size=batch_size, max_tokens=max_tokens)
    acts_b, owner_b = activations(model_b, tokenizer, texts, layers, batch_size=batch_size, max_tokens=max_tokens)
    if not np.array_equal(owner, owner_b):
        raise ValueError("the two models saw different tokens")
    out = {}
    for L in layers:
        pa, pb = pooled(acts_a[L], owner, len(texts)), pooled(acts_b[L], owner, len(texts))
        v = (pa.astype(np.float64) - pb).mean(0).astype(np.float32)
        out[L] = {"vector": v, "norm": float(np.linalg.norm(v)),
                  "resid_norm": float(np.linalg.norm(pb, axis=1).mean()), "n_texts": len(texts)}
    return out


def random_direction(like: np.ndarray, seed: int) -> np.ndarray:
    """A random direction (isotropic Gaussian, `seed`) with the norm of `like`."""
    like = np.asarray(like, dtype=np.float64)
    r = np.random.default_rng(seed).standard_normal(like.shape)
    return (r / np.linalg.norm(r) * np.linalg.norm(like)).astype(np.float32)
