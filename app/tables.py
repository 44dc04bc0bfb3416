"""The study's tables as pandas DataFrames, shared by the report and the explorer: pass@1 per checkpoint
and language with its 95% CI, the transfer table (RL gain per arm and language), arm comparisons, and
the probe stage's hypothesis tests. Values are formatted strings (percentage points) so both front ends
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


def arms(transfer: dict) -> list[str]:
    return [a for a in transfer if not a.startswith("_")]


def transfer_frame(transfer: dict, langs: list[str] | None = None) -> pd.DataFrame:
    """Rows: RL arms; columns: languages (+ "targets", the mean over non-source languages); cells:
    gain in points [95% paired-bootstrap CI]."""
    rows = arms(transfer)
    cols = langs or sorted({k for a in rows for k in transfer[a] if k != "targets"}, key=lang_sort_key)
    if any("targets" in transfer[a] for a in rows):
        cols = [*cols, "targets"]
    data = {c: [pct((transfer[a].get(c) or {}).get("gain"), (transfer[a].get(c) or {}).get("ci95"), signed=True)
                for a in rows] for c in cols}
    df = pd.DataFrame(data, index=rows)
    df.index.name = "arm"
    return df


def gain_values(transfer: dict, langs: list[str]) -> pd.DataFrame:
    """Numeric RL gain (pass@1 difference), rows arms, columns languages (+ targets when present)."""
    rows = arms(transfer)
    cols = [*langs, "targets"] if any("targets" in transfer[a] for a in rows) else list(langs)
    return pd.DataFrame({c: [_num((transfer[a].get(c) or {}).get("gain")) for a in rows] for c in cols},
                        index=rows, dtype=float)


def compare_frame(transfer: dict) -> pd.DataFrame:
    """Paired differences of two arms' gains ("<a> - <b>"), with CI and p-value, per language."""
    comp = transfer.get("_compare") or {}
    if not comp:
        return pd.DataFrame()
    langs = sorted({k for v in comp.values() for k in v if k != "targets"}, key=lang_sort_key)
    cols = [*langs, "targets"] if any("targets" in v for v in comp.values()) else langs

    def cell(d):
        if not d:
            return "–"
        return f"{pct(d.get('diff'), d.get('ci95'), signed=True)} p={fmt(d.get('p_value'), 3)}"
    df = pd.DataFrame({c: [cell(comp[k].get(c)) for k in comp] for c in cols}, index=list(comp))
    df.index.name = "arms"
    return df


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
