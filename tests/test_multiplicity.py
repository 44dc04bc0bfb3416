"""evals/scoring/multiplicity.py: Holm's adjustment and the marking of a declared family, the one
implementation behind the transfer tables, the pooled study, the interventions and the probes' tests."""
from __future__ import annotations

import pytest

from evals.scoring.multiplicity import holm, mark_confirmatory


def test_holm_adjustment_matches_a_hand_computation_and_skips_missing_p_values():
    # sorted p 0.01, 0.02, 0.03, 0.5 over m = 4 -> 0.04, 0.06, 0.06 (kept monotone), 0.5
    assert holm([0.03, 0.01, None, 0.5, 0.02]) == pytest.approx([0.06, 0.04, None, 0.5, 0.06])
    assert holm([0.4, 0.3]) == pytest.approx([0.6, 0.6])
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    assert holm([]) == []


def test_the_family_is_marked_in_place_and_cells_without_a_p_value_are_left_out():
    a, b, c = {"p_value": 0.01}, {"p_value": 0.04}, {"p_value": None}
    kept = mark_confirmatory([("a", a), ("b", b), ("c", c)], alpha=0.05)
    assert [name for name, _ in kept] == ["a", "b"]
    assert a["p_holm"] == pytest.approx(0.02) and a["significant"] and a["role"] == "confirmatory"
    assert b["p_holm"] == pytest.approx(0.04) and b["significant"]
    assert "role" not in c
    assert not mark_confirmatory([("a", {"p_value": 0.03}), ("b", {"p_value": 0.04})], alpha=0.05)[0][1]["significant"]


def test_a_p_value_at_its_resampling_bound_marks_the_holm_values_ranked_from_it_as_bounds():
    low = {"p_value": 0.0005, "p_bound": True}      # 1/B: the true p may be smaller
    high = {"p_value": 0.2}                          # ranked after it: its step-down maximum runs through the bound
    mark_confirmatory([("low", low), ("high", high)], alpha=0.05)
    assert low["p_holm_bound"] and low["p_holm"] == pytest.approx(0.001)
    assert high["p_holm_bound"] and high["p_holm"] == pytest.approx(0.2)
    plain = [("a", {"p_value": 0.0005}), ("b", {"p_value": 0.2})]
    assert not any(cell["p_holm_bound"] for _, cell in mark_confirmatory(plain, alpha=0.05))
