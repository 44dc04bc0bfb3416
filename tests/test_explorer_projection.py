"""The explorer's numerics: Procrustes alignment, normalisation, task-preserving samples, neighbours and
the rank of a program's true translation."""
from __future__ import annotations

import numpy as np

from app.explorer.neighbours import nearest, translation_ranks
from app.explorer.projection import normalise, pca, procrustes, project, sample_rows, unit_rows


def test_procrustes_undoes_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((50, 2))
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) @ np.diag([1, -1])
    moved = 3.0 * ref @ rot + np.array([5.0, -2.0])
    assert np.abs(moved - ref).max() > 1
    np.testing.assert_allclose(procrustes(moved, ref), ref, atol=1e-4)


def test_pca_finds_the_direction_of_largest_variance():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 5)) * np.array([10, 3, 1, 1, 1])
    xy = pca(X)
    assert abs(np.corrcoef(xy[:, 0], X[:, 0])[0, 1]) > 0.99 and abs(np.corrcoef(xy[:, 1], X[:, 1])[0, 1]) > 0.95


def test_centering_removes_each_language_mean_and_standardising_scales_dimensions():
    rng = np.random.default_rng(2)
    langs = np.array(["a", "b"] * 50)
    X = rng.standard_normal((100, 4)) + np.where(langs[:, None] == "a", 10.0, -3.0)
    c = normalise(X, langs, "centered")
    for lang in ("a", "b"):
        np.testing.assert_allclose(c[langs == lang].mean(axis=0), 0, atol=1e-5)
    s = normalise(X, langs, "standardized")
    np.testing.assert_allclose(s.std(axis=0), 1, atol=1e-3)
    assert normalise(X, langs, "raw") is not None and np.array_equal(normalise(X, langs, "raw"), X.astype(np.float32))


def test_samples_keep_whole_tasks_and_are_the_same_every_time():
    tasks = np.repeat([f"t{i}" for i in range(100)], 6)
    idx = sample_rows(tasks, 100, seed=0)
    assert len(idx) <= 100 and len(idx) % 6 == 0
    kept = set(tasks[idx])
    assert all((tasks[idx] == t).sum() == 6 for t in kept)
    assert np.array_equal(idx, sample_rows(tasks, 100, seed=0))
    assert np.array_equal(sample_rows(tasks, 10_000), np.arange(600))


def test_tsne_maps_every_row():
    X = np.random.default_rng(3).standard_normal((40, 8)).astype(np.float32)
    assert project(X, "t-SNE").shape == (40, 2) and project(X, "PCA").shape == (40, 2)


def test_translation_rank_is_one_when_the_translation_is_nearest_and_counts_closer_impostors():
    tasks = np.array(["t0", "t0", "t1", "t1", "t2", "t2"])
    langs = np.array(["py", "js"] * 3)
    X = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 1], [1, 0.05], [0.2, 1]], dtype=np.float32)
    U = unit_rows(X)
    ranks = translation_ranks(U, tasks, langs, 0)
    assert list(ranks) == ["js"] and ranks["js"]["rank"] == 1 and ranks["js"]["candidates"] == 3
    # row 4 (t2, py) is nearer to t0's js program than to its own translation (row 5)
    assert translation_ranks(U, tasks, langs, 4)["js"]["rank"] == 2
    near = nearest(U, 0, k=3)
    assert [j for j, _ in near][:2] == [4, 1] and all(j != 0 for j, _ in near)
