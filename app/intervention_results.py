"""What an `interventions/<name>.json` shows, for the report and the explorer: its conditions grouped into
series along the layers (`transplant` α=1 at every layer, its `random` and `target` controls, `patch` in
each direction, `erase` in each checkpoint), each condition's effect (its paired contrast with a checkpoint,
in a language or group), the RL gain the effects compare with, which arm the file belongs to, and a
completion looked up by (condition, task, language) in `<name>.rows.jsonl`. Pure functions of the loaded
JSON (and rows); reading the files is `rundata.Run`'s.
Not for: computing any statistic (`app/intervening.py`, `app/intervention_stats.py`) or drawing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("transplant", "patch", "erase")
# A series' name in words, from its key (the condition name without its layer).
_LABELS = {"transplant": "transplant Δ", "random": "random direction (control)",
           "target": "own-language Δ (control)", "patch.model_into_vs": "{model} residual into {vs}",
           "patch.vs_into_model": "{vs} residual into {model}", "erase.vs": "language erased in {vs}",
           "erase.model": "language erased in {model}"}
_LAYER = re.compile(r"^L(-?\d+)$")


@dataclass(frozen=True)
class Series:
    """One edit along the layers: `conditions` maps a layer to its condition's name."""
    key: str                   # "transplant.a1", "random.a0.5", "patch.model_into_vs", "erase.vs"
    edit: str                  # transplant | random | target | patch | erase
    receiver: str              # "vs" or "model": the checkpoint that generates with the edit
    role: str                  # "main" (in the confirmatory family) or "control"
    alpha: float | None
    conditions: dict[int, str]
    label: str


def checkpoint_names(result: dict) -> dict[str, str]:
    """{"model": its name, "vs": its name} (a pooled file: the first seed's)."""
    ck = result.get("checkpoints") or {}
    if "model" not in ck and ck:                          # pooled: {seed: {"model", "vs"}}
        ck = next(iter(ck.values())) or {}
    return {role: ((ck.get(role) or {}).get("name") or role) for role in ("model", "vs")}


def arm_of(result: dict) -> str:
    """The arm whose pair was intervened on: "parallel" for rl-parallel vs sft-parallel, else "<model> vs <vs>"."""
    n = checkpoint_names(result)
    if n["model"].startswith("rl-") and n["vs"] == "sft-" + n["model"][3:]:
        return n["model"][3:]
    return f"{n['model']} vs {n['vs']}" if result.get("checkpoints", {}).get("vs") else n["model"]


def series(result: dict) -> list[Series]:
    """The file's edits along the layers, in the file's order (main edits before their controls)."""
    names = checkpoint_names(result)
    found: dict[str, dict] = {}
    for cond, entry in (result.get("conditions") or {}).items():
        if not isinstance(entry, dict) or entry.get("layer") is None:
            continue
        parts = cond.split(".")
        key = ".".join(p for p in parts if not _LAYER.match(p))
        s = found.setdefault(key, {"edit": entry.get("edit") or parts[0], "receiver": entry.get("receiver"),
                                   "role": entry.get("role") or "main", "alpha": entry.get("alpha"), "conditions": {}})
        s["conditions"][int(entry["layer"])] = cond
    out = []
    for key, s in found.items():
        base = key.split(".a")[0] if s["edit"] in ("transplant", "random", "target") else key
        label = _LABELS.get(base, key).format(**names)
        if s["alpha"] is not None and len(result.get("alphas") or []) > 1:
            label += f" α={s['alpha']:g}"
        out.append(Series(key, s["edit"], s["receiver"], s["role"], s["alpha"],
                          dict(sorted(s["conditions"].items())), label))
    return sorted(out, key=lambda s: s.role != "main")


def layers(result: dict) -> list[int]:
    return sorted({int(x) for x in result.get("layers") or []} |
                  {L for s in series(result) for L in s.conditions})


def columns(result: dict) -> list[str]:
    """The languages, then the groups of languages (targets, seen, zero_shot) the file has cells for."""
    return [*(result.get("langs") or []), *(result.get("groups") or {})]


def family_group(result: dict) -> str | None:
    return (result.get("family") or {}).get("group")


def effect(result: dict, cond: str, column: str, against: str | None = None) -> dict | None:
    """The paired contrast of condition `cond` with checkpoint `against` ("vs" or "model"; default: its
    receiver, the same checkpoint unedited) in `column`: {"diff", "ci95", "p_value", "role", ...} (diff a
    pass@1 difference, 0-1), or None."""
    entry = (result.get("conditions") or {}).get(cond) or {}
    side = against or entry.get("receiver")
    return ((entry.get(f"vs_{side}") or {}).get(column)) or None


