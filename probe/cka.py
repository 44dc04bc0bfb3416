"""Linear CKA (Kornblith et al., 2019) and its debiased form, one pair at a time or as a matrix.

    CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)),   K = X X^T, L = Y Y^T (rows = the same inputs)

- linear (biased): HSIC ∝ <HKH, HLH> with H the centring matrix; HKH is the Gram matrix of the
  column-centred X. Inflated when n is small or d >> n.
- debiased: HSIC ∝ <U(K), U(L)> with U the U-centring of Székely and Rizzo (diagonal zeroed, row and
  column sums removed with 1/(n-2), total added back with 1/((n-1)(n-2))), the unbiased HSIC estimator
  (Song et al., 2012). It can be slightly negative: everything is float64 and a non-positive
  denominator gives NaN instead of a square root of a negative number.

`cka_matrices(reps)` fills the whole matrix over a list of representations of the same n inputs (layers,
checkpoints, languages on the same tasks) from one Gram computation per representation, in row blocks:
the Gram matrices are never all held at once (30 layers x 2000 inputs would be ~1 GB), only one
[block, n] slice of each. Blocks below the diagonal are skipped (the Gram matrices are symmetric).
Hand-written because the libraries that offer CKA compute pairs from scratch (900 Gram matrices for
30 x 30) and some get the debiased form wrong (it needs U-centred Gram matrices, not plain centring).
Not for: choosing which representations to compare (`app/probing.py`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_BLOCK_ELEMENTS = 1 << 23  # float64 elements per stacked [n_reps, block, n] slice (64 MB)


def _as64(X) -> np.ndarray:
    if hasattr(X, "detach"):  # a torch tensor, possibly bf16/fp16: cast up before anything else
        X = X.detach().to("cpu").double().numpy()
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"a representation must be 2-D [n, d], got shape {X.shape}")
    return X


def cka_matrices(reps: Sequence, debiased: bool = True) -> dict[str, np.ndarray]:
    """{"linear": [m, m], "debiased": [m, m]} CKA between every pair of `reps` (each [n, d_i], the
    same n inputs in the same order). "debiased" is left out when `debiased` is False; it is NaN for
    n < 4. One Gram computation per representation."""
    Xs = [_as64(X) for X in reps]
    if not Xs:
        raise ValueError("need at least one representation")
    n = Xs[0].shape[0]
    if any(X.shape[0] != n for X in Xs):
        raise ValueError(f"all representations need the same rows, got {[X.shape[0] for X in Xs]}")
    m = len(Xs)
    Xc = [X - X.mean(0) for X in Xs]               # Gram of centred X = H K H
    KK = _gram_products(Xc)                        # <HK_aH, HK_bH> for every pair
    out = {"linear": _normalize(KK)}
    if debiased:
        out["debiased"] = _normalize(_u_products(KK, Xc)) if n >= 4 else np.full((m, m), np.nan)
    return out


def _gram_products(Xc: list[np.ndarray]) -> np.ndarray:
    """<K_a, K_b> (Frobenius) for K_a = Xc_a Xc_a^T, by row blocks [r0:r1]: the diagonal square
    [r0:r1, r0:r1] once and the part right of it twice (the part left of it is its mirror image)."""
    m, n = len(Xc), Xc[0].shape[0]
    KK = np.zeros((m, m))
    b = max(1, min(n, _BLOCK_ELEMENTS // max(1, m * n)))
    for r0 in range(0, n, b):
        r1 = min(n, r0 + b)
        diag = np.stack([X[r0:r1] @ X[r0:r1].T for X in Xc]).reshape(m, -1)
        KK += diag @ diag.T
        if r1 < n:
            right = np.stack([X[r0:r1] @ X[r1:].T for X in Xc]).reshape(m, -1)
            KK += 2.0 * (right @ right.T)
    return KK


def _u_products(KK: np.ndarray, Xc: list[np.ndarray]) -> np.ndarray:
    """<U(K_a), U(K_b)> from <K_a, K_b> and the diagonals, without forming U(K).

    U-centring is unchanged by centring X first (it removes any a 1^T + 1 a^T), and K = Xc Xc^T has
    zero row sums, so for i != j: U(K)_ij = K_ij + p_i + p_j + c with p = diag(K)/(n-2) and
    c = -sum(diag K)/((n-1)(n-2)); U(K)_ii = 0. Expanding the sum over i != j of the product of two
    such matrices (row sums of K are zero) gives the terms below."""
    n = Xc[0].shape[0]
    d = np.stack([np.einsum("ij,ij->i", X, X) for X in Xc])   # [m, n] diagonals of K
    p = d / (n - 2)
    D = d.sum(1)
    c = -D / ((n - 1) * (n - 2))
    P = p.sum(1)
    dd, pd, pp = d @ d.T, p @ d.T, p @ p.T      # pd[a, b] = p_a . d_b
    kk = KK - dd                                 # sum over i != j of K_a K_b
    cross = -2 * pd.T - c[None, :] * D[:, None]  # sum_{i!=j} K_a,ij (p_b,i + p_b,j + c_b)
    cross = cross + cross.T
    ca, cb = c[:, None], c[None, :]
    Pa, Pb = P[:, None], P[None, :]
    full = 2 * n * pp + 2 * Pa * Pb + 2 * n * (cb * Pa + ca * Pb) + n * n * ca * cb
    on_diag = 4 * pp + 2 * (cb * Pa + ca * Pb) + n * ca * cb
    return kk + cross + full - on_diag


def _normalize(M: np.ndarray) -> np.ndarray:
    d = np.diag(M).copy()
    denom = np.outer(d, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, M / np.sqrt(np.where(denom > 0, denom, 1.0)), np.nan)
    return out


def linear_cka(X, Y, debiased: bool = False) -> float:
    """Linear CKA between X [n, d1] and Y [n, d2] (rows = the same inputs); debiased with U-centred
    HSIC when `debiased`. Float64 throughout; NaN when undefined (a constant representation, n < 4
    for the debiased form)."""
    M = cka_matrices([X, Y], debiased=debiased)
    return float(M["debiased" if debiased else "linear"][0, 1])
