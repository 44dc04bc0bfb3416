"""Sizing a study: how many seeds (and RL seeds per SFT checkpoint) a contrast needs for a target interval.

The pooled intervals of `train.transfer` use the crossed random-effects model y[s, t] = mu + a_s + b_t + e_st
(seeds s = 1..S, tasks t = 1..n, every seed scored on the same tasks). Its grand mean has variance

    Var = sigma_seed^2 / S + sigma_task^2 / n + sigma_resid^2 / (S n),

and `seed_task_interval` estimates it from the mean squares, whose expectations are
E[MS_seed] = n sigma_seed^2 + sigma_resid^2, E[MS_task] = S sigma_task^2 + sigma_resid^2 and
E[MS_resid] = sigma_resid^2, with Satterthwaite's degrees of freedom. `half_width(components, S, n)` is the
mean half-width t_df(1 - alpha/2) * sqrt(Var-hat) of studies of that size, over draws of the mean squares
(each its expectation times a chi-square over its df), or a quantile of it: with 3 seeds the seed mean
square has 2 df, so one study's half-width varies a lot around the mean. Checked against simulated
studies in tests/test_power.py.

A seed here is a whole training chain (pretraining, SFT, RL). When RL seeds can vary on a shared SFT
checkpoint (R RL runs per training seed), the seed term splits into sigma_seed^2 / S + sigma_rl^2 / (S R):
`half_width(..., rl_per_seed=R)` uses that nested form (the RL runs of one seed share its pretraining and
SFT; sigma_rl is the RL-only part of the seed variance, which a pilot can only estimate with R >= 2 RL seeds
on one checkpoint; with none, `plan` says so and treats every seed as a full chain).

`components_from_grid(D)` estimates the three components from a pilot's seed x task grid (S >= 2) by the
ANOVA moments; `components_from_pilot(per_task, per_seed)` combines a one-seed pilot's per-task values
(their variance is sigma_task^2 + sigma_resid^2, which it attributes to the task term: conservative, since
that share then never shrinks with S) with the per-seed estimates of an earlier study (their variance over
seeds is sigma_seed^2 + sigma_resid^2 / n at fixed tasks). `plan(components, n, target)` lists the
half-width for S = 2..max_seeds and the smallest S that reaches the target, with its cost in seed-chains.
Not for: computing intervals of a finished study (`train.transfer`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Components:
    """Variance components of one contrast, in the contrast's units squared (points^2 for gains in points)."""
    seed: float            # between training seeds (a shift common to every task of one seed)
    task: float            # between tasks (common to every seed)
    resid: float           # seed x task interaction and noise
    rl: float = 0.0        # the RL-only part of `seed`, when RL seeds vary on a shared SFT checkpoint

    def __post_init__(self):
        for name in ("seed", "task", "resid", "rl"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Components.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.rl > self.seed:
            raise ValueError(f"Components.rl ({self.rl}) is a part of Components.seed ({self.seed}): it cannot exceed it")


def half_width(c: Components, seeds: int, n_tasks: int, alpha: float = 0.05, rl_per_seed: int = 1,
               quantile: float | None = None, draws: int = 20_000) -> float:
    """Half-width of the (1 - alpha) crossed-model interval of a study with `seeds` training seeds,
    `rl_per_seed` RL runs on each seed's SFT checkpoint and `n_tasks` tasks: its mean over studies of that
    size (or its `quantile`, e.g. 0.8: four studies in five get at most this). The interval is computed
    from estimated mean squares, each its expectation times an independent chi-square / df (normal
    errors), so with few seeds the half-width varies from study to study; `draws` such studies, seeded,
    give its distribution."""
    import numpy as np
    from scipy import stats
    if seeds < 2 or n_tasks < 2 or rl_per_seed < 1:
        raise ValueError(f"half_width needs >= 2 seeds, >= 2 tasks and >= 1 RL run per seed, got {seeds}, "
                         f"{n_tasks}, {rl_per_seed}")
    S, n, R = seeds, n_tasks, rl_per_seed
    # The RL runs of a seed averaged first: the variance components of one cell of the crossed design.
    unit_seed = (c.seed - c.rl) + c.rl / R
    unit_resid = c.resid / R
    expected = np.array([n * unit_seed + unit_resid, S * c.task + unit_resid, unit_resid])
    dfs = np.array([S - 1, n - 1, (S - 1) * (n - 1)], dtype=np.float64)
    rng = np.random.default_rng(0)
    ms = expected * rng.chisquare(dfs, size=(draws, 3)) / dfs
    full = np.maximum(ms[:, 0] + ms[:, 1] - ms[:, 2], ms[:, 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        df = full ** 2 / (ms ** 2 / dfs).sum(1)
    df = np.clip(np.nan_to_num(df, nan=dfs[1]), 1.0, dfs.sum())
    hw = stats.t.ppf(1 - alpha / 2, df) * np.sqrt(full / (S * n))
    return float(np.mean(hw) if quantile is None else np.quantile(hw, quantile))


def components_from_grid(D) -> Components:
    """The ANOVA-moment estimates from a pilot's seed x task grid D [S, n] (S >= 2), negative ones set to 0."""
    import numpy as np
    D = np.asarray(D, dtype=np.float64)
    S, n = D.shape
    if S < 2 or n < 2:
        raise ValueError(f"components_from_grid needs at least 2 seeds and 2 tasks, got {S} x {n}")
    mean, seed_means, task_means = D.mean(), D.mean(1), D.mean(0)
    ms_seed = n * seed_means.var(ddof=1)
    ms_task = S * task_means.var(ddof=1)
    resid = D - seed_means[:, None] - task_means[None, :] + mean
    ms_resid = float((resid ** 2).sum() / ((S - 1) * (n - 1)))
    return Components(seed=max((ms_seed - ms_resid) / n, 0.0), task=max((ms_task - ms_resid) / S, 0.0),
                      resid=ms_resid)


def components_from_pilot(per_task: Sequence[float], per_seed: Sequence[float]) -> Components:
    """Components from a one-seed pilot's per-task values of the contrast and the per-seed estimates of an
    earlier study of the same contrast on a common task set (see the module docstring)."""
    import numpy as np
    per_task, per_seed = np.asarray(per_task, dtype=np.float64), np.asarray(per_seed, dtype=np.float64)
    if len(per_task) < 2 or len(per_seed) < 2:
        raise ValueError(f"components_from_pilot needs >= 2 tasks and >= 2 seeds, got {len(per_task)} and "
                         f"{len(per_seed)}")
    within = float(per_task.var(ddof=1))               # sigma_task^2 + sigma_resid^2 of one seed
    seed = max(float(per_seed.var(ddof=1)), 0.0)       # sigma_seed^2 + sigma_resid^2 / n_earlier: kept whole
    return Components(seed=seed, task=within, resid=0.0)


def plan(c: Components, n_tasks: int, target: float, alpha: float = 0.05, max_seeds: int = 30,
         rl_per_seed: Sequence[int] = (1,), draws: int = 5_000) -> dict:
    """Half-width (mean, and the 80th percentile over studies) for S = 2..`max_seeds` seeds at each number of
    RL runs per seed in `rl_per_seed`, the smallest S whose mean half-width reaches `target` at each (None: none up to `max_seeds`), and "task_floor": the
    half-width the task term alone sets at `n_tasks` tasks (normal quantile), which no number of seeds
    goes below; only more tasks lower it."""
    rows = []
    for R in rl_per_seed:
        for S in range(2, max_seeds + 1):
            rows.append({"seeds": S, "rl_per_seed": R, "half_width": half_width(c, S, n_tasks, alpha, R, draws=draws),
                         "half_width_q80": half_width(c, S, n_tasks, alpha, R, quantile=0.8, draws=draws)})
    reach = [r for r in rows if r["half_width"] <= target]
    first = {R: next((r for r in reach if r["rl_per_seed"] == R), None) for R in rl_per_seed}
    floor = math.sqrt(c.task / n_tasks) * 1.96       # what no number of seeds goes below, at these tasks
    return {"components": asdict(c), "n_tasks": n_tasks, "target": target, "alpha": alpha, "table": rows,
            "smallest": {str(R): (r["seeds"] if r else None) for R, r in first.items()},
            "task_floor": floor}


__all__ = ["Components", "components_from_grid", "components_from_pilot", "half_width", "plan"]
