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
  every other cell is "role": "exploratory");
- "probes" (when every seed has probes/metrics.json): cross-language top-1 retrieval by layer and
  checkpoint at one pooling and normalisation, each seed's value beside the mean, with the model-free
  bag-of-tokens baseline, each layer's excess over it (its CI is each seed's paired bootstrap over tasks)
  and the same on the lexical control set when the seeds probed one (`pooled_probes`).
The checkpoints pooled are the runs' own (their scores.json: `oracle-<lang>` only where they trained
one). A bench run's evaluation sets are pooled each on its own rows: "scores" and "transfer" hold the
first benchmark (as the run's scores.json does) and "by_benchmark" every one, {benchmark: {"scores",
"transfer"}}.
`markdown(study)` renders the study's tables (a results page quotes them). Not for: running seeds (`app/commands/run.py`).
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
    source = sft.get("source_lang", default["source_lang"])
    multi, parallel = sft.get("multi_langs", default["multi_langs"]), sft.get("parallel_langs", default["parallel_langs"])
    langs = {"mono": [source], "multi": multi, "align": multi, "parallel": parallel, "parallel-joined": parallel,
             "parallel-paired": [la for g in (sft.get("paired_groups") or [parallel]) for la in g],
             # the default directions join the source language with each other parallel language
             "translate": [la for pair in (sft.get("translate_pairs") or [[source, *parallel]]) for la in pair]}
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


def pool_seeds(out: Path, n_boot: int = 2000, plan_target: float | None = None) -> dict | None:
    """Pool the finished seeds under `out` into `out/study.json` (see the module docstring); None when
    fewer than two seeds have finished. `n_boot` only serves cells of a single run (none here). With
    `plan_target` (points), "plan" sizes a study of the same design from these seeds (`study_plan`)."""
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
    # The runs' own checkpoints (scores.json): a world run has oracle-<lang> arms, a bench run none.
    ckpts = list(read_json(runs[0][1] / "scores.json") or {})
    if any(list(read_json(d / "scores.json") or {}) != ckpts for _, d in runs[1:]):
        raise ValueError(f"{out}: the seed runs evaluated different checkpoints")
    oracles = [c.split("-", 1)[1] for c in ckpts if c.startswith("oracle-")]
    pairs = {a: p for a, p in rl_pairs(arms, oracles).items() if p[0] in ckpts and p[1] in ckpts}
    # A bench run's evaluation sets (scores_by_benchmark.json): each pooled on its own rows; the first is
    # "scores"/"transfer" (as the run's scores.json), every one is under "by_benchmark".
    by_set = [read_json(d / "scores_by_benchmark.json") for _, d in runs]
    sets = list(by_set[0]) if all(by_set) else [None]
    pooled, loaded_by_set = {}, {}
    for name in sets:
        loaded = []
        for (_, d), sb in zip(runs, by_set):
            run = Run(d)
            rows = {c: run.eval_rows(c) for c in ckpts}
            if name is not None:
                rows = {c: [r for r in rs if r.get("split") == name] for c, rs in rows.items()}
            loaded.append((sb[name] if name is not None else run.scores, rows))
        loaded_by_set[name] = loaded
        pooled[name] = {"scores": _pooled_scores(loaded, ckpts, out, per_task_pass, pooled_pass),
                        "transfer": pooled_transfer(loaded, pairs, source=source, n_boot=n_boot, seed=0, seen_langs=seen,
                                                    rl_langs=rl_langs(pairs, source), analysis=analysis)}
    study = {"seeds": [s for s, _ in runs], "source": source, **pooled[sets[0]]}
    if plan_target is not None:
        study["plan"] = study_plan(loaded_by_set[sets[0]], pairs, study["transfer"], plan_target)
    if sets != [None]:
        study["by_benchmark"] = pooled
    probes = pooled_probes([Run(d) for _, d in runs])
    if probes:
        study["probes"] = probes
    write_json(Path(out) / "study.json", study)
    return study


def study_plan(loaded, pairs, transfer: dict, target: float, max_seeds: int = 20) -> dict:
    """For each confirmatory contrast: its seed x task grid on the family's languages (`contrast_grid`), the
    variance components estimated from it (`train.power.components_from_grid`), the half-width observed
    now, and `train.power.plan` at the same number of tasks: the expected half-width by number of seeds and
    the smallest that reaches `target` points."""
    from train.power import components_from_grid, plan
    from train.transfer import contrast_grid
    family = transfer.get("_family") or {}
    out: dict = {"target": target, "group": family.get("group"), "contrasts": {}}
    for c in family.get("contrasts", []):
        cell = (transfer.get("_compare", {}).get(c) or {}).get(family.get("group"))
        if cell is None:
            continue
        ids, grid = contrast_grid(loaded, pairs, c, cell["langs"])
        comps = components_from_grid(grid)
        sized = plan(comps, n_tasks=len(ids), target=target, max_seeds=max_seeds, draws=4000)
        out["contrasts"][c] = {"langs": cell["langs"], "seeds": len(grid), "n_tasks": len(ids),
                               "observed_half_width": 100 * (cell["ci95"][1] - cell["ci95"][0]) / 2,
                               "components": sized["components"], "smallest_seeds": sized["smallest"]["1"],
                               "task_floor": sized["task_floor"],
                               "half_width_by_seeds": {r["seeds"]: round(r["half_width"], 3) for r in sized["table"]}}
    return out


