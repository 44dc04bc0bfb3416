"""train/power.py: the planned half-width is what simulated studies of that size get, and the components
estimated from a pilot grid are the ones it was drawn with."""
from __future__ import annotations

import numpy as np
import pytest

from train.power import Components, components_from_grid, components_from_pilot, half_width, plan
from train.transfer import seed_task_interval


def _studies(rng, c: Components, S: int, n: int, k: int, R: int = 1):
    """k simulated seed x task grids (S seeds, n tasks; each seed's value the mean of R RL runs)."""
    a = rng.normal(0, np.sqrt(c.seed - c.rl), (k, S, 1))
    r = rng.normal(0, np.sqrt(c.rl), (k, S, 1, R)).mean(-1)
    b = rng.normal(0, np.sqrt(c.task), (k, 1, n))
    e = rng.normal(0, np.sqrt(c.resid), (k, S, n, R)).mean(-1)
    return 1.0 + a + r + b + e


@pytest.mark.parametrize("c,S,n", [(Components(seed=1.4, task=30.0, resid=60.0), 3, 300),
                                   (Components(seed=4.0, task=5.0, resid=20.0), 5, 1000),
                                   (Components(seed=0.0, task=10.0, resid=40.0), 4, 200)])
def test_planned_half_width_matches_simulated_studies(c, S, n):
    rng = np.random.default_rng(0)
    D = _studies(rng, c, S, n, 400)
    res = seed_task_interval(D)
    hw = (res["hi"] - res["lo"]) / 2
    assert half_width(c, S, n) == pytest.approx(float(np.mean(hw)), rel=0.06)
    assert half_width(c, S, n, quantile=0.8) == pytest.approx(float(np.quantile(hw, 0.8)), rel=0.08)
    covered = float(np.mean((res["lo"] <= 1.0) & (res["hi"] >= 1.0)))
    assert covered >= 0.9


def test_rl_runs_per_seed_shrink_only_the_rl_share():
    c = Components(seed=2.0, task=5.0, resid=30.0, rl=1.5)
    one, four = half_width(c, 3, 500), half_width(c, 3, 500, rl_per_seed=4)
    assert four < one
    no_rl_share = Components(seed=2.0, task=5.0, resid=30.0, rl=0.0)
    assert half_width(no_rl_share, 3, 500, rl_per_seed=4) < half_width(no_rl_share, 3, 500)   # resid only
    rng = np.random.default_rng(1)
    res = seed_task_interval(_studies(rng, c, 3, 500, 400, R=4))
    assert four == pytest.approx(float(np.mean((res["hi"] - res["lo"]) / 2)), rel=0.06)


def test_components_are_recovered_from_a_pilot_grid():
    c = Components(seed=3.0, task=20.0, resid=50.0)
    est = [components_from_grid(g) for g in _studies(np.random.default_rng(2), c, 6, 800, 200)[:, :, :]]
    assert np.mean([e.seed for e in est]) == pytest.approx(3.0, rel=0.2)
    assert np.mean([e.task for e in est]) == pytest.approx(20.0, rel=0.1)
    assert np.mean([e.resid for e in est]) == pytest.approx(50.0, rel=0.05)


def test_plan_finds_the_smallest_number_of_seeds_and_the_task_floor():
    c = Components(seed=1.44, task=0.0, resid=80.0)
    p = plan(c, n_tasks=1000, target=1.0, max_seeds=25)
    S = p["smallest"]["1"]
    assert S is not None and half_width(c, S, 1000, draws=5_000) <= 1.0 < half_width(c, S - 1, 1000, draws=5_000)
    hopeless = plan(Components(seed=1.0, task=400.0, resid=0.0), n_tasks=300, target=1.0, max_seeds=10)
    assert hopeless["smallest"]["1"] is None and hopeless["task_floor"] > 1.0


def test_a_one_seed_pilot_is_planned_conservatively():
    rng = np.random.default_rng(3)
    c = components_from_pilot(rng.normal(0, 8, 1000), [1.7, -0.7, 0.5])
    assert c.resid == 0.0 and c.task == pytest.approx(64, rel=0.15) and c.seed == pytest.approx(1.44, rel=0.01)
    with pytest.raises(ValueError, match="rl"):
        Components(seed=1.0, task=1.0, resid=1.0, rl=2.0)
