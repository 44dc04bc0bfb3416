"""The seeds of one study pooled: `<out>/seed-<s>/` runs -> `<out>/study.json` and markdown tables.

`pool_seeds(out)` reads every finished seed run under `out` (a `seed-<s>` folder with `transfer.json`),
checks that they evaluated the same tasks, and writes `study.json`:
- "seeds": the seeds pooled, in order;
- "scores": {ckpt: {lang: {"pass@1", "ci95", "n", "per_seed"}}}: each task's pass averaged over the
  seeds, its mean, and a bootstrap CI over tasks;
- "transfer": `train.transfer.pooled_transfer` (RL gain per arm and language, paired over tasks, each
  task's gain averaged over the seeds; "per_seed" beside every cell; "_compare" holds the paired
  differences between arms).
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


def pool_seeds(out: Path, n_boot: int = 2000) -> dict | None:
    """Pool the finished seeds under `out` into `out/study.json` (see the module docstring); None when
    fewer than two seeds have finished."""
    from evals.scoring import bootstrap_ci
    from train.evaluate import per_task_pass
    from train.transfer import pooled_transfer

    from .pipeline import rl_pairs
    from .rundata import Run

    runs = seed_runs(out)
    if len(runs) < 2:
        return None
    configs = [read_json(d / "config.json") or {} for _, d in runs]
    arms = configs[0].get("sft", {}).get("arms")
    source = configs[0].get("rl", {}).get("lang", "python")
    if not arms or any(c.get("sft", {}).get("arms") != arms for c in configs):
        raise ValueError(f"{out}: the seed runs do not share one list of SFT arms")
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
            values = [sum(p[t] for p in per_run) / len(per_run) for t in ids]
            lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=0)
            pooled_scores[c][lang] = {"pass@1": sum(values) / len(values), "ci95": [lo, hi], "n": len(ids),
                                      "per_seed": [s[c][lang]["pass@1"] for s, _ in loaded]}
    study = {"seeds": [s for s, _ in runs], "source": source, "scores": pooled_scores,
             "transfer": pooled_transfer(loaded, pairs, source=source, n_boot=n_boot, seed=0)}
    write_json(Path(out) / "study.json", study)
    return study


def markdown(study: dict) -> str:
    """Three tables: pass@1 per checkpoint and language, RL gain per arm and language (with each seed's
    gain), and the paired differences of gains between arms. Numbers as the report shows them
    (`app.tables.pct`: percentage points)."""
    from .tables import pct

    scores, transfer = study["scores"], study["transfer"]
    langs = list(next(iter(scores.values())))
    n = next(iter(next(iter(scores.values())).values()))["n"]
    seeds = ", ".join(map(str, study["seeds"]))
    out = [f"Greedy pass@1 (%), {n} tasks per language, mean of seeds {seeds} "
           "(95% CI: bootstrap over tasks of each task's pass averaged over the seeds):", "",
           "| checkpoint | " + " | ".join(langs) + " |", "|---" * (len(langs) + 1) + "|"]
    for c, per in scores.items():
        out.append(f"| {c} | " + " | ".join(pct(per[la]["pass@1"], per[la]["ci95"]) for la in langs) + " |")
    arms = [a for a in transfer if a not in ("_compare", "seeds")]
    out += ["", "RL gain in points (RL checkpoint − its SFT checkpoint, paired over tasks), mean of the seeds "
            "[95% CI]; below it each seed's gain:", "",
            "| RL arm | " + " | ".join(langs) + " | targets (mean) |", "|---" * (len(langs) + 2) + "|"]
    for a in arms:
        cells = []
        for la in langs + ["targets"]:
            c = transfer[a].get(la)
            cells.append("–" if c is None else f"**{pct(c['gain'], c['ci95'], signed=True)}**<br>"
                         + " / ".join(pct(v, signed=True) for v in c["per_seed"]))
        out.append(f"| {a} | " + " | ".join(cells) + " |")
    compare = transfer.get("_compare", {})
    if compare:
        out += ["", "Paired differences of RL gains between arms (points, [95% CI], p):", "",
                "| arms | " + " | ".join(langs) + " | targets (mean) |", "|---" * (len(langs) + 2) + "|"]
        for pair, per in compare.items():
            cells = ["–" if per.get(la) is None else
                     f"{pct(per[la]['diff'], per[la]['ci95'], signed=True)} p={per[la]['p_value']:.2f}"
                     for la in langs + ["targets"]]
            out.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