def gain(result: dict, column: str) -> dict | None:
    """The unedited model's gain over vs (model − vs) in `column`: what a transplant or a patch of model
    into vs could reproduce at most; None without vs."""
    return (((result.get("conditions") or {}).get("model") or {}).get("vs_vs") or {}).get(column) or None


def is_pooled(result: dict) -> bool:
    return "seeds" in result


def condition_label(result: dict, cond: str) -> str:
    """"transplant Δ · layer 0" for a condition; the checkpoint's name (unedited) for a baseline."""
    names = checkpoint_names(result)
    if cond in ("vs", "model"):
        return f"{names[cond]} (unedited)"
    for s in series(result):
        for L, c in s.conditions.items():
            if c == cond:
                return f"{s.label} · layer {L}"
    return cond


def receiver_of(result: dict, cond: str) -> str:
    return ((result.get("conditions") or {}).get(cond) or {}).get("receiver") or cond


def index_rows(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    """(condition, task_id, lang) -> row of `<name>.rows.jsonl`."""
    return {(r.get("condition"), r.get("task_id"), r.get("lang")): r for r in rows}


KIND_TEXT = {
    "transplant": "{model}'s mean residual update over {vs} (Δ, on {source} prompts) added to {vs}",
    "patch": "one checkpoint's residual replaced by the other's on the same tokens, both directions",
    "erase": "the language erased (LEACE) from each checkpoint's residual",
}


def finding(result: dict) -> str:
    """One paragraph from the file's own numbers: what was edited, then the declared confirmatory family's
    outcome under Holm (a direction only where Holm says so; otherwise the largest effect, labelled), and
    what the intervals resample."""
    from .tables import p_eq, p_text, pct
    names = checkpoint_names(result)
    fam = result.get("family") or {}
    group = fam.get("group")
    langs = ", ".join((result.get("groups") or {}).get(group) or [])
    where = f"the {str(group).replace('_', '-')} targets ({langs})" if group else "the targets"
    what = KIND_TEXT.get(result.get("kind"), str(result.get("kind"))).format(
        source=result.get("source_lang") or "source", **names)
    n = (result.get("tasks") or {}).get("n")
    head = (f"{result.get('name')}: {what}; layers {', '.join(str(x) for x in result.get('layers') or [])}"
            + (f", {n} tasks per language" if n else "") + ". ")
    members = fam.get("members") or []
    if not members:
        return head + "No confirmatory contrast (too few tasks for an interval); every cell below is exploratory."
    sig = [m for m in members if m.get("significant")]

    def one(m):
        return (f"{condition_label(result, m['condition'])} {pct(m.get('diff'), m.get('ci95'), signed=True)} points "
                f"(Holm {p_eq(p_text(m, 'p_holm'))})")
    if sig:
        body = (f"Declared before the run, {len(members)} contrasts of an edit with its unedited checkpoint on {where}; "
                f"after Holm, {len(sig)} change pass@1: " + "; ".join(one(m) for m in sig) + ".")
    else:
        top = max(members, key=lambda m: abs(m.get("diff") or 0.0))
        body = (f"None of the {len(members)} declared contrasts of an edit with its unedited checkpoint on {where} "
                f"is detectable after Holm (largest: {one(top)}).")
    unit = result.get("interval_note") or f"intervals over {result.get('interval_unit', 'tasks')}"
    return head + body + eraser_check(result) + f" Intervals: {unit}."


def eraser_check(result: dict) -> str:
    """" The erasers, at their own layer: ..." (the language probe before → after against chance, and in how
    many cross-language retrieval rose: an eraser counts as working only where it did); "" without erasers."""
    names = checkpoint_names(result)
    probes, rose, n = [], 0, 0
    for receiver, per in (result.get("erasure") or {}).items():
        for fit, e in per.items():
            p = ((e.get("layers") or {}).get(fit) or {}).get("language_probe_acc") or {}
            if p.get("before") is None or p.get("after") is None:
                continue
            probes.append(f"{names.get(receiver, receiver)} layer {fit[1:]} {p['before']:.2f} → {p['after']:.2f}")
            chance = p.get("chance")
            n += 1
            rose += bool(e.get("retrieval_rose"))
    if not n:
        return ""
    return (f" The erasers, at their own layer: language probe {'; '.join(probes)}"
            + (f" (chance {chance:.2f})" if chance is not None else "")
            + f"; cross-language retrieval rose for {rose} of {n}.")
