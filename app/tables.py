"""The study's tables as pandas DataFrames, shared by the report and the explorer: pass@1 per checkpoint
and language with its 95% CI, the transfer table (RL gain per arm, language and group of languages:
targets, seen, zero-shot), the confirmatory family (Holm) and the exploratory arm comparisons, and the
probe stage's hypothesis tests. Values are formatted strings (percentage points) so both front ends
show the same text. Not for: computing any statistic (`evals.scoring`, `train.transfer`, `probe/`).
"""
from __future__ import annotations

import math

import pandas as pd

from .rundata import ckpt_sort_key, lang_sort_key, layer_label


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def pct(value, ci=None, signed: bool = False) -> str:
    """0.423, [0.31, 0.52] -> "42.3 [31.0, 52.0]" (percent); "–" when missing."""
    v = _num(value)
    if v is None:
        return "–"
    text = f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"
    if ci and len(ci) == 2 and _num(ci[0]) is not None and _num(ci[1]) is not None:
        text += f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
    return text


def fmt(value, digits: int = 3) -> str:
    v = _num(value)
    if v is None:
        return "–"
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.1e}"
    return f"{v:.{digits}f}"


def pass_frame(scores: dict, langs: list[str] | None = None) -> pd.DataFrame:
    """Rows: checkpoints; columns: languages; cells: pass@1 % [95% CI]."""
    ckpts = sorted(scores, key=ckpt_sort_key)
    langs = langs or sorted({lang for c in ckpts for lang in scores[c]}, key=lang_sort_key)
    data = {lang: [pct((scores[c].get(lang) or {}).get("pass@1"), (scores[c].get(lang) or {}).get("ci95"))
                   for c in ckpts] for lang in langs}
    df = pd.DataFrame(data, index=ckpts)
    df.index.name = "checkpoint"
    return df


def pass_values(scores: dict, langs: list[str]) -> pd.DataFrame:
    """Numeric pass@1 (0-1), rows checkpoints, columns languages (NaN when missing)."""
    ckpts = sorted(scores, key=ckpt_sort_key)
    return pd.DataFrame({lang: [_num((scores[c].get(lang) or {}).get("pass@1")) for c in ckpts] for lang in langs},
                        index=ckpts, dtype=float)


GROUPS = ("targets", "seen", "zero_shot")
GROUP_LABELS = {"targets": "targets (mean)", "seen": "seen (mean)", "zero_shot": "zero-shot (mean)"}


def arms(transfer: dict) -> list[str]:
    return [a for a, v in transfer.items() if not a.startswith("_") and isinstance(v, dict)]


def p_text(cell: dict, key: str = "p_value") -> str:
    """A cell's p-value as text: "0.012", "3.1e-05", or "< 0.0005" when no resample lay beyond the
    observed (the stored value is then the bound 1/B)."""
    from train.transfer import format_p
    p = _num(cell.get(key))
    bound = bool(cell.get("p_holm_bound" if key == "p_holm" else "p_bound"))
    return format_p(p, bound)


def p_eq(text: str) -> str:
    """"0.012" -> "p=0.012"; "< 0.0005" -> "p < 0.0005"."""
    return f"p {text}" if text.startswith("<") else f"p={text}"


def groups_note(transfer: dict) -> str:
    """Which languages each group holds: "targets" every language but the arm's RL language, "seen" those
    in some SFT arm, "zero-shot" those in none."""
    info = transfer.get("_languages") or {}
    parts = ['"targets": every language but the arm\'s own RL language (an oracle\'s include the source)']
    if info.get("seen") is not None:
        parts.append(f'"seen": targets in some SFT arm ({", ".join(info["seen"])})')
        parts.append(f'"zero-shot": targets in no SFT arm ({", ".join(info.get("zero_shot") or []) or "none"})')
    return "; ".join(parts) + "."


def interval_unit(transfer: dict) -> str:
    """What the transfer cells' intervals resample, in words (one run: tasks only, never the seeds)."""
    units = {c.get("interval_unit") for a, e in transfer.items() if not a.startswith("_") and isinstance(e, dict)
             for c in e.values() if isinstance(c, dict)} - {None}
    if not units:
        return "tasks (paired bootstrap)"
    return " / ".join(sorted(units)) + (" (one run: the interval covers the tasks only, not the training seeds)"
                                        if units == {"tasks"} else "")


