"""The statistics of `psft intervene`: paired contrasts over tasks between an edited checkpoint and an
unedited one, the share of a gain an edit reproduces, and several training seeds pooled.

- `contrasts(edit, base, langs, groups, cfg)`: per language and per group of languages, the mean per-task
  difference with a percentile paired bootstrap over tasks (`evals.scoring.paired_bootstrap_diff`;
  "interval_unit": "tasks"), no interval under `cfg.min_tasks_ci` tasks; a group's per-task value is the
  mean over its languages, so tasks are resampled jointly across them; a p-value with no resample beyond
  zero is stored as its bound 1/B ("p_bound").
- `share_of_gain`: (edit - base) / (target - base) with a paired bootstrap of the ratio, only where the
  target's gain is shown to exist (its interval excludes zero).
- `pool_seeds`: the results of several training seeds (same tasks) with the crossed seed x task model of
  `train.transfer` (the unit of the design: a shift common to one seed enters the interval).
Not for: running anything (`app/intervening.py`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from evals.scoring.multiplicity import mark_confirmatory
from probe.interventions.config import InterventionConfig


def groups_of(langs: Sequence[str], source: str, seen_langs) -> dict[str, list[str]]:
    targets = [la for la in langs if la != source]
    out = {"targets": targets}
    if seen_langs is not None:
        out["seen"] = [la for la in targets if la in set(seen_langs)]
        out["zero_shot"] = [la for la in targets if la not in set(seen_langs)]
    return {g: v for g, v in out.items() if v}


def per_task(rows: Sequence[dict], langs: Sequence[str]) -> dict[str, dict[str, float]]:
    """lang -> task_id -> greedy pass (0/1)."""
    from train.evaluate import per_task_pass
    return {la: per_task_pass(rows, la) for la in langs}


def values(pt: dict, langs: Sequence[str], ids: Sequence[str]) -> list[float]:
    return [sum(pt[la][t] for la in langs) / len(langs) for t in ids]


def paired_cell(a: Sequence[float], b: Sequence[float], cfg: InterventionConfig) -> dict:
    """Mean of a - b over tasks with its paired bootstrap interval (none under `cfg.min_tasks_ci` tasks)."""
    from evals.scoring import paired_bootstrap_diff
    n = len(a)
    diff = (sum(a) - sum(b)) / n if n else float("nan")
    cell = {"diff": diff, "n": n, "interval_unit": "tasks"}
    if n < cfg.min_tasks_ci:
        return {**cell, "ci95": None, "p_value": None,
                "note": f"no interval over fewer than {cfg.min_tasks_ci} tasks"}
    r = paired_bootstrap_diff(a, b, n_boot=cfg.n_boot, seed=cfg.seed)
    cell.update(ci95=[r.lo, r.hi], p_value=r.p_value, method=f"paired bootstrap over tasks (B={cfg.n_boot})")
    if r.p_value < 1.0 / cfg.n_boot:      # no resample beyond zero: p < 1/B
        cell.update(p_value=1.0 / cfg.n_boot, p_bound=True)
    return cell


def share_of_gain(edit: Sequence[float], base: Sequence[float], target: Sequence[float], gain_cell: dict,
                  cfg: InterventionConfig) -> dict:
    """(mean edit - base) / (mean target - base): the share of the target's gain the edit reproduces, with a
    paired bootstrap interval over tasks; null when the gain's own interval covers zero (a ratio to a gain
    not shown to exist means nothing)."""
    import numpy as np
    ci = gain_cell.get("ci95")
    if ci is None or ci[0] <= 0 <= ci[1]:
        return {"value": None, "ci95": None, "why": "the gain's interval covers zero (or there is none)"}
    e, b, t = (np.asarray(x, dtype=np.float64) for x in (edit, base, target))
    num, den = e - b, t - b
    value = float(num.mean() / den.mean())
    idx = np.random.default_rng(cfg.seed).integers(0, len(e), size=(cfg.n_boot, len(e)))
    dn = den[idx].mean(1)
    ok = dn != 0
    ratios = num[idx].mean(1)[ok] / dn[ok]
    lo, hi = np.quantile(ratios, [0.025, 0.975])
    return {"value": value, "ci95": [float(lo), float(hi)], "interval_unit": "tasks",
            "method": f"paired bootstrap of the ratio over tasks (B={cfg.n_boot})"}


def contrasts(edit_pt: dict, base_pt: dict, langs: Sequence[str], groups: dict[str, list[str]],
              cfg: InterventionConfig) -> dict:
    """{lang or group: paired cell of edit - base} on the tasks both share."""
    out = {}
    for la in langs:
        ids = sorted(set(edit_pt[la]) & set(base_pt[la]))
        out[la] = paired_cell([edit_pt[la][t] for t in ids], [base_pt[la][t] for t in ids], cfg)
    for g, members in groups.items():
        ids = sorted(set.intersection(*(set(edit_pt[la]) & set(base_pt[la]) for la in members)))
        out[g] = {**paired_cell(values(edit_pt, members, ids), values(base_pt, members, ids), cfg),
                  "langs": list(members)}
    for cell in out.values():
        cell["role"] = "exploratory"
    return out


def pool_seeds(results: Sequence[dict], seeds: Sequence[int], cfg: InterventionConfig) -> dict:
    """One result per training seed of the same intervention (same tasks, conditions and languages) pooled:
    every contrast's interval covers seeds and tasks (the crossed seed x task random-effects model of
    `train.transfer.seed_task_interval`, "interval_unit": "seeds+tasks", each seed's value in "per_seed"),
    pass@1 gets `train.transfer.pooled_pass`'s Wilson interval on the effective number of trials, and the
    confirmatory family is Holm-adjusted on the pooled p-values."""
    from train.transfer import pooled_pass, seed_task_interval
    if len(results) < 2:
        raise ValueError("pooling needs at least two seeds")
    first = results[0]
    ids = first["per_task"]["task_ids"]
    for r in results[1:]:
        if r["per_task"]["task_ids"] != ids or set(r["conditions"]) != set(first["conditions"]):
            raise ValueError("the seeds were not scored on the same tasks and conditions: cannot pool")
    langs, groups = first["langs"], first["groups"]

    def grid(cond: str, members: Sequence[str]) -> list[list[float]]:
        return [[sum(r["per_task"]["values"][cond][la][k] for la in members) / len(members) for k in range(len(ids))]
                for r in results]

    def cell(a: str, b: str, members: Sequence[str]) -> dict:
        ga, gb = grid(a, members), grid(b, members)
        D = [[x - y for x, y in zip(ra, rb)] for ra, rb in zip(ga, gb)]
        per_seed = [sum(row) / len(row) for row in D]
        if len(ids) < cfg.min_tasks_ci:
            return {"diff": sum(per_seed) / len(per_seed), "ci95": None, "p_value": None, "per_seed": per_seed,
                    "n": len(ids), "interval_unit": "seeds+tasks",
                    "note": f"no interval over fewer than {cfg.min_tasks_ci} tasks"}
        r = seed_task_interval(D, cfg.alpha_level)
        return {"diff": float(r["mean"]), "ci95": [float(r["lo"]), float(r["hi"])], "p_value": float(r["p"]),
                "df": round(float(r["df"]), 2), "per_seed": per_seed, "n": len(ids), "seeds": len(results),
                "interval_unit": "seeds+tasks", "method": "crossed seed x task random effects, Satterthwaite t",
                "role": "exploratory"}

    def sides(cond: str, entry: dict) -> dict:
        out = {}
        for key in [k for k in entry if k.startswith("vs_")]:
            base = key[3:]
            out[key] = {la: cell(cond, base, [la]) for la in langs}
            out[key].update({g: {**cell(cond, base, m), "langs": list(m)} for g, m in groups.items()})
        return out

    conditions = {}
    for cond, entry in first["conditions"].items():
        scores = {la: pooled_pass([r["per_task"]["values"][cond][la] for r in results]) for la in langs}
        conditions[cond] = {**{k: v for k, v in entry.items() if not k.startswith("vs_") and k != "share_of_gain"},
                            "scores": scores, **sides(cond, entry)}
    members = []
    for m in first["family"]["members"]:
        c = m["condition"]
        members.append((c, conditions[c][f"vs_{conditions[c]['receiver']}"][first["family"]["group"]]))
    fam = [{"condition": c, "group": first["family"]["group"], "diff": x["diff"], "ci95": x["ci95"],
            "p_value": x["p_value"], "p_holm": x["p_holm"], "significant": x["significant"], "per_seed": x["per_seed"]}
           for c, x in mark_confirmatory(members, cfg.alpha_level)]
    keep = ("name", "kind", "config", "recipe", "layers", "hooks", "alphas", "langs", "source_lang", "groups",
            "seen_langs", "tasks", "generation", "positions")
    return finite({**{k: first[k] for k in keep if k in first}, "seeds": list(seeds),
                    "checkpoints": {str(s): r["checkpoints"] for s, r in zip(seeds, results)},
                    "conditions": conditions,
                    "family": {**{k: v for k, v in first["family"].items() if k != "members"}, "members": fam},
                    "interval_unit": "seeds+tasks",
                    "interval_note": f"{len(results)} training seeds pooled: intervals cover seeds and tasks",
                    "per_seed_files": [f"seed-{s}/interventions/{first['name']}.json" for s in seeds]})


def finite(obj):
    """`obj` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
