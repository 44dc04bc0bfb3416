"""Causal tests of cross-language transfer: edits of the residual stream at `blocks.{L}.hook_resid_post`,
applied inside nnsight traces at every forward pass (prefill and every decode step).

>>> from probe.interventions import EditedLM, AddVector, Patch, Erase, mean_difference, fit_eraser
>>> d = mean_difference(rl, sft, tok, python_prompts, layers=[2])[2]["vector"]     # doctest: +SKIP
>>> EditedLM(sft, tok, [AddVector(2, torch.as_tensor(d), alpha=1.0)])            # doctest: +SKIP

Modules: `edits` (what an edit does to one site: add a vector, patch from a donor model, erase),
`edited` (`EditedLM`, a model whose forward runs the edits; `activations`, token-level residuals under
edits), `directions` (Δ = mean update of one checkpoint over another; a random direction of the same norm),
`erasure` (LEACE through `concept-erasure`), `config` (`InterventionConfig`). Imports `evals` at most;
scoring the edited models and where results go: `app/intervening.py`.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "AddVector": "edits", "Patch": "edits", "Erase": "edits",
    "EditedLM": "edited", "activations": "edited", "pooled": "edited",
    "mean_difference": "directions", "random_direction": "directions",
    "fit_eraser": "erasure", "erase_array": "erasure", "class_mean_gap": "erasure",
    "InterventionConfig": "config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probe.interventions' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
