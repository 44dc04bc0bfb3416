"""pass@k against brute-force enumeration and exact arithmetic; bootstrap intervals that cover the truth
about as often as they claim; paired differences; the pass@k table."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from evals import pass_at_k
from evals.scoring import bootstrap_ci, mean_pass_at_k, paired_bootstrap_diff, pass_at_k_table


def brute_force_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (the first c correct) holding at least one correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_brute_force_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


@pytest.mark.parametrize("n,c,k", [(200, 13, 1), (200, 13, 10), (200, 13, 100), (2000, 1000, 1000),
                                   (10_000, 1, 1), (10_000, 3, 5000), (500, 499, 2)])
def test_pass_at_k_is_stable_where_binomials_overflow_floats(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(exact_pass_at_k(n, c, k)), rel=1e-9, abs=1e-12)


def test_known_values():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)          # pass@1 is the fraction correct
    assert pass_at_k(10, 1, 5) == pytest.approx(0.5)          # 1 - C(9,5)/C(10,5) = 1 - 126/252
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)           # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(100, 0, 10) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0                         # fewer than k wrong: always a correct one
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0


def test_pass_at_k_grows_with_k_and_with_c():
    for k in range(1, 20):
        assert pass_at_k(20, 4, k + 1) >= pass_at_k(20, 4, k)
    for c in range(20):
        assert pass_at_k(20, c + 1, 5) >= pass_at_k(20, c, 5)


@pytest.mark.parametrize("n,c,k", [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_invalid_counts_raise(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_averages_over_problems():
    assert mean_pass_at_k([(10, 3), (10, 0), (10, 10)], 1) == pytest.approx((0.3 + 0 + 1) / 3)
    with pytest.raises(ValueError):
        mean_pass_at_k([], 1)


# ---------------------------------------------------------------- bootstrap

def test_bootstrap_interval_covers_the_true_rate_about_95_percent_of_the_time():
    rng = np.random.default_rng(1234)
    p, n_problems, reps = 0.3, 200, 300
    covered = 0
    for rep in range(reps):
        values = rng.random(n_problems) < p
        lo, hi = bootstrap_ci(values.astype(float), n_boot=500, seed=rep)
        covered += lo <= p <= hi
    assert 0.89 <= covered / reps <= 0.99, covered / reps


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_problems():
    rng = np.random.default_rng(7)
    small = rng.random(100) < 0.5
    large = rng.random(2000) < 0.5
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert (hi_l - lo_l) < 0.5 * (hi_s - lo_s)   # width ~ 1/sqrt(n): 20x the problems, ~4.5x narrower
    # a normal-approximation check of the width at n=2000, p=0.5: 2 * 1.96 * sqrt(p(1-p)/n) ~ 0.0438
    assert 0.035 < hi_l - lo_l < 0.053


def test_bootstrap_is_reproducible_by_seed_and_takes_other_statistics():
    values = np.arange(50, dtype=float) ** 1.5
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)
    lo, hi = bootstrap_ci(values, stat=np.median, n_boot=300)
    assert lo <= np.median(values) <= hi
    assert bootstrap_ci([0.25]) == (0.25, 0.25)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_paired_difference_of_identical_systems_is_zero():
    a = (np.random.default_rng(0).random(300) < 0.4).astype(float)
    d = paired_bootstrap_diff(a, a)
    assert (d.mean, d.lo, d.hi, d.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_difference_detects_a_real_improvement_and_not_noise():
    rng = np.random.default_rng(5)
    base = (rng.random(400) < 0.4).astype(float)
    better = base.copy()
    better[(base == 0) & (rng.random(400) < 0.2)] = 1.0          # fixes ~12% of problems, breaks none
    d = paired_bootstrap_diff(better, base)
    assert d.mean == pytest.approx(better.mean() - base.mean())
    assert 0 < d.lo < d.mean < d.hi and d.p_value < 0.01
    # Two independent draws of the same system: the interval should contain 0.
    other = (rng.random(400) < 0.4).astype(float)
    noise = paired_bootstrap_diff(other, base)
    assert noise.lo <= 0 <= noise.hi
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap_diff([1.0, 0.0], [1.0])


def test_pass_at_k_table_per_language():
    counts = {"python": [(10, 3), (10, 10), (10, 0), (10, 7)], "ruby": [(10, 1)] * 3}
    table = pass_at_k_table(counts, ks=(1, 5))
    assert set(table) == {"python", "ruby"}
    py = table["python"]
    assert py["n"] == 4
    assert py["pass@1"] == pytest.approx(np.mean([pass_at_k(10, c, 1) for _, c in counts["python"]]))
    assert py["pass@5"] == pytest.approx(np.mean([pass_at_k(10, c, 5) for _, c in counts["python"]]))
    assert py["ci95"] == py["ci95@1"]
    for k in (1, 5):
        lo, hi = py[f"ci95@{k}"]
        assert lo <= py[f"pass@{k}"] <= hi
    assert table["ruby"]["pass@1"] == pytest.approx(0.1) and table["ruby"]["ci95"] == [
        pytest.approx(0.1), pytest.approx(0.1)]
    with pytest.raises(ValueError):
        pass_at_k_table({"python": [(3, 1)]}, ks=(5,))
