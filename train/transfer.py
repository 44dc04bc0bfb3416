"""Transfer of RL gains across languages: gain = pass@1(rl-<arm>) - pass@1(sft-<arm>) per language, with
a PAIRED bootstrap over tasks (both checkpoints were scored on the same tasks, so per-task difficulty
cancels), and paired comparisons of the gains of two arms (difference-in-differences per task).

`transfer_table(scores_by_ckpt, rows_by_ckpt, pairs, source="python")` ->
    {arm: {lang: {"gain", "ci95", "p_value", "sft", "rl", "n"}, "targets": {...}},
     "_compare": {"<b> - <a>": {lang: {"diff", "ci95", "p_value", "n"}, "targets": {...}}}}
where "targets" is the mean over every language except `source` (the transfer summary), resampled by
task jointly across those languages; "_compare" has one entry per two arms, the later arm (in the
order of `pairs`) minus the earlier, e.g. "parallel - mono". `pairs` maps arm -> (sft checkpoint name,
rl checkpoint name), or is a list of arm names meaning ("sft-<arm>", "rl-<arm>"). Per-task values
come from the rows (greedy pass, else the mean of the samples: `train.evaluate.per_task_pass`).

`pooled_transfer(runs, pairs, source)` is the same table over several training seeds of one study
(each task's gain averaged over the seeds before the bootstrap; each cell lists its "per_seed"
values). Not for: computing scores, or reading run folders (`app/`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

from .evaluate import per_task_pass


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


def _paired(a: list[float], b: list[float], n_boot: int, seed: int) -> dict:
    from evals.scoring import paired_bootstrap_diff
    d = paired_bootstrap_diff(a, b, n_boot=n_boot, seed=seed)
    return {"gain": d.mean, "ci95": [d.lo, d.hi], "p_value": d.p_value, "n": len(a)}


def transfer_table(scores_by_ckpt: Mapping[str, dict], rows_by_ckpt: Mapping[str, Sequence[dict]], pairs,
                   source: str = "python", n_boot: int = 2000, seed: int = 0) -> dict:
    """See the module docstring. `scores_by_ckpt` only supplies the reported pass@1 of each side (and is
    checked against the rows); the statistics come from the rows."""
    pairs = _pairs(pairs)
    diffs, sides = _task_diffs(scores_by_ckpt, rows_by_ckpt, pairs)
    return _table(diffs, sides, source, n_boot, seed)


def pooled_transfer(runs: Sequence[tuple[Mapping[str, dict], Mapping[str, Sequence[dict]]]], pairs,
                    source: str = "python", n_boot: int = 2000, seed: int = 0) -> dict:
    """The transfer table of several training seeds of one study, each run given as
    (scores_by_ckpt, rows_by_ckpt) and evaluated on the same tasks. Each task's gain is first averaged
    over the seeds, then the paired bootstrap resamples tasks: the CI covers task sampling and the
    seeds' noise on each task, not a population of seeds (three seeds cannot estimate one). Every cell
    also lists "per_seed" (the gain or difference of each seed, in the order given), so the
    seed-to-seed spread is visible beside the interval. "rl" and "sft" are means over the seeds.
    Same shape as `transfer_table` otherwise, plus "seeds": the number of runs pooled."""
    pairs = _pairs(pairs)
    if not runs:
        raise ValueError("pooled_transfer: no runs")
    per_run = [_task_diffs(scores, rows, pairs) for scores, rows in runs]
    diffs: dict = {}
    sides: dict = {}
    for arm in pairs:
        langs = [la for la in per_run[0][0][arm] if all(la in d[arm] for d, _ in per_run)]
        diffs[arm], sides[arm] = {}, {}
        for lang in langs:
            ids = _common(*(d[arm][lang] for d, _ in per_run))
            diffs[arm][lang] = {t: sum(d[arm][lang][t] for d, _ in per_run) / len(per_run) for t in ids}
            sides[arm][lang] = tuple(sum(s[arm][lang][k] for _, s in per_run) / len(per_run) for k in (0, 1))
    table = _table(diffs, sides, source, n_boot, seed)
    singles = [_table(d, s, source, n_boot, seed) for d, s in per_run]
    for arm, entry in table.items():
        if arm == "_compare":
            for pair, per_lang in entry.items():
                for lang, cell in per_lang.items():
                    cell["per_seed"] = [t[arm][pair][lang]["diff"] for t in singles]
        else:
            for lang, cell in entry.items():
                cell["per_seed"] = [t[arm][lang]["gain"] for t in singles]
    table["seeds"] = len(runs)
    return table


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


def _table(diffs, sides, source: str, n_boot: int, seed: int) -> dict:
    table: dict = {}
    for arm, per_lang in diffs.items():
        entry: dict = {}
        for lang, d in per_lang.items():
            ids = sorted(d)
            cell = _paired([d[t] for t in ids], [0.0] * len(ids), n_boot, seed)
            cell["rl"], cell["sft"] = sides[arm][lang]
            entry[lang] = cell
        targets = [la for la in per_lang if la != source]
        if targets:
            entry["targets"] = _mean_over_langs(per_lang, targets, n_boot, seed)
        table[arm] = entry
    compare: dict = {}
    for y, x in combinations(diffs, 2):   # later arm minus earlier: "parallel - mono"
        entry = {}
        langs = [la for la in diffs[x] if la in diffs[y]]
        both = {la: {t: diffs[x][la][t] - diffs[y][la][t] for t in _common(diffs[x][la], diffs[y][la])}
                for la in langs}
        for lang in langs:
            ids = sorted(both[lang])
            cell = _paired([both[lang][t] for t in ids], [0.0] * len(ids), n_boot, seed)
            cell["diff"] = cell.pop("gain")
            entry[lang] = cell
        targets = [la for la in langs if la != source]
        if targets:
            cell = _mean_over_langs(both, targets, n_boot, seed)
            cell["diff"] = cell.pop("gain")
            entry["targets"] = cell
        compare[f"{x} - {y}"] = entry
    if compare:
        table["_compare"] = compare
    return table


def _mean_over_langs(per_lang: dict[str, dict[str, float]], langs: list[str], n_boot: int, seed: int) -> dict:
    """Mean over `langs` of per-task values, resampling tasks (each task's languages move together)."""
    ids = _common(*(per_lang[la] for la in langs))
    values = [sum(per_lang[la][t] for la in langs) / len(langs) for t in ids]
    cell = _paired(values, [0.0] * len(values), n_boot, seed)
    cell["langs"] = list(langs)
    return cell


def _reported(scores_by_ckpt, ckpt: str, lang: str, per_task: dict[str, float]) -> float:
    from_rows = sum(per_task.values()) / len(per_task)
    s = (scores_by_ckpt or {}).get(ckpt, {}).get(lang)
    if s is None:
        return from_rows
    if abs(s["pass@1"] - from_rows) > 1e-9:
        raise ValueError(f"transfer_table: scores[{ckpt!r}][{lang!r}]['pass@1'] = {s['pass@1']} but its rows give "
                         f"{from_rows}: scores and rows come from different evaluations")
    return s["pass@1"]
