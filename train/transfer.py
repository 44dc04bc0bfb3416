"""Transfer of RL gains across languages: gain = pass@1(rl-<arm>) - pass@1(sft-<arm>) per language,
paired over tasks (both checkpoints were scored on the same tasks, so per-task difficulty cancels), and
paired comparisons of the gains of two arms (difference-in-differences per task).

`transfer_table(scores_by_ckpt, rows_by_ckpt, pairs, source="python", seen_langs=..., rl_langs=..., analysis=...)`
    -> {arm: {lang: cell, "targets": cell, "seen": cell, "zero_shot": cell},
        "_compare": {"<b> - <a>": {lang: cell, "targets": ..., "seen": ..., "zero_shot": ...}},
        "_languages": {"source", "seen", "zero_shot", "rl_lang": {arm: lang}},
        "_family": {"contrasts", "group", "correction": "holm", "alpha", "members", "missing"}}
A gain cell holds "gain", "ci95", "p_value", "n" (tasks), "rl", "sft", "interval_unit" ("tasks" or
"seeds+tasks"), "method" and "role" ("confirmatory" or "exploratory"); a comparison cell holds "diff" in
place of "gain", "rl" and "sft". Groups of languages: "targets" is every language but the arm's own RL
language (the source for the transfer arms, Lua for `oracle-lua`, whose targets include Python);
"seen" are the targets some SFT arm trained on (`seen_langs`), "zero_shot" the targets no SFT arm saw.
A group's value is the mean over its languages of per-task values, resampled by task jointly across
them. "_compare" has one entry per two arms, the later arm (in the order of `pairs`) minus the earlier,
e.g. "parallel - mono", oriented as declared when the family names the reverse. `pairs` maps arm ->
(sft checkpoint name, rl checkpoint name), or is a list of arm names meaning ("sft-<arm>", "rl-<arm>").
Per-task values come from the rows (greedy pass, else the mean of the samples: `train.evaluate.per_task_pass`).

The primary family is declared before the run (`AnalysisConfig`, the recipe's `[analysis]` table): by
default the paper's contrasts parallel - multi and parallel - mono, on the zero-shot targets, after RL.
Holm's correction runs over that family only; those cells get "role": "confirmatory" and "p_holm", every
other cell (each language, each other group, each other pair, every RL gain) is exploratory.

Intervals. One run (`transfer_table`): a paired percentile bootstrap over tasks ("interval_unit":
"tasks"); its two-sided p-value is the share of resampled means across zero, doubled; when no resample
lies beyond zero the p-value is stored as 1/B with "p_bound": true (it is below that; shown "p < 1/B").
Several seeds (`pooled_transfer`): the unit is the design's, a seed x task grid (every seed is scored on
the same tasks). Its cells use the crossed random-effects model y[s, t] = mu + a_s + b_t + e_st, whose
grand mean has variance var(a)/S + var(b)/n + var(e)/(S n), estimated from the two-way ANOVA mean squares
as (MS_seed + MS_task - MS_resid) / (S n) (at least MS_resid / (S n)), with Satterthwaite's degrees of
freedom and a t quantile ("interval_unit": "seeds+tasks", `seed_task_interval`). Why this one:
- a task bootstrap of seed-averaged gains leaves out a shift common to one seed (the seed SD of the
  study's Python RL gains is 3+ points): on 400 simulated studies of 1000 tasks whose seeds differ by a
  6-point SD its 95% CI covered the true gain in 54% (3 seeds) and 45% (5 seeds) of them, this model's
  in 92.5% and 94%;
- a hierarchical bootstrap (seeds, then tasks) cannot fix that with 3-5 seeds: resampling 3 seeds has 10
  distinct outcomes, shrinks the seed variance by (S-1)/S and uses normal instead of t(S-1) quantiles
  (t(2) = 4.30 against 1.96): in the same simulation it covered 84.5% (3 seeds) and 89% (5 seeds), and
  99% without seed variance (resampling seeds counts each seed's task noise twice);
- a seed-level t-interval on per-seed estimates gets the seeds right but treats the common task set as
  fixed; the crossed model is that interval plus the task term, and reduces to it when seeds dominate
  (df -> S - 1) and to the task interval when they do not (df -> n - 1). Its moments estimator is exact
  for the balanced design, closed-form and vectorised, where an iterative mixed-model fit of crossed
  effects would cost seconds per cell. Coverage is checked by simulation (tests/test_transfer_stats.py).
Every pooled cell also lists "per_seed" (the estimate of each seed) and "df".

`pooled_pass(P)` is the pass@1 of a checkpoint over a seed x task grid of 0/1 (or fraction) values: the
mean with a Wilson interval on the effective number of trials p(1-p)/var (the same crossed variance), so
proportions near 0 or 1 get an interval that neither collapses to a point nor leaves [0, 1].
Not for: computing scores, or reading run folders (`app/`).
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

from evals.scoring.multiplicity import mark_confirmatory

from .config import require
from .evaluate import per_task_pass

GROUPS = ("targets", "seen", "zero_shot")
CONTRAST = re.compile(r"^\s*([\w.+-]+?)\s+-\s+([\w.+-]+?)\s*$")


@dataclass(frozen=True)
class AnalysisConfig:
    """The confirmatory analysis, declared before the run."""
    confirmatory: tuple[str, ...] = field(default=("parallel - multi", "parallel - mono"), metadata={
        "help": "The primary family: contrasts of RL gains between two arms, written '<arm> - <arm>' (the first "
                "arm's gain minus the second's). Holm's correction runs over these; every other comparison is "
                "exploratory."})
    group: Literal["zero_shot", "seen", "targets"] = field(default="zero_shot", metadata={
        "help": "Languages the confirmatory contrasts are tested on: 'zero_shot' (targets in no SFT arm), "
                "'seen' (targets in some SFT arm) or 'targets' (every language but the RL language)."})
    alpha: float = field(default=0.05, metadata={"help": "Family-wise error rate of the confirmatory family."})

    def __post_init__(self):
        require(self, "confirmatory", all(_split_contrast(c) for c in self.confirmatory),
                "every contrast must read '<arm> - <arm>' with two different arms")
        require(self, "confirmatory", len(set(map(_norm_contrast, self.confirmatory))) == len(self.confirmatory),
                "must not name a contrast twice")
        require(self, "alpha", 0 < self.alpha < 1, "must be in (0, 1)")


def _split_contrast(text: str) -> tuple[str, str] | None:
    m = CONTRAST.match(text)
    return (m.group(1), m.group(2)) if m and m.group(1) != m.group(2) else None


def _norm_contrast(text: str) -> str:
    a, b = _split_contrast(text) or (text, "")
    return f"{a} - {b}"


# ---- the statistics -------------------------------------------------------------------------------

def seed_task_interval(D, alpha: float = 0.05) -> dict:
    """Mean of a seed x task grid with its (1 - alpha) interval under the crossed random-effects model (see
    the module docstring). D: [..., S, n] with S >= 2 seeds and n >= 2 tasks (leading axes are independent
    grids, e.g. simulated studies). Returns numpy arrays: mean, lo, hi, se, df, p (two-sided, H0: mean 0)."""
    import numpy as np
    from scipy import stats
    D = np.asarray(D, dtype=np.float64)
    S, n = D.shape[-2:]
    if S < 2 or n < 2:
        raise ValueError(f"seed_task_interval needs at least 2 seeds and 2 tasks, got {S} x {n}")
    mean = D.mean((-2, -1))
    seed_means, task_means = D.mean(-1), D.mean(-2)
    ms_seed = n * seed_means.var(-1, ddof=1)
    ms_task = S * task_means.var(-1, ddof=1)
    resid = D - seed_means[..., :, None] - task_means[..., None, :] + mean[..., None, None]
    df_seed, df_task, df_resid = S - 1, n - 1, (S - 1) * (n - 1)
    ms_resid = (resid ** 2).sum((-2, -1)) / df_resid
    # Var(grand mean) * S n; at least MS_resid (the value with no seed and no task effects).
    full = np.maximum(ms_seed + ms_task - ms_resid, ms_resid)
    # Satterthwaite: df of a linear combination of independent mean squares.
    with np.errstate(divide="ignore", invalid="ignore"):
        df = full ** 2 / (ms_seed ** 2 / df_seed + ms_task ** 2 / df_task + ms_resid ** 2 / df_resid)
    df = np.clip(np.nan_to_num(df, nan=df_task), 1.0, df_seed + df_task + df_resid)
    se = np.sqrt(full / (S * n))
    q = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, np.abs(mean) / np.where(se > 0, se, 1.0), np.where(mean == 0, 0.0, np.inf))
    p = 2 * stats.t.sf(tstat, df)
    return {"mean": mean, "lo": mean - q * se, "hi": mean + q * se, "se": se, "df": df, "p": p}


def pooled_pass(P, confidence: float = 0.95) -> dict:
    """{"pass@1", "ci95", "n", "n_effective", "method"} of a seed x task grid P [S, n] of per-task pass values
    (see the module docstring); S = 1 is one run, whose n tasks are the trials."""
    import numpy as np

    from evals.scoring import wilson_interval
    P = np.atleast_2d(np.asarray(P, dtype=np.float64))
    S, n = P.shape
    p = float(P.mean())
    trials = S * n
    n_eff = float(trials)
    if S >= 2 and n >= 2 and 0 < p < 1:
        var = float(seed_task_interval(P)["se"]) ** 2
        if var > 0:
            n_eff = min(float(trials), max(1.0, p * (1 - p) / var))
    k = round(p * n_eff)        # the Wilson score interval of k of round(n_eff) trials
    lo, hi = wilson_interval(k, max(1, round(n_eff)), confidence)
    # The rounding moves the centre by at most 1/(2 n_eff); keep the estimate inside its interval.
    return {"pass@1": p, "ci95": [min(lo, p), max(hi, p)], "n": n, "n_effective": round(n_eff, 1),
            "method": "wilson" if S == 1 else "wilson, effective n from seeds+tasks"}


def _bootstrap_cell(d: Sequence[float], n_boot: int, seed: int) -> dict:
    from evals.scoring import paired_bootstrap_diff
    r = paired_bootstrap_diff(d, [0.0] * len(d), n_boot=n_boot, seed=seed)
    cell = {"gain": r.mean, "ci95": [r.lo, r.hi], "p_value": r.p_value, "n": len(d), "interval_unit": "tasks",
            "method": f"paired bootstrap over tasks (B={n_boot})"}
    if r.p_value < 1.0 / n_boot:             # no resample beyond zero: p < 1/B
        cell.update(p_value=1.0 / n_boot, p_bound=True)
    return cell


def _cell(grid: list[list[float]], n_boot: int, seed: int, alpha: float = 0.05) -> dict:
    """The cell of a seed x task grid (a list of seeds, each the per-task values on the same tasks)."""
    if len(grid) == 1:
        return _bootstrap_cell(grid[0], n_boot, seed)
    r = seed_task_interval(grid, alpha)
    n = len(grid[0])
    return {"gain": float(r["mean"]), "ci95": [float(r["lo"]), float(r["hi"])], "p_value": float(r["p"]),
            "n": n, "interval_unit": "seeds+tasks", "df": round(float(r["df"]), 2),
            "method": "crossed seed x task random effects, Satterthwaite t",
            "per_seed": [sum(row) / n for row in grid]}


# ---- the tables -------------------------------------------------------------------------------------

def _pairs(pairs) -> dict[str, tuple[str, str]]:
    if isinstance(pairs, Mapping):
        return {arm: (str(p[0]), str(p[1])) for arm, p in pairs.items()}
    return {arm: (f"sft-{arm}", f"rl-{arm}") for arm in pairs}


def _langs(rows: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(r["lang"] for r in rows))


def _per_task(rows_by_ckpt, ckpt: str, lang: str) -> dict[str, float]:
    if ckpt not in rows_by_ckpt:
        raise KeyError(f"transfer_table: no rows for checkpoint {ckpt!r}")
    values = per_task_pass(rows_by_ckpt[ckpt], lang)
    if not values:
        raise ValueError(f"transfer_table: checkpoint {ckpt!r} has no rows in {lang}")
    return values


def _common(*maps: dict[str, float]) -> list[str]:
    keys = set(maps[0])
    for m in maps[1:]:
        keys &= set(m)
    if not keys:
        raise ValueError("transfer_table: the checkpoints share no tasks (evaluate them on the same task set)")
    return sorted(keys)


def transfer_table(scores_by_ckpt: Mapping[str, dict], rows_by_ckpt: Mapping[str, Sequence[dict]], pairs,
                   source: str = "python", n_boot: int = 2000, seed: int = 0,
                   seen_langs: Sequence[str] | None = None, rl_langs: Mapping[str, str] | None = None,
                   analysis: AnalysisConfig | None = None) -> dict:
    """See the module docstring. `scores_by_ckpt` only supplies the reported pass@1 of each side (and is
    checked against the rows); the statistics come from the rows. `seen_langs`: the languages of the SFT
    arms (None: no seen / zero-shot split); `rl_langs`: arm -> the language its RL ran in (default `source`)."""
    return pooled_transfer([(scores_by_ckpt, rows_by_ckpt)], pairs, source, n_boot, seed, seen_langs, rl_langs,
                           analysis)


def pooled_transfer(runs: Sequence[tuple[Mapping[str, dict], Mapping[str, Sequence[dict]]]], pairs,
                    source: str = "python", n_boot: int = 2000, seed: int = 0,
                    seen_langs: Sequence[str] | None = None, rl_langs: Mapping[str, str] | None = None,
                    analysis: AnalysisConfig | None = None) -> dict:
    """The transfer table of several training seeds of one study, each run given as (scores_by_ckpt,
    rows_by_ckpt) and evaluated on the same tasks (the tasks every run shares are used). With two or more
    runs every cell's interval covers seeds and tasks ("interval_unit": "seeds+tasks", see the module
    docstring); one run is `transfer_table`. "rl" and "sft" are means over the seeds. Adds "seeds": the
    number of runs pooled."""
    pairs = _pairs(pairs)
    if not runs:
        raise ValueError("pooled_transfer: no runs")
    analysis = analysis or AnalysisConfig()
    rl_langs = {arm: (rl_langs or {}).get(arm, source) for arm in pairs}
    per_run = [_task_diffs(scores, rows, pairs) for scores, rows in runs]
    grids: dict = {}      # arm -> lang -> (task ids, [seed][task] gains)
    sides: dict = {}
    for arm in pairs:
        langs = [la for la in per_run[0][0][arm] if all(la in d[arm] for d, _ in per_run)]
        grids[arm], sides[arm] = {}, {}
        for lang in langs:
            ids = _common(*(d[arm][lang] for d, _ in per_run))
            grids[arm][lang] = (ids, [[d[arm][lang][t] for t in ids] for d, _ in per_run])
            sides[arm][lang] = tuple(sum(s[arm][lang][k] for _, s in per_run) / len(per_run) for k in (0, 1))
    table = _table(grids, sides, rl_langs, seen_langs, analysis, n_boot, seed)
    table["_languages"] = {"source": source,
                           "seen": None if seen_langs is None else sorted(set(seen_langs)),
                           "zero_shot": None if seen_langs is None else sorted(
                               {la for arm in grids for la in grids[arm]} - set(seen_langs)),
                           "rl_lang": rl_langs}
    table["seeds"] = len(runs)
    return table


def contrast_grid(runs: Sequence[tuple[Mapping[str, dict], Mapping[str, Sequence[dict]]]], pairs, contrast: str,
                  langs: Sequence[str]) -> tuple[list[str], list[list[float]]]:
    """(task ids, grid [seed][task]) of one contrast "<b> - <a>" of RL gains (difference-in-differences per
    task, the mean over `langs`), in points, over the tasks every run and language shares: the seed x task
    grid a pooled cell is computed from, e.g. for `train.power.components_from_grid`."""
    split = _split_contrast(contrast)
    if split is None:
        raise ValueError(f"contrast_grid: {contrast!r} does not read '<arm> - <arm>'")
    b, a = split
    pairs = _pairs(pairs)
    for arm in (a, b):
        if arm not in pairs:
            raise KeyError(f"contrast_grid: no arm {arm!r} (arms: {', '.join(pairs)})")
    per_run = [_task_diffs(scores, rows, {x: pairs[x] for x in (a, b)})[0] for scores, rows in runs]
    ids = _common(*({t: 0 for t in d[arm][la]} for d in per_run for arm in (a, b) for la in langs))
    grid = [[100.0 * sum(d[b][la][t] - d[a][la][t] for la in langs) / len(langs) for t in ids] for d in per_run]
    return ids, grid


def _task_diffs(scores_by_ckpt, rows_by_ckpt, pairs: dict[str, tuple[str, str]]):
    """(arm -> lang -> task -> rl - sft, arm -> lang -> (pass@1 rl, pass@1 sft)) of one run."""
    diffs: dict[str, dict[str, dict[str, float]]] = {}
    sides: dict[str, dict[str, tuple[float, float]]] = {}
    for arm, (sft, rl) in pairs.items():
        for ck in (sft, rl):
            if ck not in rows_by_ckpt:
                raise KeyError(f"transfer_table: no rows for checkpoint {ck!r}")
        langs = [la for la in _langs(rows_by_ckpt[sft]) if la in set(_langs(rows_by_ckpt[rl]))]
        diffs[arm], sides[arm] = {}, {}
        for lang in langs:
            a, b = _per_task(rows_by_ckpt, rl, lang), _per_task(rows_by_ckpt, sft, lang)
            ids = _common(a, b)
            diffs[arm][lang] = {t: a[t] - b[t] for t in ids}
            sides[arm][lang] = (_reported(scores_by_ckpt, rl, lang, a), _reported(scores_by_ckpt, sft, lang, b))
    return diffs, sides


def _groups(langs: Sequence[str], own: set[str], seen_langs) -> dict[str, list[str]]:
    """Group name -> its languages among `langs` (the targets leave out `own`, the RL language(s))."""
    targets = [la for la in langs if la not in own]
    out = {"targets": targets}
    if seen_langs is not None:
        out["seen"] = [la for la in targets if la in set(seen_langs)]
        out["zero_shot"] = [la for la in targets if la not in set(seen_langs)]
    return {g: v for g, v in out.items() if v}


def _group_grid(per_lang: dict, langs: list[str]) -> list[list[float]]:
    """Per seed and task, the mean over `langs` (each task's languages move together)."""
    ids = _common(*({t: 0 for t in per_lang[la][0]} for la in langs))
    pos = {la: {t: i for i, t in enumerate(per_lang[la][0])} for la in langs}
    n_seeds = len(per_lang[langs[0]][1])
    return [[sum(per_lang[la][1][s][pos[la][t]] for la in langs) / len(langs) for t in ids] for s in range(n_seeds)]


def _entry(per_lang: dict, groups: dict[str, list[str]], n_boot: int, seed: int, alpha: float) -> dict:
    entry = {}
    for lang, (_, grid) in per_lang.items():
        entry[lang] = _cell(grid, n_boot, seed, alpha)
    for g, langs in groups.items():
        entry[g] = {**_cell(_group_grid(per_lang, langs), n_boot, seed, alpha), "langs": list(langs)}
    for cell in entry.values():
        cell["role"] = "exploratory"
    return entry


def _table(grids, sides, rl_langs, seen_langs, analysis: AnalysisConfig, n_boot: int, seed: int) -> dict:
    alpha = analysis.alpha
    table: dict = {}
    for arm, per_lang in grids.items():
        entry = _entry(per_lang, _groups(list(per_lang), {rl_langs[arm]}, seen_langs), n_boot, seed, alpha)
        for lang in per_lang:
            entry[lang]["rl"], entry[lang]["sft"] = sides[arm][lang]
        table[arm] = entry
    declared = {_norm_contrast(c) for c in analysis.confirmatory}
    compare: dict = {}
    for y, x in combinations(grids, 2):   # later arm minus earlier: "parallel - mono"
        if f"{y} - {x}" in declared:
            x, y = y, x
        langs = [la for la in grids[x] if la in grids[y]]
        both = {}
        for la in langs:
            (ix, gx), (iy, gy) = grids[x][la], grids[y][la]
            ids = _common({t: 0 for t in ix}, {t: 0 for t in iy})
            px, py = {t: i for i, t in enumerate(ix)}, {t: i for i, t in enumerate(iy)}
            both[la] = (ids, [[rx[px[t]] - ry[py[t]] for t in ids] for rx, ry in zip(gx, gy)])
        entry = _entry(both, _groups(langs, {rl_langs[x], rl_langs[y]}, seen_langs), n_boot, seed, alpha)
        for cell in entry.values():
            cell["diff"] = cell.pop("gain")
        compare[f"{x} - {y}"] = entry
    if compare:
        table["_compare"] = compare
    table["_family"] = _family(compare, analysis)
    return table


def _family(compare: dict, analysis: AnalysisConfig) -> dict:
    """Mark the confirmatory cells and adjust their p-values (Holm) over the declared family."""
    members, missing = [], []
    for c in map(_norm_contrast, analysis.confirmatory):
        cell = (compare.get(c) or {}).get(analysis.group)
        if cell is None:
            missing.append(c)
        else:
            members.append((c, cell))
    out = []
    for c, cell in mark_confirmatory(members, analysis.alpha):
        out.append({"contrast": c, "group": analysis.group, "diff": cell["diff"], "ci95": cell["ci95"],
                    "p_value": cell["p_value"], "p_bound": bool(cell.get("p_bound")), "p_holm": cell["p_holm"],
                    "p_holm_bound": cell["p_holm_bound"], "significant": cell["significant"],
                    "interval_unit": cell["interval_unit"]})
    return {"contrasts": [_norm_contrast(c) for c in analysis.confirmatory], "group": analysis.group,
            "correction": "holm", "alpha": analysis.alpha, "members": out, "missing": missing,
            "note": "Holm over the declared contrasts only; every other cell is exploratory (unadjusted)."}


def _reported(scores_by_ckpt, ckpt: str, lang: str, per_task: dict[str, float]) -> float:
    from_rows = sum(per_task.values()) / len(per_task)
    s = (scores_by_ckpt or {}).get(ckpt, {}).get(lang)
    if s is None:
        return from_rows
    if abs(s["pass@1"] - from_rows) > 1e-9:
        raise ValueError(f"transfer_table: scores[{ckpt!r}][{lang!r}]['pass@1'] = {s['pass@1']} but its rows give "
                         f"{from_rows}: scores and rows come from different evaluations")
    return s["pass@1"]


def format_p(p: float | None, bound: bool = False) -> str:
    """0.0123 -> "0.012"; a bound (no resample beyond the observed) -> "< 0.0005"; None -> "–"."""
    if p is None or not math.isfinite(p):
        return "–"
    if bound:
        return f"< {p:.2g}"
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"
