"""Erase a categorical concept (here: the programming language) from the residual stream at one layer
with LEACE (least-squares concept erasure, Belrose et al. 2023), through the `concept-erasure` package
(its `LeaceFitter`; the package's own implementation, not a copy).

LEACE is the affine map x -> x - P(x - mean) of least change (in the data's covariance norm) after which
every class has the same mean: then no linear predictor of the label, trained with any convex loss, does
better than a constant (the paper's guarantee). `fit_eraser(X, labels)` fits it on rows X [N, d] (here:
every non-special token of the probe set's programs at layer L, labelled by the program's language, so
that what is erased is what the model carries at each position it generates from). Because the map is
affine it commutes with mean pooling: a program's pooled vector after erasure is the eraser applied to its
pooled vector.
Not for: applying it in a model (`edits.Erase`, `edited.EditedLM`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_eraser(X: np.ndarray, labels: Sequence[str]):
    """(a `concept_erasure.LeaceEraser` for the labels' classes, fitted on X in float64 and returned in
    float32, the class names in one-hot order)."""
    import torch
    from concept_erasure import LeaceFitter
    X = np.asarray(X)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"erasing a concept needs at least two classes, got {classes}")
    if len(X) != len(labels):
        raise ValueError(f"{len(X)} rows but {len(labels)} labels")
    index = {c: i for i, c in enumerate(classes)}
    z = torch.zeros((len(labels), len(classes)), dtype=torch.float64)
    z[torch.arange(len(labels)), torch.tensor([index[c] for c in labels])] = 1.0
    x = torch.as_tensor(X, dtype=torch.float64)
    eraser = LeaceFitter.fit(x, z).eraser
    from concept_erasure import LeaceEraser
    f32 = LeaceEraser(eraser.proj_left.float(), eraser.proj_right.float(),
                      None if eraser.bias is None else eraser.bias.float())
    return f32, classes


def erase_array(eraser, X: np.ndarray) -> np.ndarray:
    """The eraser applied to rows of a numpy array (float32 out)."""
    import torch
    return eraser(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy()


def class_mean_gap(X: np.ndarray, labels: Sequence[str]) -> float:
    """Largest distance between a class mean and the overall mean, relative to the rows' RMS norm: 0 after
    a LEACE eraser fitted on these rows (a check that it worked)."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    mu = X.mean(0)
    gap = max(np.linalg.norm(X[labels == c].mean(0) - mu) for c in np.unique(labels))
    return float(gap / max(np.sqrt((X ** 2).sum(1).mean()), 1e-12))
