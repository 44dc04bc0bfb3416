"""Where do equivalent programs sit inside a model? Activations, alignment metrics, CKA, statistics.

>>> from probe import retrieval_accuracy, linear_cka
>>> retrieval_accuracy(queries, keys, k=1)    # doctest: +SKIP   (row i of both = the same task)
>>> linear_cka(X, Y, debiased=True)           # doctest: +SKIP

Modules (one concept each): `programs` (the parallel program set: world or MBXP, code only by default),
`capture` (nnsight traces, pooled residual stream per layer), `normalize` (raw / centred /
standardised), `retrieval` (the translation's rank by cosine), `similarity` (parallel vs non-parallel
cosine), `clustering` (silhouette, k-means NMI, linear probes), `cka` (linear and debiased CKA, matrices), `baselines`
(model-free representations: the bag of tokens), `stats` (bootstrap CIs, permutation tests, alignment vs
transfer, excess over a baseline), `metrics` (all of it as one JSON object), `config` (`ProbeConfig`).
`probe.capture.capture` and `probe.normalize.normalize` share their module's name, so import them
from the module. Importing `probe` is cheap: names load on first use (torch, nnsight and scikit-learn only
inside the functions that need them). Imports `evals` at most. Not for: run folders (`app/probing.py`).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "retrieval_accuracy": "retrieval", "retrieval_scores": "retrieval", "gold_ranks": "retrieval",
    "linear_cka": "cka", "cka_matrices": "cka",
    "load_model": "capture", "hook_names": "capture", "Activations": "capture",
    "parallel_cosine": "similarity",
    "bag_of_tokens": "baselines", "bag_of_tokens_metrics": "baselines",
    "ProbeConfig": "config", "compute_metrics": "metrics",
    "ProgramRow": "programs", "world_programs": "programs", "benchmark_programs": "programs",
    "strip_comments": "programs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
