"""Transfer of RL gains across languages: gain = pass@1(rl-<arm>) - pass@1(sft-<arm>) per language, with
a PAIRED bootstrap over tasks (both checkpoints were scored on the same tasks, so per-task difficulty
cancels), and paired comparisons of the gains of two arms (difference-in-differences per task).

`transfer_table(scores_by_ckpt, rows_by_ckpt, pairs, source="python")` ->
    {arm: {lang: {"gain", "ci95", "p_value", "sft", "rl", "n"}, "targets": {...}},
     "_compare": {"<a> - <b>": {lang: {"diff", "ci95", "p_value", "n"}, "targets": {...}}}}
where "targets" is the mean over every language except `source` (the transfer summary), resampled by
task jointly across those languages. `pairs` maps arm -> (sft checkpoint name, rl checkpoint name), or
is a list of arm names meaning ("sft-<arm>", "rl-<arm>"). Per-task values come from the rows (greedy
pass, else the mean of the samples: `train.evaluate.per_task_pass`). Not for: computing scores.
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
    table: dict = {}
    diffs: dict[str, dict[str, dict[str, float]]] = {}  # arm -> lang -> task -> rl - sft
    for arm, (sft, rl) in pairs.items():
        langs = [la for la in _langs(rows_by_ckpt[sft]) if la in set(_langs(rows_by_ckpt[rl]))]
        entry: dict = {}
        diffs[arm] = {}
        for lang in langs:
            a, b = _per_task(rows_by_ckpt, rl, lang), _per_task(rows_by_ckpt, sft, lang)
            ids = _common(a, b)
            cell = _paired([a[t] for t in ids], [b[t] for t in ids], n_boot, seed)
            cell["rl"], cell["sft"] = _reported(scores_by_ckpt, rl, lang, a), _reported(scores_by_ckpt, sft, lang, b)
            entry[lang] = cell
            diffs[arm][lang] = {t: a[t] - b[t] for t in ids}
        targets = [la for la in langs if la != source]
        if targets:
            entry["targets"] = _mean_over_langs(diffs[arm], targets, n_boot, seed)
        table[arm] = entry
    compare: dict = {}
    for x, y in combinations(pairs, 2):
        entry = {}
        langs = [la for la in diffs[x] if la in diffs[y]]
        for lang in langs:
            ids = _common(diffs[x][lang], diffs[y][lang])
            cell = _paired([diffs[x][lang][t] for t in ids], [diffs[y][lang][t] for t in ids], n_boot, seed)
            cell["diff"] = cell.pop("gain")
            entry[lang] = cell
        targets = [la for la in langs if la != source]
        if targets:
            both = {la: {t: diffs[x][la][t] - diffs[y][la][t] for t in _common(diffs[x][la], diffs[y][la])}
                    for la in targets}
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
