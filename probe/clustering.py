"""Is the space organised by function or by language? Silhouettes, k-means NMI and linear probes.

Each function returns per-row quantities (silhouette values, out-of-fold correctness, cluster ids) so
that `stats.py` can put confidence intervals over tasks on them; the point estimates are the usual
scikit-learn ones. A functionality-centric space has a high task silhouette and NMI against task, a
low one against language, and decodes task well and language badly.

- Silhouettes use cosine distance (the geometry retrieval uses).
- k-means (k = number of labels) runs on L2-normalised rows (spherical k-means, cosine again).
- Probes: a ridge classifier on standardised features (scikit-learn's `RidgeClassifier`, computed
  here: `ridge_predict`), a linear probe with a closed-form fit (one solve for hundreds of task
  classes, where a multinomial logistic regression takes seconds per fold).
  Task is decoded leaving one language out (train on the other languages' versions of every task), so
  only a task code shared across languages can succeed; language is decoded with tasks grouped into
  folds, so the probe cannot memorise a task's surface. Chance: 1/n_tasks and 1/n_langs.
Not for: retrieval (`retrieval.py`) or the CIs themselves (`stats.py`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def silhouette_values(X: np.ndarray, labels: Sequence) -> np.ndarray | None:
    """Per-row silhouette (cosine distance) for the clustering `labels`; None when undefined (fewer
    than 2 labels, or every row its own label)."""
    from sklearn.metrics import silhouette_samples
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or k >= len(labels):
        return None
    return silhouette_samples(np.asarray(X, dtype=np.float64), labels, metric="cosine")


def kmeans_assign(X: np.ndarray, k: int, seed: int = 0, n_init: int = 1) -> np.ndarray | None:
    """Spherical k-means cluster ids of the rows of X; None when k < 2 or k > n."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    if k < 2 or k > len(X):
        return None
    with warnings.catch_warnings():  # identical rows (e.g. last-token embeddings) give fewer clusters: fine
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(_unit(X))


def nmi(labels: Sequence, clusters: Sequence) -> float:
    from sklearn.metrics import normalized_mutual_info_score
    return float(normalized_mutual_info_score(labels, clusters))


def ridge_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Predictions of a one-vs-all ridge classifier on standardised features (what scikit-learn's
    `make_pipeline(StandardScaler(), RidgeClassifier(alpha))` predicts; tested equal). Hand-written
    because scikit-learn's per-fit input checks cost more than the fit at our sizes: with 11 folds per
    layer, normalisation, pooling and checkpoint they took most of a probe's time."""
    mu, sd = X_train.mean(0), X_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    A, B = (X_train - mu) / sd, (X_test - mu) / sd
    classes, y = np.unique(y_train, return_inverse=True)
    if len(classes) == 1:
        return np.full(len(X_test), classes[0])
    Y = -np.ones((len(y), len(classes)))
    Y[np.arange(len(y)), y] = 1.0
    ym = Y.mean(0)
    am = A.mean(0)                                  # ~0 after standardising, kept for exactness
    Ac, Yc = A - am, Y - ym
    n, d = Ac.shape
    if d <= n:
        W = np.linalg.solve(Ac.T @ Ac + alpha * np.eye(d), Ac.T @ Yc)
    else:                                           # dual form when there are fewer rows than features
        W = Ac.T @ np.linalg.solve(Ac @ Ac.T + alpha * np.eye(n), Yc)
    scores = (B - am) @ W + ym
    if len(classes) == 2:                           # scikit-learn decides two classes on one column
        return classes[(scores[:, 1] > scores[:, 0]).astype(int)]
    return classes[np.argmax(scores, axis=1)]


def _oof_correct(X: np.ndarray, y: np.ndarray, splits, alpha: float) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    correct = np.zeros(len(y))
    for train, test in splits:
        correct[test] = ridge_predict(X[train], y[train], X[test], alpha) == y[test]
    return correct


def decode_task(X: np.ndarray, tasks: Sequence, langs: Sequence, alpha: float = 1.0) -> np.ndarray | None:
    """Out-of-fold correctness (0/1 per row) of a linear probe for the task, leaving one language out;
    None with fewer than 2 languages or 2 tasks."""
    from sklearn.model_selection import LeaveOneGroupOut
    tasks, langs = np.asarray(tasks), np.asarray(langs)
    if len(np.unique(langs)) < 2 or len(np.unique(tasks)) < 2:
        return None
    return _oof_correct(X, tasks, LeaveOneGroupOut().split(X, tasks, groups=langs), alpha)


def decode_language(X: np.ndarray, langs: Sequence, tasks: Sequence, folds: int = 5, alpha: float = 1.0
                    ) -> np.ndarray | None:
    """Out-of-fold correctness (0/1 per row) of a linear probe for the language, tasks grouped into
    folds; None with fewer than 2 languages or 2 tasks."""
    from sklearn.model_selection import GroupKFold
    tasks, langs = np.asarray(tasks), np.asarray(langs)
    n_tasks = len(np.unique(tasks))
    if len(np.unique(langs)) < 2 or n_tasks < 2:
        return None
    cv = GroupKFold(n_splits=min(folds, n_tasks))
    return _oof_correct(X, langs, cv.split(X, langs, groups=tasks), alpha)
