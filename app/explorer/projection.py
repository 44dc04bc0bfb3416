"""2-D maps of program vectors and their alignment, in plain numpy (plus scikit-learn's t-SNE, and UMAP
when `umap-learn` is installed).

- `normalise(X, langs, how)`: "raw"; "centered" subtracts each language's mean vector (the offset that
  separates languages; a few outlier dimensions dominate raw cosines); "standardized" also divides
  every dimension by its standard deviation.
- `project(X, method, seed)`: PCA (exact, via the d × d covariance), t-SNE, UMAP.
- `procrustes(Y, ref)`: rotate, reflect, scale and shift Y onto ref (same rows), so that a map of
  another checkpoint or layer keeps the orientation of the reference map and points do not jump.
- `sample_rows(task_ids, max_points, seed)`: whole tasks (all their languages), the same rows for every
  checkpoint, for the methods too slow for every point.
Not for: Streamlit caching (`data.py`) or drawing (`map_view.py`).
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

NORMS = ("raw", "centered", "standardized")


@functools.cache
def methods() -> tuple[str, ...]:
    """The projections on offer (looked up once per process: a module search on every script run cost
    0.1 s on shared cores)."""
    out = ["PCA", "t-SNE"]
    if importlib.util.find_spec("umap") is not None:
        out.append("UMAP")
    return tuple(out)


def normalise(X: np.ndarray, langs: np.ndarray, how: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if how == "raw":
        return X
    if how not in NORMS:
        raise ValueError(f"unknown normalisation {how!r}; known: {', '.join(NORMS)}")
    out = np.empty_like(X)
    for lang in np.unique(langs):
        m = langs == lang
        out[m] = X[m] - X[m].mean(axis=0, keepdims=True)
    if how == "standardized":
        out /= out.std(axis=0, keepdims=True) + 1e-6
    return out


def unit_rows(X: np.ndarray) -> np.ndarray:
    return X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-12)


def one_thread():
    """Single-threaded BLAS and OpenMP: on shared cores their spinning threads made these small jobs
    5-60x slower (measured here: a 20k x 128 covariance 0.25 s vs 0.03 s; t-SNE of 40 points 22 s vs 0.3 s)."""
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=1)


def pca(X: np.ndarray, k: int = 2) -> np.ndarray:
    with one_thread():
        Xc = np.asarray(X, dtype=np.float64)
        Xc = Xc - Xc.mean(axis=0)
        cov = Xc.T @ Xc / max(len(Xc) - 1, 1)
        _, vecs = np.linalg.eigh(cov)
        return (Xc @ vecs[:, ::-1][:, :k]).astype(np.float32)


def project(X: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """[n, 2] coordinates of the rows of X."""
    if len(X) < 3:
        return np.zeros((len(X), 2), dtype=np.float32)
    if method == "PCA":
        return pca(X)
    start = pca(X, k=min(50, X.shape[1]))   # the usual PCA step first: faster and less noisy
    if method == "t-SNE":
        from sklearn.manifold import TSNE  # before limiting threads: limits bind the libraries loaded then
    elif method == "UMAP":
        import umap
    with one_thread():
        if method == "t-SNE":
            perplexity = float(min(30, max(2, (len(X) - 1) // 3)))
            return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                        max_iter=500).fit_transform(start).astype(np.float32)
        if method == "UMAP":
            return umap.UMAP(n_components=2, random_state=seed).fit_transform(start).astype(np.float32)
    raise ValueError(f"unknown projection {method!r}; known: {', '.join(methods())}")


def procrustes(Y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Y mapped onto ref by the orthogonal transform (with reflection), scale and shift that minimise
    the squared distance between matching rows."""
    Y = np.asarray(Y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    my, mr = Y.mean(axis=0), ref.mean(axis=0)
    A, B = Y - my, ref - mr
    norm = (A * A).sum()
    if norm == 0:
        return (Y - my + mr).astype(np.float32)
    U, S, Vt = np.linalg.svd(A.T @ B)
    R = U @ Vt
    scale = S.sum() / norm
    return (scale * A @ R + mr).astype(np.float32)


def sample_rows(task_ids: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """Indices of the rows of a random subset of tasks holding at most `max_points` rows (all rows when
    they fit); sorted, and the same for any checkpoint with the same rows."""
    n = len(task_ids)
    if n <= max_points:
        return np.arange(n)
    tasks, inverse, counts = np.unique(task_ids, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(tasks))
    keep_tasks = order[np.cumsum(counts[order]) <= max_points]
    return np.flatnonzero(np.isin(inverse, keep_tasks))
