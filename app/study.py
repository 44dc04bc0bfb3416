"""The seeds of one study pooled: `<out>/seed-<s>/` runs -> `<out>/study.json` and markdown tables.

`pool_seeds(out)` reads every finished seed run under `out` (a `seed-<s>` folder with `transfer.json`),
checks that they evaluated the same tasks and declared the same analysis, and writes `study.json`:
- "seeds": the seeds pooled, in order;
- "scores": {ckpt: {lang: {"pass@1", "ci95", "n", "n_effective", "method", "per_seed"}}}: the mean over
  seeds and tasks with a Wilson interval on the effective number of trials (`train.transfer.pooled_pass`:
  the seed x task variance, so the interval covers seeds and tasks and does not collapse near 0);
- "transfer": `train.transfer.pooled_transfer` (RL gain per arm, language and group of languages
  (targets, seen, zero_shot), intervals over seeds and tasks, "per_seed" beside every cell; "_compare"
  holds the paired differences between arms; "_family" the confirmatory contrasts with Holm's p-values;
  every other cell is "role": "exploratory").
`markdown(study)` renders the tables the README shows. Not for: running seeds (`app/commands/run.py`).
"""
from __future__ import annotations

import re
from pathlib import Path

from .runfs import read_json, write_json

SEED_DIR = re.compile(r"seed-(\d+)$")


def seed_runs(out: Path) -> list[tuple[int, Path]]:
    """(seed, folder) of every finished seed run under `out`, by seed."""
    found = []
    for d in Path(out).iterdir() if Path(out).is_dir() else []:
        m = SEED_DIR.match(d.name)
        if m and (d / "transfer.json").is_file() and (d / "scores.json").is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def _seen_langs(sft: dict) -> list[str]:
    """The languages of a run's SFT arms, from its config's [sft] table (defaults for missing keys)."""
    import dataclasses

    from train.sft import SFTStageConfig
    default = {f.name: f.default for f in dataclasses.fields(SFTStageConfig)}
    langs = {"mono": [sft.get("source_lang", default["source_lang"])],
             "multi": sft.get("multi_langs", default["multi_langs"]),
             "parallel": sft.get("parallel_langs", default["parallel_langs"])}
    return sorted({la for arm in sft.get("arms") or () for la in langs.get(arm, ())})


def _analysis(configs: list[dict], out: Path):
    from train.config import ConfigError, from_dict
    from train.transfer import AnalysisConfig
    tables = [c.get("analysis") or {} for c in configs]
    if any(t != tables[0] for t in tables[1:]):
        raise ValueError(f"{out}: the seed runs declare different [analysis] tables (confirmatory contrasts)")
    try:
        return from_dict(AnalysisConfig, tables[0], "[analysis]")
    except ConfigError as e:
        raise ValueError(f"{out}: {e}") from None


def pool_seeds(out: Path, n_boot: int = 2000) -> dict | None:
    """Pool the finished seeds under `out` into `out/study.json` (see the module docstring); None when
    fewer than two seeds have finished. `n_boot` only serves cells of a single run (none here)."""
    from train.evaluate import per_task_pass
    from train.transfer import pooled_pass, pooled_transfer

    from .pipeline import rl_langs, rl_pairs
    from .rundata import Run

    runs = seed_runs(out)
    if len(runs) < 2:
        return None
    configs = [read_json(d / "config.json") or {} for _, d in runs]
    arms = configs[0].get("sft", {}).get("arms")
    source = configs[0].get("rl", {}).get("lang", "python")
    if not arms or any(c.get("sft", {}).get("arms") != arms for c in configs):
        raise ValueError(f"{out}: the seed runs do not share one list of SFT arms")
    seen = _seen_langs(configs[0].get("sft", {}))
    if any(_seen_langs(c.get("sft", {})) != seen for c in configs[1:]):
        raise ValueError(f"{out}: the seed runs' SFT arms cover different languages")
    analysis = _analysis(configs, Path(out))
    pairs = rl_pairs(arms)
    ckpts = ["base"] + [f"sft-{a}" for a in arms] + [rl for _, rl in pairs.values()]
    loaded = [(run.scores, {c: run.eval_rows(c) for c in ckpts}) for run in (Run(d) for _, d in runs)]
    langs = list(loaded[0][0]["base"])
    pooled_scores: dict = {}
    for c in ckpts:
        pooled_scores[c] = {}
        for lang in langs:
            per_run = [per_task_pass(rows[c], lang) for _, rows in loaded]
            ids = sorted(per_run[0])
            if any(sorted(p) != ids for p in per_run[1:]):
                raise ValueError(f"{out}: the seeds evaluated {c} in {lang} on different tasks")
            cell = pooled_pass([[p[t] for t in ids] for p in per_run])
            pooled_scores[c][lang] = {**cell, "per_seed": [s[c][lang]["pass@1"] for s, _ in loaded]}
    study = {"seeds": [s for s, _ in runs], "source": source, "scores": pooled_scores,
             "transfer": pooled_transfer(loaded, pairs, source=source, n_boot=n_boot, seed=0, seen_langs=seen,
                                         rl_langs=rl_langs(pairs, source), analysis=analysis)}
    write_json(Path(out) / "study.json", study)
    return study


