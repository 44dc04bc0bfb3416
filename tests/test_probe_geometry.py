"""Normalisations, parallel-pair cosine, silhouettes, k-means NMI and linear probes, each against an
independent computation (explicit loops, scikit-learn's own estimators)."""
from __future__ import annotations

import numpy as np
import pytest

from probe import clustering
from probe.normalize import normalize
from probe.similarity import parallel_cosine


def space(n_tasks=20, langs=3, d=12, task_w=1.0, lang_w=1.0, noise=0.3, seed=0):
    """Rows language-major; each row = task vector * task_w + language vector * lang_w + noise."""
    rng = np.random.default_rng(seed)
    T = rng.standard_normal((n_tasks, d))
    L = rng.standard_normal((langs, d)) * 3
    task = np.tile(np.arange(n_tasks), langs)
    lang = np.repeat(np.arange(langs), n_tasks)
    X = task_w * T[task] + lang_w * L[lang] + noise * rng.standard_normal((len(task), d))
    return X, task, lang


def test_normalisations():
    X, _, lang = space()
    names = np.array(["py", "js", "rb"])[lang]
    assert np.array_equal(normalize(X, names, "raw"), X.astype(np.float32))
    C = normalize(X * 100 + 5, names, "centered")
    for g in ("py", "js", "rb"):
        assert np.allclose(C[names == g].mean(0), 0, atol=1e-3)
    S = normalize(X, names, "standardized")
    assert np.allclose(S.mean(0), 0, atol=1e-5) and np.allclose(S.std(0), 1, atol=1e-4)
    assert normalize(X, names, "raw").dtype == np.float32
    with pytest.raises(ValueError):
        normalize(X, names, "whiten")


def test_parallel_cosine_against_explicit_loops():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))

    def cos(u, v):
        return u @ v / np.linalg.norm(u) / np.linalg.norm(v)
    for i, got in enumerate(parallel_cosine(A, B)):
        others = [j for j in range(7) if j != i]
        base = (np.mean([cos(A[i], B[j]) for j in others]) + np.mean([cos(A[j], B[i]) for j in others])) / 2
        assert got == pytest.approx(cos(A[i], B[i]) - base)
    # a shared language offset cancels only after centring; parallel pairs beat non-parallel ones
    X, _, lang = space(task_w=1.0, lang_w=0.0)
    assert parallel_cosine(X[lang == 0], X[lang == 1]).mean() > 0.5
    X, _, lang = space(task_w=0.0, lang_w=1.0)
    assert abs(parallel_cosine(X[lang == 0], X[lang == 1]).mean()) < 0.1


def test_silhouette_values_average_to_scikit_learns_score():
    from sklearn.metrics import silhouette_score
    X, task, lang = space()
    for labels in (task, lang):
        assert clustering.silhouette_values(X, labels).mean() == pytest.approx(
            silhouette_score(X, labels, metric="cosine"))
    assert clustering.silhouette_values(X, np.zeros(len(X))) is None


def test_ridge_probe_predicts_what_scikit_learns_pipeline_predicts():
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(4)
    for n, d, k, alpha in [(60, 8, 5, 1.0), (30, 50, 4, 0.1), (40, 6, 2, 3.0)]:
        X, y, Xt = rng.standard_normal((n, d)), rng.integers(0, k, n), rng.standard_normal((25, d))
        want = make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha)).fit(X, y).predict(Xt)
        assert np.array_equal(clustering.ridge_predict(X, y, Xt, alpha), want)


def test_a_functional_space_decodes_task_and_a_language_space_decodes_language():
    X, task, lang = space(task_w=1.0, lang_w=0.2)
    assert clustering.decode_task(X, task, lang).mean() > 0.7          # chance: 1/20
    assert clustering.silhouette_values(X, task).mean() > clustering.silhouette_values(X, lang).mean()
    X, task, lang = space(task_w=0.1, lang_w=1.0)
    assert clustering.decode_task(X, task, lang).mean() < 0.3
    assert clustering.decode_language(X, lang, task).mean() > 0.95
    assert clustering.decode_task(X, task, np.zeros_like(lang)) is None      # one language: undefined


def test_kmeans_nmi_recovers_the_planted_partition():
    from sklearn.metrics import normalized_mutual_info_score
    X, task, lang = space(task_w=0.0, lang_w=1.0, noise=0.1)
    clusters = clustering.kmeans_assign(X, 3)
    assert clustering.nmi(lang, clusters) == pytest.approx(1.0)
    assert clustering.nmi(task, clusters) == pytest.approx(normalized_mutual_info_score(task, clusters))
    assert clustering.kmeans_assign(X, 1) is None
