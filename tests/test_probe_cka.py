"""Linear and debiased CKA against HSIC written from its definition, Kornblith et al.'s demo values,
and the invariances CKA must have."""
from __future__ import annotations

import numpy as np
import pytest

from probe import cka_matrices, linear_cka


def hsic_biased(K: np.ndarray, L: np.ndarray) -> float:
    """Gretton et al. (2005): tr(K H L H) / (n - 1)^2."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(K @ H @ L @ H)) / (n - 1) ** 2


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012), eq. 5: with zero-diagonal K~ and L~,
    [tr(K~L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3))."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0)
    np.fill_diagonal(Lt, 0)
    one = np.ones(n)
    term = np.trace(Kt @ Lt) + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2)) \
        - 2 / (n - 2) * (one @ Kt @ Lt @ one)
    return float(term / (n * (n - 3)))


def cka_from_definition(X: np.ndarray, Y: np.ndarray, debiased: bool) -> float:
    K, L = X @ X.T, Y @ Y.T
    h = hsic_unbiased if debiased else hsic_biased
    return h(K, L) / np.sqrt(h(K, K) * h(L, L))


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(7)
    out = []
    for n, d1, d2 in [(12, 3, 5), (40, 10, 10), (30, 50, 8)]:
        X = rng.standard_normal((n, d1))
        Y = X[:, :1] @ rng.standard_normal((1, d2)) + rng.standard_normal((n, d2))   # related, not equal
        out.append((X, Y))
    return out


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_matches_hsic_written_from_the_definition(pairs, debiased):
    for X, Y in pairs:
        assert linear_cka(X, Y, debiased=debiased) == pytest.approx(cka_from_definition(X, Y, debiased), abs=1e-10)


def test_kornblith_demo_values():
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = X + np.random.randn(100, 10)
    assert linear_cka(X, Y) == pytest.approx(0.55761, abs=5e-6)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(0.51346, abs=5e-6)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_invariant_to_orthogonal_maps_isotropic_scaling_and_translation(pairs, debiased):
    rng = np.random.default_rng(3)
    for X, Y in pairs:
        base = linear_cka(X, Y, debiased)
        Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], X.shape[1])))
        assert linear_cka(X @ Q, Y, debiased) == pytest.approx(base, abs=1e-10)
        assert linear_cka(X, 7.5 * Y, debiased) == pytest.approx(base, abs=1e-10)
        assert linear_cka(X + rng.standard_normal(X.shape[1]) * 100, Y, debiased) == pytest.approx(base, abs=1e-9)
        assert linear_cka(Y, X, debiased) == pytest.approx(base, abs=1e-12)


def test_cka_is_not_invariant_to_anisotropic_scaling(pairs):
    X, Y = pairs[1]
    S = np.diag(np.linspace(0.1, 10, X.shape[1]))
    assert abs(linear_cka(X @ S, Y) - linear_cka(X, Y)) > 1e-3


def test_cka_of_a_representation_with_itself_is_one_and_biased_cka_is_inflated_for_independent_data():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 64)), rng.standard_normal((32, 64))
    assert linear_cka(X, X) == pytest.approx(1.0)
    assert linear_cka(X, X, debiased=True) == pytest.approx(1.0)
    assert linear_cka(X, Y) > 0.3                        # the biased estimator is inflated when d >> n
    assert abs(linear_cka(X, Y, debiased=True)) < 0.1    # the debiased one is near 0, may be negative


def test_debiased_cka_may_be_negative_and_undefined_cases_are_nan():
    rng = np.random.default_rng(1)
    values = [linear_cka(rng.standard_normal((20, 3)), rng.standard_normal((20, 3)), debiased=True) for _ in range(20)]
    assert min(values) < 0 and all(np.isfinite(values))
    X = rng.standard_normal((10, 4))
    assert np.isnan(linear_cka(X, np.ones((10, 3))))                    # constant representation
    assert np.isnan(linear_cka(X[:3], X[:3] * 2, debiased=True))       # n < 4: no unbiased HSIC
    with pytest.raises(ValueError):
        linear_cka(X, X[:5])


def test_cka_casts_half_precision_tensors_up_to_float64():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 16)).astype(np.float32)
    Y = (X @ rng.standard_normal((16, 16))).astype(np.float32) + rng.standard_normal((50, 16)).astype(np.float32)
    Xb, Yb = torch.tensor(X).to(torch.bfloat16), torch.tensor(Y).to(torch.bfloat16)
    expect = cka_from_definition(Xb.double().numpy(), Yb.double().numpy(), debiased=True)
    assert linear_cka(Xb, Yb, debiased=True) == pytest.approx(expect, abs=1e-10)


def test_cka_matrix_equals_pairwise_cka_whatever_the_block_size(monkeypatch):
    import probe.cka as cka
    rng = np.random.default_rng(5)
    base = rng.standard_normal((37, 6))
    reps = [base @ rng.standard_normal((6, d)) + s * rng.standard_normal((37, d))
            for d, s in [(4, 0.1), (9, 1.0), (6, 3.0), (12, 0.5)]]
    expect_lin = np.array([[cka_from_definition(a, b, False) for b in reps] for a in reps])
    expect_deb = np.array([[cka_from_definition(a, b, True) for b in reps] for a in reps])
    for block in (1 << 23, 37 * 4 * 5, 1):            # one block, several, one row at a time
        monkeypatch.setattr(cka, "_BLOCK_ELEMENTS", block)
        M = cka_matrices(reps)
        assert np.allclose(M["linear"], expect_lin, atol=1e-10)
        assert np.allclose(M["debiased"], expect_deb, atol=1e-10)
        assert np.allclose(M["linear"], M["linear"].T) and np.allclose(np.diag(M["debiased"]), 1.0)