def markdown(study: dict) -> str:
    """Four tables: pass@1 per checkpoint and language; the confirmatory contrasts (Holm); the RL gain per
    arm, language and group (each seed's gain below it; exploratory); and the paired differences of gains
    between arms (exploratory, unadjusted). Numbers as the report shows them (`app.tables`: points)."""
    from .tables import GROUP_LABELS, family_rows, groups_note, p_text, pct

    scores, transfer = study["scores"], study["transfer"]
    langs = list(next(iter(scores.values())))
    n = next(iter(next(iter(scores.values())).values()))["n"]
    seeds = ", ".join(map(str, study["seeds"]))
    out = [f"Greedy pass@1 (%), {n} tasks per language, mean of seeds {seeds} "
           "(95% Wilson interval on the effective number of trials, which counts the seed-to-seed variance):", "",
           "| checkpoint | " + " | ".join(langs) + " |", "|---" * (len(langs) + 1) + "|"]
    for c, per in scores.items():
        out.append(f"| {c} | " + " | ".join(pct(per[la]["pass@1"], per[la]["ci95"]) for la in langs) + " |")
    family = transfer.get("_family") or {}
    if family.get("contrasts"):
        out += ["", f"Confirmatory contrasts (declared in the recipe's [analysis]; difference of RL gains on the "
                f"{family['group'].replace('_', '-')} targets, points [95% CI, seeds+tasks]; "
                f"Holm over {len(family['members'])} contrast(s), alpha {family['alpha']}):", "",
                "| contrast | difference | p | p (Holm) | verdict |", "|---|---|---|---|---|"]
        for r in family_rows(family):
            out.append(f"| {r['contrast']} | {r['difference']} | {r['p']} | {r['p (Holm)']} | {r['verdict']} |")
    groups = [g for g in GROUP_LABELS if any(g in transfer[a] for a in _arms(transfer))]
    out += ["", "RL gain in points (RL checkpoint − its SFT checkpoint, paired over tasks), mean of the seeds "
            "[95% CI over seeds and tasks]; below it each seed's gain. Exploratory (no correction). "
            + groups_note(transfer), "",
            "| RL arm | " + " | ".join(langs + [GROUP_LABELS[g] for g in groups]) + " |",
            "|---" * (len(langs) + len(groups) + 1) + "|"]
    for a in _arms(transfer):
        cells = []
        for la in langs + groups:
            c = transfer[a].get(la)
            cells.append("–" if c is None else f"{pct(c['gain'], c['ci95'], signed=True)}<br>"
                         + " / ".join(pct(v, signed=True) for v in c["per_seed"]))
        out.append(f"| {a} | " + " | ".join(cells) + " |")
    compare = transfer.get("_compare", {})
    if compare:
        out += ["", "Paired differences of RL gains between arms (points, [95% CI over seeds and tasks], unadjusted "
                "p; exploratory unless marked confirmatory above):", "",
                "| arms | " + " | ".join(langs + [GROUP_LABELS[g] for g in groups]) + " |",
                "|---" * (len(langs) + len(groups) + 1) + "|"]
        for pair, per in compare.items():
            cells = ["–" if per.get(la) is None else
                     f"{pct(per[la]['diff'], per[la]['ci95'], signed=True)} p={p_text(per[la])}"
                     for la in langs + groups]
            out.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def _arms(transfer: dict) -> list[str]:
    return [a for a, v in transfer.items() if not a.startswith("_") and isinstance(v, dict)]