def family_title(family: dict) -> str:
    """The confirmatory family's heading: how many contrasts Holm adjusts over, on which targets."""
    group = str(family.get("group", "")).replace("_", "-")
    return f"Confirmatory contrasts (declared before the run; Holm over {len(family.get('members') or [])}, on the {group} targets)"


def _lang_cols(entries, langs) -> list[str]:
    cols = langs or sorted({k for e in entries for k in e if k not in GROUPS}, key=lang_sort_key)
    return [*cols, *(g for g in GROUPS if any(g in e for e in entries))]


def transfer_frame(transfer: dict, langs: list[str] | None = None) -> pd.DataFrame:
    """Rows: RL arms; columns: languages, then the groups (targets, seen, zero-shot: means over their
    languages); cells: gain in points [95% CI] (paired over tasks; over seeds and tasks when pooled)."""
    rows = arms(transfer)
    cols = _lang_cols([transfer[a] for a in rows], langs)
    data = {GROUP_LABELS.get(c, c): [pct((transfer[a].get(c) or {}).get("gain"), (transfer[a].get(c) or {}).get("ci95"),
                                         signed=True) for a in rows] for c in cols}
    df = pd.DataFrame(data, index=rows)
    df.index.name = "arm"
    return df


def gain_values(transfer: dict, langs: list[str]) -> pd.DataFrame:
    """Numeric RL gain (pass@1 difference), rows arms, columns languages (+ the groups when present)."""
    rows = arms(transfer)
    cols = _lang_cols([transfer[a] for a in rows], list(langs))
    return pd.DataFrame({c: [_num((transfer[a].get(c) or {}).get("gain")) for a in rows] for c in cols},
                        index=rows, dtype=float)


def compare_frame(transfer: dict) -> pd.DataFrame:
    """Paired differences of two arms' gains ("<a> - <b>"), with CI and unadjusted p-value, per language
    and group; a confirmatory cell adds its Holm-adjusted p-value."""
    comp = transfer.get("_compare") or {}
    if not comp:
        return pd.DataFrame()
    cols = _lang_cols(list(comp.values()), None)

    def cell(d):
        if not d:
            return "–"
        text = f"{pct(d.get('diff'), d.get('ci95'), signed=True)} {p_eq(p_text(d))}"
        if d.get("role") == "confirmatory":
            text += f" · Holm {p_eq(p_text(d, 'p_holm'))} (confirmatory)"
        return text
    df = pd.DataFrame({GROUP_LABELS.get(c, c): [cell(comp[k].get(c)) for k in comp] for c in cols}, index=list(comp))
    df.index.name = "arms"
    return df


def family_rows(family: dict | None) -> list[dict]:
    """The confirmatory family, one row per declared contrast: difference [CI], p, Holm p, verdict."""
    family = family or {}
    out = []
    for m in family.get("members") or []:
        a, _, b = m["contrast"].partition(" - ")
        # one run's interval covers its tasks only: a difference it finds may not hold across training seeds
        scope = "; tasks only, one seed" if m.get("interval_unit") == "tasks" else ""
        verdict = (f"{a} {'>' if (m.get('diff') or 0) > 0 else '<'} {b} (Holm{scope})" if m.get("significant")
                   else "no detectable difference")
        out.append({"contrast": m["contrast"], "difference": pct(m.get("diff"), m.get("ci95"), signed=True),
                    "p": p_text(m), "p (Holm)": p_text(m, "p_holm"), "verdict": verdict,
                    "interval": m.get("interval_unit") or "–"})
    for c in family.get("missing") or []:
        out.append({"contrast": c, "difference": "–", "p": "–", "p (Holm)": "–",
                    "verdict": "not run (an arm is missing)", "interval": "–"})
    return out


def family_frame(family: dict | None) -> pd.DataFrame:
    rows = family_rows(family)
    return pd.DataFrame(rows).set_index("contrast") if rows else pd.DataFrame()