def plan_markdown(plan: dict) -> str:
    """The sizing table of `study_plan`."""
    from .tables import fmt
    shown = (3, 5, 8, 10, 15, 20)
    rows = [f"Sizing a study of this design (`train.power`; components from these seeds' seed x task grids; "
            f"target half-width {fmt(plan['target'])} points; expected half-width in points by number of seeds):", "",
            "| contrast | seeds x tasks now | half-width now | var seed / task / resid (pts²) | "
            + " | ".join(f"S={s}" for s in shown) + " | smallest S | floor |",
            "|---" * (len(shown) + 6) + "|"]
    for c, p in plan["contrasts"].items():
        comp = p["components"]
        hw = [p["half_width_by_seeds"].get(s) for s in shown]
        rows.append(f"| {c} | {p['seeds']} x {p['n_tasks']} | {fmt(p['observed_half_width'])} | "
                    f"{comp['seed']:.2f} / {comp['task']:.1f} / {comp['resid']:.1f} | "
                    + " | ".join("–" if h is None else fmt(h) for h in hw)
                    + f" | {p['smallest_seeds'] or 'none up to 20'} | {fmt(p['task_floor'])} |")
    return "\n".join(rows) + "\n"


def _pooled_scores(loaded, ckpts: list[str], out: Path, per_task_pass, pooled_pass) -> dict:
    """pass@1 per checkpoint and language over the seeds' runs `loaded` ([(scores, rows by ckpt)])."""
    langs = list(loaded[0][0]["base"])
    pooled: dict = {}
    for c in ckpts:
        pooled[c] = {}
        for lang in langs:
            per_run = [per_task_pass(rows[c], lang) for _, rows in loaded]
            ids = sorted(per_run[0])
            if any(sorted(p) != ids for p in per_run[1:]):
                raise ValueError(f"{out}: the seeds evaluated {c} in {lang} on different tasks")
            cell = pooled_pass([[p[t] for t in ids] for p in per_run])
            pooled[c][lang] = {**cell, "per_seed": [s[c][lang]["pass@1"] for s, _ in loaded]}
    return pooled


PROBE_NORMS = ("centered", "raw", "standardized")   # the first one every seed measured is reported


def _top1(layer: dict | None) -> float | None:
    v = (((layer or {}).get("retrieval_mean") or {}).get("top1"))
    return v.get("value") if isinstance(v, dict) else v


def _probe_block(block: dict, pooling: str, norm: str, ckpts: list[str]) -> dict:
    """One run's top-1 retrieval per checkpoint and layer label, its bag-of-tokens baseline, and each
    layer's excess over it ({"value", "ci95"})."""
    from .rundata import layer_label
    base = (((block.get("baselines") or {}).get("bag_of_tokens") or {}).get(norm)) or {}
    out = {"baseline": _top1(base), "top1": {}, "excess": {}}
    for c in ckpts:
        per = (((block.get("checkpoints") or {}).get(c) or {}).get(pooling) or {}).get(norm) or {}
        out["top1"][c] = {layer_label(str(h)): _top1(m) for h, m in per.items()}
        out["excess"][c] = {layer_label(str(h)): ((m.get("excess_over_bag_of_tokens") or {}).get("retrieval_mean")
                                                   or {}).get("top1") for h, m in per.items()}
    return out


def pooled_probes(runs) -> dict | None:
    """Top-1 retrieval (mean over the ordered language pairs) pooled over the seeds' probes: per
    checkpoint and layer, the mean of the seeds and each seed's value, beside the bag-of-tokens baseline
    and the excess over it; "control" the same on the lexical control set. None unless every seed
    probed the same checkpoints at a shared pooling and normalisation."""
    metrics = [r.metrics for r in runs]
    if not all(m.get("checkpoints") for m in metrics):
        return None
    meta = metrics[0].get("meta") or {}
    pooling = meta.get("alignment_pooling") or (meta.get("poolings") or ["mean"])[0]
    norm = next((n for n in PROBE_NORMS if all(n in (m.get("meta") or {}).get("norms", ()) for m in metrics)), None)
    ckpts = [c for c in metrics[0]["checkpoints"] if all(c in m["checkpoints"] for m in metrics)]
    if norm is None or not ckpts:
        return None

    def pooled(blocks: list[dict]) -> dict:
        seeds = [_probe_block(b, pooling, norm, ckpts) for b in blocks]
        layers = list(seeds[0]["top1"][ckpts[0]])
        cells = {}
        for c in ckpts:
            cells[c] = {}
            for layer in layers:
                vals = [s["top1"][c].get(layer) for s in seeds]
                exc = [s["excess"][c].get(layer) for s in seeds]
                cells[c][layer] = {"mean": _mean(vals), "per_seed": vals,
                                   "excess_mean": _mean([e and e.get("value") for e in exc]),
                                   "excess_per_seed": [e and {"value": e.get("value"), "ci95": e.get("ci95")} for e in exc]}
        base = [s["baseline"] for s in seeds]
        return {"layers": layers, "checkpoints": cells, "bag_of_tokens": {"mean": _mean(base), "per_seed": base}}

    out = {"metric": "retrieval_mean.top1", "pooling": pooling, "norm": norm,
           "n_tasks": meta.get("n_tasks"), "chance": meta.get("retrieval_chance_top1"), **pooled(metrics)}
    controls = [m.get("control") or {} for m in metrics]
    if all(c.get("checkpoints") for c in controls):
        out["control"] = pooled(controls)
    return out


