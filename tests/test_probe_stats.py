"""Bootstrap CIs, permutation tests, Holm, Spearman and the rank test against independent
computations (explicit enumeration, scipy, scikit-learn)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from probe import stats


def test_bootstrap_mean_ci_brackets_the_mean_and_shrinks_with_more_tasks():
    rng = np.random.default_rng(0)
    small = stats.bootstrap_mean(rng.random(20), n_boot=2000)
    big = stats.bootstrap_mean(rng.random(2000), n_boot=2000)
    for r in (small, big):
        lo, hi = r["ci95"]
        assert lo < r["value"] < hi
    assert big["ci95"][1] - big["ci95"][0] < (small["ci95"][1] - small["ci95"][0]) / 4
    # the normal approximation for a mean of uniforms: se = sqrt(1/12 / n)
    half = (big["ci95"][1] - big["ci95"][0]) / 2
    assert half == pytest.approx(1.96 * np.sqrt(1 / 12 / 2000), rel=0.15)
    assert stats.bootstrap_mean(None) == {"value": None, "ci95": None}
    assert stats.bootstrap_mean([0.5]) == {"value": 0.5, "ci95": None}
    assert stats.bootstrap_mean([float("nan"), 1.0])["value"] is None


def test_no_bootstrap_interval_over_fewer_than_ten_tasks():
    """Five tasks have 126 distinct resamples, and a percentile interval over them covers less than it
    claims (a proportion near 0 collapses to [0, 0]). Below MIN_BOOT_UNITS there is no CI at all."""
    few, enough = [1.0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0] * 2
    assert stats.bootstrap_mean(few, n_boot=500) == {"value": 0.2, "ci95": None}
    assert stats.bootstrap_means(np.array([few, few]), n_boot=500)[0]["ci95"] is None
    assert stats.bootstrap_mean(enough, n_boot=500)["ci95"] is not None
    labels = np.tile(np.arange(3), 5)
    value, samples = stats.nmi_draws(labels, labels, np.repeat(np.arange(5), 3), n_boot=50)
    assert value == pytest.approx(1.0) and samples is None


def test_vectorised_bootstrap_equals_one_at_a_time():
    V = np.random.default_rng(1).random((4, 15))
    for a, b in zip(stats.bootstrap_means(V, n_boot=500, seed=3), [stats.bootstrap_mean(v, 500, 3) for v in V]):
        assert a["value"] == pytest.approx(b["value"]) and np.allclose(a["ci95"], b["ci95"])


def test_nmi_of_a_task_sample_equals_scikit_learn_on_the_drawn_rows():
    from sklearn.metrics import normalized_mutual_info_score
    rng = np.random.default_rng(2)
    n_tasks, n_langs = 25, 4
    task = np.repeat(np.arange(n_tasks), n_langs)
    lang = np.tile(np.arange(n_langs), n_tasks)
    clusters = rng.integers(0, 7, len(task))
    for labels in (task, lang):
        for _ in range(3):
            draw = rng.integers(0, n_tasks, n_tasks)
            rows = np.concatenate([np.flatnonzero(task == t) for t in draw])
            W = np.bincount(draw, minlength=n_tasks)
            assert stats.nmi_resampled(labels, clusters, task, W)[0] == pytest.approx(
                normalized_mutual_info_score(labels[rows], clusters[rows]), abs=1e-12)
    r = stats.bootstrap_nmi(lang, clusters, task, n_boot=300)
    assert r["value"] == pytest.approx(normalized_mutual_info_score(lang, clusters))
    assert r["ci95"][0] <= r["value"] + 0.05 and r["ci95"][1] >= r["value"] - 0.05


def test_permutation_test_is_exact_for_few_tasks():
    a = np.array([0.9, 0.8, 0.7, 0.95, 0.6])
    b = np.array([0.5, 0.6, 0.65, 0.7, 0.62])
    d = a - b
    # explicit enumeration of all 2^5 sign patterns
    flips = [abs(np.mean(np.array(s) * d)) for s in itertools.product((-1, 1), repeat=5)]
    want = np.mean(np.array(flips) >= abs(d.mean()) - 1e-12)
    r = stats.paired_permutation(a, b)
    assert r["p_value"] == pytest.approx(want) and r["effect"] == pytest.approx(d.mean()) and r["n"] == 5


def test_monte_carlo_permutation_test_agrees_with_scipy():
    from scipy.stats import permutation_test
    rng = np.random.default_rng(4)
    a = rng.normal(0.3, 1.0, 40)
    b = rng.normal(0.0, 1.0, 40)
    ours = stats.paired_permutation(a, b, n_perm=20000, seed=1)
    ref = permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                           n_resamples=20000, random_state=2).pvalue
    assert ours["p_value"] == pytest.approx(ref, abs=0.02)
    lo, hi = ours["ci95"]
    assert lo < ours["effect"] < hi
    same = stats.paired_permutation(a, a + rng.normal(0, 1e-9, 40), n_perm=2000)
    assert same["p_value"] > 0.05


def test_spearman_matches_scipy_and_handles_degenerate_input():
    from scipy.stats import spearmanr
    rng = np.random.default_rng(5)
    x = rng.random(12)
    y = x + 0.3 * rng.random(12)
    r = stats.spearman(x, y, n_boot=500)
    ref = spearmanr(x, y)
    assert r["rho"] == pytest.approx(ref.statistic) and r["p_value"] == pytest.approx(ref.pvalue) and r["n"] == 12
    assert r["p_method"].startswith("asymptotic")                     # beyond 10 pairs: scipy's p
    assert r["ci95"][0] <= r["rho"] <= r["ci95"][1]
    assert stats.spearman([1, 2, 3], [5, 5, 5])["rho"] is None        # constant: undefined, not a crash
    assert stats.spearman([1, 2], [1, 2])["rho"] is None


def test_spearman_at_five_languages_has_an_exact_p_and_no_bootstrap_ci():
    r = stats.spearman([1, 2, 3, 4, 5], [1, 2, 3, 5, 4])               # rho 0.9: scipy's asymptotic p is 0.037
    assert r["rho"] == pytest.approx(0.9) and r["p_value"] == pytest.approx(10 / 120)
    assert r["p_method"] == "exact permutation" and r["ci95"] is None and "too few" in r["ci_note"]
    assert stats.spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 11])["p_value"] == pytest.approx(2 / 120)   # rho 1


def test_exact_spearman_p_matches_scipys_permutation_test_with_ties():
    from scipy.stats import permutation_test, rankdata
    x, y = [1, 2, 2, 3, 5, 5, 7], [3, 1, 4, 4, 5, 9, 2]
    xr, yr = rankdata(x), rankdata(y)
    ref = permutation_test((xr,), lambda a, axis=-1: (a * yr).sum(axis), permutation_type="pairings",
                           n_resamples=np.inf, vectorized=True)
    assert stats.spearman(x, y)["p_value"] == pytest.approx(ref.pvalue)
    rng = np.random.default_rng(1)
    x = rng.random(10)
    r = stats.spearman(x, x + rng.random(10), n_boot=200)               # 10! pairings, counted not listed
    assert r["p_method"] == "exact permutation" and r["ci95"] is not None


def test_rank_test_effect_is_the_auc():
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(6)
    outcome = rng.random(60) < 0.4
    scores = rng.random(60) + 0.5 * outcome
    r = stats.rank_test(scores, outcome, n_boot=300)
    assert r["auc"] == pytest.approx(roc_auc_score(outcome, scores))
    assert r["p_value"] < 0.05 and r["n_positive"] == outcome.sum() and r["n_clusters"] == 60
    assert stats.rank_test([0.1, 0.2], [False, False])["auc"] is None


def test_rank_test_resamples_tasks_not_their_repeated_units():
    rng = np.random.default_rng(7)
    outcome = rng.random(80) < 0.4
    scores = rng.random(80) + 0.3 * outcome
    once = stats.rank_test(scores, outcome, n_boot=1000)
    # the same 80 tasks, each entered 5 times (as a task in 5 languages would be)
    five = np.repeat(scores, 5), np.repeat(outcome, 5)
    naive = stats.rank_test(*five, n_boot=1000)
    clustered = stats.rank_test(*five, clusters=np.repeat(np.arange(80), 5), n_boot=1000)
    width = lambda r: r["ci95"][1] - r["ci95"][0]  # noqa: E731
    assert clustered["auc"] == pytest.approx(once["auc"]) and clustered["n_clusters"] == 80
    assert width(naive) < 0.6 * width(once)                             # units as independent: too narrow
    assert width(clustered) == pytest.approx(width(once), rel=0.2)
    assert clustered["p_value"] > naive["p_value"] or naive.get("p_bound")
    few = stats.rank_test(*five, clusters=np.repeat(np.arange(80) % 6, 5))
    assert few["ci95"] is None and few["p_value"] is None and "too few" in few["ci_note"]