def tests_frame(tests: list[dict] | None) -> pd.DataFrame:
    """The probe stage's hypothesis tests: effect size, CI, p-value, verdict."""
    if not tests:
        return pd.DataFrame()
    out = []
    for t in tests:
        ci = t.get("ci95") or []
        out.append({"test": t.get("name") or "–", "metric": t.get("metric") or "–",
                    "layer": "–" if t.get("layer") is None else layer_label(str(t.get("layer"))),
                    "pooling": t.get("pooling") or "–", "norm": t.get("norm") or "–",
                    "a vs b": f"{t.get('a') or '–'} vs {t.get('b') or '–'}", "effect": fmt(t.get("effect")),
                    "95% CI": f"[{fmt(ci[0])}, {fmt(ci[1])}]" if len(ci) == 2 else "–",
                    "p-value": fmt(t.get("p_value"), 4), "p (adjusted)": fmt(t.get("p_adjusted"), 4), "n": "–" if t.get("n") is None else str(t.get("n")),
                    "verdict": t.get("verdict") or "–"})
    return pd.DataFrame(out).set_index("test")


def alignment_transfer_frame(at: dict | None) -> pd.DataFrame:
    """The probe stage's alignment-vs-transfer statistics: per arm, the rank correlation across languages
    of alignment with RL gain (per_language) and the per-task effect (per_task)."""
    at = at or {}
    rows = []
    for scope in ("per_language", "per_task"):
        for arm, d in (at.get(scope) or {}).items():
            if not isinstance(d, dict):
                continue
            ci = d.get("ci95") or []
            name = "rho" if scope == "per_language" else d.get("effect_name") or "effect"
            rows.append({"scope": scope.replace("_", " "), "arm": arm, "statistic": name,
                         "value": fmt(d.get("rho", d.get("effect"))),
                         "95% CI": f"[{fmt(ci[0])}, {fmt(ci[1])}]" if len(ci) == 2 else "–",
                         "p-value": fmt(d.get("p_value"), 4), "n": "–" if d.get("n") is None else str(d.get("n"))})
    return pd.DataFrame(rows)


# ---- interventions (`psft intervene`: interventions/<name>.json) ----------------------------------

def effect_text(cell: dict | None) -> str:
    """A contrast cell of an intervention as text: difference in points [95% CI], its p-value, and for a
    cell of the confirmatory family its Holm p-value, marked "(confirmatory)"."""
    if not cell:
        return "–"
    text = pct(cell.get("diff"), cell.get("ci95"), signed=True)
    if cell.get("p_value") is not None:
        text += f" {p_eq(p_text(cell))}"
    if cell.get("role") == "confirmatory":
        text += f" · Holm {p_eq(p_text(cell, 'p_holm'))} (confirmatory)"
    return text


def intervention_effect_frame(result: dict, against: str | None = None) -> pd.DataFrame:
    """Rows: each edit at each layer; columns: languages, then groups; cells: the edited checkpoint minus
    `against` unedited ("vs", "model", "other": the checkpoint that is not the receiver; default the
    receiver itself) in points [95% CI] with p."""
    from .intervention_results import checkpoint_names, columns, effect, series
    cols, names = columns(result), checkpoint_names(result)
    rows, index = [], []
    for s in series(result):
        for L, cond in s.conditions.items():
            side = ({"vs": "model", "model": "vs"}[s.receiver] if against == "other" else against) or s.receiver
            if f"vs_{side}" not in (result["conditions"].get(cond) or {}):
                continue
            index.append(f"{s.label} · layer {L}" + (f" − {names[side]}" if against else ""))
            rows.append([effect_text(effect(result, cond, c, side)) for c in cols])
    df = pd.DataFrame(rows, index=index, columns=[GROUP_LABELS.get(c, c) for c in cols])
    df.index.name = "edit · layer"
    return df


