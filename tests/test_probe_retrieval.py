"""Cross-language retrieval against a brute-force float64 ranking, and the cheap import."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from probe import retrieval_accuracy
from probe.retrieval import gold_ranks, retrieval_scores


def brute_force_ranks(Q: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Rank of keys[i] for queries[i] by cosine: 1 + number of keys strictly more similar."""
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Kn = K / np.linalg.norm(K, axis=1, keepdims=True)
    S = Qn.astype(np.float64) @ Kn.astype(np.float64).T
    return 1 + (S > np.diag(S)[:, None]).sum(1)


@pytest.fixture(scope="module")
def noisy_pairs():
    rng = np.random.default_rng(0)
    out = []
    for n, d, noise in [(50, 16, 0.8), (200, 32, 1.5), (9, 4, 0.3)]:
        base = rng.standard_normal((n, d))
        out.append((base + noise * rng.standard_normal((n, d)), base + noise * rng.standard_normal((n, d))))
    return out


def test_ranks_equal_brute_force_ranks(noisy_pairs):
    for Q, K in noisy_pairs:
        assert np.array_equal(gold_ranks(Q, K), brute_force_ranks(Q, K))


def test_top_k_and_mrr_equal_brute_force(noisy_pairs):
    for Q, K in noisy_pairs:
        ranks = brute_force_ranks(Q, K)
        sc = retrieval_scores(Q, K)
        assert sc["top1"].mean() == pytest.approx(np.mean(ranks == 1))
        assert sc["top5"].mean() == pytest.approx(np.mean(ranks <= 5))
        assert sc["rr"].mean() == pytest.approx(np.mean(1.0 / ranks))
        for k in (1, 3, 5):
            assert retrieval_accuracy(Q, K, k=k) == pytest.approx(np.mean(ranks <= k))
    Q, K = noisy_pairs[1]
    assert 0.0 < retrieval_accuracy(Q, K) < 1.0        # the fixture is neither trivial nor hopeless


def test_retrieval_is_cosine_not_inner_product():
    rng = np.random.default_rng(1)
    Q = rng.standard_normal((30, 8))
    K = Q * rng.uniform(0.01, 100, size=(30, 1))        # same directions, wildly different norms
    assert retrieval_accuracy(Q, K) == 1.0
    assert retrieval_accuracy(Q.astype(np.float16), K) == 1.0


def test_shuffled_keys_give_chance_level_and_misaligned_shapes_are_refused():
    rng = np.random.default_rng(2)
    Q = rng.standard_normal((100, 8))
    assert retrieval_accuracy(Q, Q) == 1.0
    assert retrieval_accuracy(Q, Q[rng.permutation(100)]) < 0.1
    with pytest.raises(ValueError):
        retrieval_accuracy(Q, Q[:50])
    with pytest.raises(ValueError):
        retrieval_accuracy(Q, Q, k=0)


def test_importing_the_metrics_is_cheap():
    code = ("import sys; from probe import retrieval_accuracy, linear_cka; "
            "print(sorted(m for m in ('torch', 'nnsight', 'faiss', 'sklearn', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ties_are_counted_not_broken_by_index_order():
    same = np.ones((4, 3))
    sc = retrieval_scores(same, same)                     # every key ties with the gold key
    assert np.allclose(sc["top1"], 0.25) and np.allclose(sc["top5"], 1.0)
    assert np.allclose(sc["rr"], (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert retrieval_accuracy(same, same) == 0.25
    K = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])   # keys 0 and 1 identical
    sc = retrieval_scores(K, K)
    assert sc["top1"].tolist() == [0.5, 0.5, 1.0, 1.0] and sc["rr"].tolist() == [0.75, 0.75, 1.0, 1.0]
    assert gold_ranks(K, K).tolist() == [1, 1, 1, 1]      # a tie takes the best place
    zero = np.zeros((5, 3))                               # an empty program: cosine 0 with every key
    assert np.allclose(retrieval_scores(zero, np.eye(5, 3))["top1"], 0.2)


def test_tied_scores_are_the_expectation_over_random_orders_and_ignore_key_order():
    rng = np.random.default_rng(7)
    n = 30
    Q = rng.integers(0, 2, (n, 3)).astype(np.float64)       # few distinct directions: many ties
    K = Q.copy()
    K[::3] = rng.integers(0, 2, (10, 3))
    sc = retrieval_scores(Q, K)
    Qn = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    Kn = K / np.maximum(np.linalg.norm(K, axis=1, keepdims=True), 1e-12)
    S = np.round(Qn @ Kn.T, 9)
    hits, rr = np.zeros(n), np.zeros(n)
    draws = 4000
    for _ in range(draws):                                # sort by similarity, a random order among ties
        order = np.lexsort((rng.random((n, n)), -S), axis=1)
        rank = np.argmax(order == np.arange(n)[:, None], axis=1) + 1
        hits += rank == 1
        rr += 1 / rank
    assert np.allclose(sc["top1"], hits / draws, atol=0.04) and np.allclose(sc["rr"], rr / draws, atol=0.03)
    assert 0 < sc["top1"].mean() < 1 and np.any((sc["top1"] > 0) & (sc["top1"] < 1))
    perm = rng.permutation(n)
    again = retrieval_scores(Q[perm], K[perm])
    for k in sc:
        assert np.allclose(again[k], sc[k][perm])


def test_queries_scored_in_blocks_give_the_places_of_one_block(noisy_pairs, monkeypatch):
    import probe.retrieval as retrieval
    Q, K = noisy_pairs[1]
    whole = retrieval.gold_place(Q, K)
    monkeypatch.setattr(retrieval, "BLOCK", 7)            # 200 queries: 29 blocks, the last one short
    blocked = retrieval.gold_place(Q, K)
    assert np.array_equal(whole[0], blocked[0]) and np.array_equal(whole[1], blocked[1])
    assert np.array_equal(blocked[0] + 1, brute_force_ranks(Q, K))