def _mean(values) -> float | None:
    vals = [v for v in values if isinstance(v, (int, float))]
    return sum(vals) / len(vals) if vals and len(vals) == len(values) else None


def markdown(study: dict) -> str:
    """Four tables: pass@1 per checkpoint and language; the confirmatory contrasts (Holm); the RL gain per
    arm, language and group (each seed's gain below it; exploratory); and the paired differences of gains
    between arms (exploratory, unadjusted). Numbers as the report shows them (`app.tables`: points).
    Then, when the seeds were probed, top-1 retrieval by layer against the bag-of-tokens baseline, on
    the probe set and on the lexical control set (`probes_markdown`)."""
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
    if study.get("probes"):
        out += ["", probes_markdown(study["probes"]).rstrip("\n")]
    if study.get("plan", {}).get("contrasts"):
        out += ["", plan_markdown(study["plan"]).rstrip("\n")]
    return "\n".join(out) + "\n"


def probes_markdown(probes: dict) -> str:
    """Top-1 retrieval by layer: the mean of the seeds with each seed's value, and the excess over the
    bag-of-tokens baseline (mean of the seeds; each seed's excess with its paired CI over tasks), for the
    probe set and for the lexical control set. Exploratory. Of one run (`pooled_probes([run])`): its
    value and its excess with the CI."""
    from .tables import fmt
    one = len(probes["bag_of_tokens"]["per_seed"]) == 1

    def table(block: dict, title: str) -> list[str]:
        layers = block["layers"]
        base = block["bag_of_tokens"]
        rows = [title, "", "| checkpoint | " + " | ".join(f"layer {la}" for la in layers) + " |",
                "|---" * (len(layers) + 1) + "|"]

        def cell(c: dict) -> str:
            if one:   # one run: its value, then its excess with the paired CI
                return f"{fmt(c['mean'])}<br>excess {_excess_text(c['excess_per_seed'][0])}"
            return (f"{fmt(c['mean'])}<br>{' / '.join(fmt(v) for v in c['per_seed'])}"
                    f"<br>excess {fmt(c['excess_mean'], 3) if c['excess_mean'] is not None else '–'}"
                    + "".join(f"<br>s{i}: {_excess_text(e)}" for i, e in enumerate(c['excess_per_seed'])))
        for c, per in block["checkpoints"].items():
            rows.append(f"| {c} | " + " | ".join(cell(per[la]) for la in layers) + " |")
        text = fmt(base["mean"]) if one else f"{fmt(base['mean'])}<br>{' / '.join(fmt(v) for v in base['per_seed'])}"
        rows.append("| bag of tokens (no model; every layer) | " + " | ".join([text] * len(layers)) + " |")
        return rows

    head = (f"Cross-language top-1 retrieval (mean over the ordered language pairs; {probes.get('n_tasks')} tasks, "
            f"{probes['pooling']} pooling, {probes['norm']}; chance {fmt(probes.get('chance'), 4)}), "
            + ("one run, then its excess" if one else "mean of the seeds, each seed's value below it, then its excess")
            + " over the model-free bag-of-tokens baseline (the run's tokenizer, the same rows and normalisation) "
            + ("with its" if one else "with each seed's") + " paired 95% CI over tasks. Exploratory.")
    out = table(probes, head)
    if probes.get("control"):
        out += [""] + table(probes["control"], "The same on the lexical control set (the same tasks, identifiers "
                                               "renamed per language):")
    return "\n".join(out) + "\n"


def _excess_text(e: dict | None) -> str:
    from .tables import fmt
    if not e or e.get("value") is None:
        return "–"
    ci = e.get("ci95")
    return f"{e['value']:+.3f}" + (f" [{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "")


def _arms(transfer: dict) -> list[str]:
    return [a for a, v in transfer.items() if not a.startswith("_") and isinstance(v, dict)]