def intervention_family_rows(result: dict) -> list[dict]:
    """The declared confirmatory family of an intervention, one row per member: difference [CI], p, Holm p,
    verdict (a direction only when Holm says so), and the share of the RL gain the edit reproduces."""
    from .intervention_results import checkpoint_names, condition_label, receiver_of
    names = checkpoint_names(result)
    out = []
    for m in (result.get("family") or {}).get("members") or []:
        cond = m["condition"]
        receiver = names[receiver_of(result, cond)]
        d = m.get("diff") or 0.0
        verdict = (f"{'raises' if d > 0 else 'lowers'} pass@1 of {receiver} (Holm)" if m.get("significant")
                   else "no detectable effect")
        share = ((result["conditions"].get(cond) or {}).get("share_of_gain") or {}).get(m.get("group")) or {}
        out.append({"edit": condition_label(result, cond),
                    "difference": pct(m.get("diff"), m.get("ci95"), signed=True),
                    "p": p_text(m), "p (Holm)": p_text(m, "p_holm"), "verdict": verdict,
                    "share of RL gain (%)": (pct(share["value"], share.get("ci95")) if share.get("value") is not None
                                         else "–" if not share else "– (gain not shown)")})
    return out


def intervention_family_frame(result: dict) -> pd.DataFrame:
    rows = intervention_family_rows(result)
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).set_index("edit")
    if not any("share_of_gain" in (result["conditions"].get(m["condition"]) or {})
               for m in result["family"]["members"]):
        df = df.drop(columns="share of RL gain (%)")        # erasures, and patches of vs into model: no such share
    return df


def intervention_pass_frame(result: dict) -> pd.DataFrame:
    """Rows: the unedited checkpoints, then each edit at each layer; columns: languages; cells: greedy
    pass@1 in points [95% CI]."""
    from .intervention_results import condition_label, series
    conds = [c for c in ("vs", "model") if c in result["conditions"]]
    conds += [c for s in series(result) for c in s.conditions.values()]
    langs = result.get("langs") or []
    data = [[pct(((result["conditions"][c].get("scores") or {}).get(la) or {}).get("pass@1"),
                 ((result["conditions"][c].get("scores") or {}).get(la) or {}).get("ci95")) for la in langs]
            for c in conds]
    df = pd.DataFrame(data, index=[condition_label(result, c) for c in conds], columns=langs)
    df.index.name = "checkpoint or edit"
    return df


def delta_frame(result: dict) -> pd.DataFrame:
    """A transplant's Δ per language it was computed on: ‖Δ‖ and the mean residual norm ‖h‖ at each layer."""
    delta = result.get("delta") or {}
    if not delta:
        return pd.DataFrame()
    layer_keys = sorted({k for per in delta.values() for k in per}, key=lambda k: int(k[1:]))
    data = {f"layer {k[1:]}: ‖Δ‖ / ‖h‖": [f"{fmt((delta[la].get(k) or {}).get('norm'))} / "
                                          f"{fmt((delta[la].get(k) or {}).get('resid_norm'))}" for la in delta]
            for k in layer_keys}
    df = pd.DataFrame(data, index=list(delta))
    df.index.name = "Δ computed on"
    return df


def erasure_frame(result: dict) -> pd.DataFrame:
    """The eraser's checks on the probe set, before → after, at the layer it was fitted at and at the last
    layer: cross-language retrieval top-1 (raw, centred; chance), debiased CKA between languages, a linear
    language probe (chance) and the class-mean gap."""
    from .intervention_results import checkpoint_names
    names = checkpoint_names(result)
    rows = []

    def ba(x, key=None):
        x = x or {}
        b, a = (x.get("before"), x.get("after")) if key is None else ((x.get("before") or {}).get(key),
                                                                       (x.get("after") or {}).get(key))
        return f"{fmt(b)} → {fmt(a)}"
    for receiver, per in (result.get("erasure") or {}).items():
        for fit, e in per.items():
            for read, m in (e.get("layers") or {}).items():
                ret = m.get("retrieval_top1") or {}
                probe = m.get("language_probe_acc") or {}
                rows.append({"checkpoint": names.get(receiver, receiver), "eraser at": f"layer {fit[1:]}",
                             "read at": f"layer {read[1:]}", "retrieval top-1 raw": ba(ret, "raw"),
                             "retrieval top-1 centred": ba(ret, "centered"),
                             "retrieval chance": fmt((ret.get("before") or {}).get("chance")),
                             "CKA (debiased)": ba(m.get("cka_debiased")),
                             "language probe": ba(probe), "probe chance": fmt(probe.get("chance")),
                             "class-mean gap": ba(m.get("class_mean_gap_tokens")),
                             "retrieval rose": ("yes" if e.get("retrieval_rose") else "no") if read == fit else ""})
    return pd.DataFrame(rows)
