"""Markdown tables of a run's intervention stages, transfer and probes, for docs/results pages.

    PYTHONPATH=. python docs/results/2026-12-07-interventions-toy/tables.py RUN [--arms align,multi,parallel] > tables.md

Reads RUN/interventions/<kind>-<arm>.json, RUN/transfer.json, RUN/probes/metrics.json and RUN/events.jsonl.
Prints every number as it is in those files (rounded), nothing chosen.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def ci(cell, pct=True):
    if isinstance(cell, (int, float)):
        cell = {"value": cell}
    if not cell or cell.get("diff", cell.get("gain", cell.get("value"))) is None:
        return "–"
    v = cell.get("diff", cell.get("gain", cell.get("value")))
    k = 100 if pct else 1
    s = f"{k * v:+.1f}" if pct else f"{v:.3f}"
    if cell.get("ci95"):
        lo, hi = cell["ci95"]
        s += f" [{k * lo:+.1f}, {k * hi:+.1f}]" if pct else f" [{lo:.3f}, {hi:.3f}]"
    return s


def intervention_table(res: dict) -> list[str]:
    langs, g = res["langs"], res["family"]["group"]
    out = [f"### {res['name']} ({res['kind']}; {res['checkpoints']['model']['name']} vs "
           f"{(res['checkpoints']['vs'] or {}).get('name', '-')}; layers {res['layers']}; {res['tasks']['n']} tasks; "
           f"{res['seconds']:.0f} s)", "",
           f"pass@1 per language (greedy); differences in points, paired bootstrap 95% CI over tasks; `{g}` = "
           f"{', '.join(res['groups'][g])} (confirmatory, Holm), `targets` = {', '.join(res['groups']['targets'])} "
           "(exploratory).", "",
           "| condition | role | " + " | ".join(langs) + f" | Δ vs receiver, {g} | Holm p | Δ vs receiver, targets "
           f"| Δ vs other, {g} | Δ vs other, targets | share of gain ({g}) |",
           "|---" * (len(langs) + 8) + "|"]
    for name, c in res["conditions"].items():
        s = " | ".join(f"{c['scores'][la]['pass@1']:.3f}" for la in langs)
        if c["edit"] is None:
            extra = ""
            if name == "model" and c.get("vs_vs"):
                extra = f" (model − vs: {g} {ci(c['vs_vs'][g])}, targets {ci(c['vs_vs']['targets'])})"
            out.append(f"| {name}{extra} | unedited | {s} | | | | | | |")
            continue
        rec = c[f"vs_{c['receiver']}"]
        other = next((v for k, v in c.items() if k.startswith("vs_") and k != f"vs_{c['receiver']}"), None)
        holm = rec[g].get("p_holm")
        share = (c.get("share_of_gain") or {}).get(g)
        share_s = "–" if not share else (f"{share['value']:.2f} [{share['ci95'][0]:.2f}, {share['ci95'][1]:.2f}]"
                                         if share.get("value") is not None else f"none ({share.get('why')})")
        out.append(f"| {name} | {c['role']} | {s} | {ci(rec[g])} | {'–' if holm is None else f'{holm:.3g}'} | "
                   f"{ci(rec['targets'])} | {ci(other[g]) if other else '–'} | {ci(other['targets']) if other else '–'} "
                   f"| {share_s} |")
    if res.get("delta"):
        src = res["source_lang"]
        out += ["", "Δ norms on " + src + " prompts: " + ", ".join(
            f"{L}: ‖Δ‖={v['norm']:.3g} vs ‖h‖≈{v['resid_norm']:.3g}" for L, v in res["delta"][src].items())]
    for who, layers in (res.get("erasure") or {}).items():
        for L, e in layers.items():
            out += ["", f"Eraser of {who} at {L} ({e['fit_on']}; retrieval rose: {e['retrieval_rose']}):", "",
                    "| read at | retrieval top-1 raw | centred | language probe (chance) | debiased CKA | class-mean gap |",
                    "|---|---|---|---|---|---|"]
            for R, m in e["layers"].items():
                r, p = m["retrieval_top1"], m["language_probe_acc"]
                out.append(f"| {R} | {r['before']['raw']:.3f} → {r['after']['raw']:.3f} | "
                           f"{r['before'].get('centered', float('nan')):.3f} → {r['after'].get('centered', float('nan')):.3f} | "
                           f"{p['before']:.2f} → {p['after']:.2f} ({p['chance']:.2f}) | "
                           f"{_num(m['cka_debiased']['before'])} → {_num(m['cka_debiased']['after'])} | "
                           f"{m['class_mean_gap_tokens']['before']:.3g} → {m['class_mean_gap_tokens']['after']:.3g} |")
    if res.get("baseline_check"):
        out += ["", "Unedited rows equal to the run's own evaluation rows: " + ", ".join(
            f"{k} {v.get('same_completion', 0)}/{v['rows']} completions, {v.get('same_passed', 0)}/{v['rows']} verdicts"
            for k, v in res["baseline_check"].items())]
    return out + [""]


def _num(x):
    if isinstance(x, dict):
        x = x.get("mean", x.get("value"))
    return "–" if x is None else f"{x:.3f}"


def transfer_tables(t: dict, arms: list[str]) -> list[str]:
    langs = t["_languages"] if isinstance(t.get("_languages"), list) else [k for k in t[arms[0]] if k not in
                                                                             ("targets", "seen", "zero_shot")]
    if isinstance(langs, dict):
        langs = langs.get("all", list(langs))
    out = ["| arm | " + " | ".join(langs) + " | targets | seen | zero_shot |", "|---" * (len(langs) + 4) + "|"]
    for a in arms:
        if a in t:
            out.append(f"| {a} | " + " | ".join(ci(t[a].get(la)) for la in [*langs, "targets", "seen", "zero_shot"]) + " |")
    out += ["", "| contrast of RL gains | role | targets | seen | zero_shot | Holm p (zero_shot) |", "|---|---|---|---|---|---|"]
    for k, c in t["_compare"].items():
        z = c.get("zero_shot", {})
        out.append(f"| {k} | {z.get('role', '')} | {ci(c.get('targets'))} | {ci(c.get('seen'))} | {ci(z)} | "
                   f"{z.get('p_holm', '–') if z.get('p_holm') is None else format(z['p_holm'], '.3g')} |")
    return out + [""]


def probe_table(m: dict, ckpts: list[str]) -> list[str]:
    layers = list(m["checkpoints"][ckpts[0]]["mean"]["centered"])
    bot = (m.get("baselines") or {}).get("bag_of_tokens")
    base = ", ".join(f"{n} {ci(bot[n]['retrieval_mean']['top1'], False)}" for n in ("raw", "centered")) if bot else "none"
    out = ["Mean cross-language retrieval top-1 from Python (mean pooling), 95% CI over tasks; bag-of-tokens "
           "baseline: " + base, "",
           "| checkpoint | norm | " + " | ".join(layers) + " |", "|---" * (len(layers) + 2) + "|"]
    for c in ckpts:
        for n in ("raw", "centered"):
            cell = m["checkpoints"][c]["mean"][n]
            out.append(f"| {c} | {n} | " + " | ".join(ci(cell[L]["retrieval_mean"]["top1"], False) for L in layers) + " |")
    return out + [""]


def stage_times(root: Path) -> list[str]:
    out = ["| stage | seconds |", "|---|---|"]
    for line in (root / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "stage_end":
            out.append(f"| {e['stage']} | {e['seconds']:.0f} |")
    return out + [""]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("--arms", default="mono,multi,parallel,align")
    a = p.parse_args()
    root, arms = a.run, a.arms.split(",")
    lines = ["## Stage wall times (events.jsonl)", ""] + stage_times(root)
    for f in sorted((root / "interventions").glob("*.json")):
        lines += intervention_table(json.loads(f.read_text()))
    if (root / "transfer.json").is_file():
        lines += ["## Transfer (RL gain = rl − sft, points)", ""] + transfer_tables(
            json.loads((root / "transfer.json").read_text()), arms)
    if (root / "probes" / "metrics.json").is_file():
        m = json.loads((root / "probes" / "metrics.json").read_text())
        ck = [c for c in m["checkpoints"] if any(c.endswith(x) for x in arms) or c == "base"]
        lines += ["## Probes", ""] + probe_table(m, ck)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
