"""Plotly figures shared by the report and the explorer: metric-vs-layer curves per checkpoint (with
each model-free baseline of the run, e.g. the bag of tokens, as a dotted horizontal line, and the
lexical control set's curve of each checkpoint, dashed, when the run has one), CKA
heatmaps, pass@1 bars, and per-language alignment against RL gain. Each function takes plain data (a
`Run`, metric names) and returns a `plotly.graph_objects.Figure`; none of them reads files itself.
Not for: the explorer's 2-D map of programs (`explorer/map_view.py`).
"""
from __future__ import annotations

import math

import plotly.graph_objects as go

from .rundata import Run
from .tables import arms

# Metrics a per-layer curve can show: key -> (label, path into a layer's metrics).
CURVES = {
    "retrieval_top1": ("retrieval top-1 (mean over pairs)", ("retrieval_mean", "top1")),
    "retrieval_mrr": ("retrieval MRR (mean over pairs)", ("retrieval_mean", "mrr")),
    "cka_lang": ("mean cross-language CKA (debiased)", ("cka_lang", "debiased")),
    "parallel_cosine": ("cosine of parallel programs", ("parallel_cosine",)),
    "silhouette_task": ("silhouette by task", ("silhouette_task",)),
    "silhouette_lang": ("silhouette by language", ("silhouette_lang",)),
    "nmi_task": ("NMI with task clusters", ("nmi_task",)),
    "probe_lang_acc": ("linear probe: language accuracy", ("probe_lang_acc",)),
}
REPORT_CURVES = ("retrieval_top1", "cka_lang", "silhouette_task")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def number(x) -> float | None:
    """A float from a metric value: a number, or {"value": number}; None otherwise."""
    if isinstance(x, dict):
        x = x.get("value")
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def mean_offdiag(matrix) -> float | None:
    if not matrix:
        return None
    vals = [number(v) for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def metric_at(layer_metrics: dict, curve: str) -> float | None:
    """The value of a curve's metric in one layer's metrics dict."""
    path = CURVES[curve][1]
    x = layer_metrics
    for p in path:
        x = x.get(p) if isinstance(x, dict) else None
    if curve == "cka_lang":
        return mean_offdiag(x)
    return number(x)


def layer_curves(runs: list[Run], curve: str, pooling: str, norm: str, ckpts: list[str] | None = None,
                 height: int = 340) -> go.Figure:
    """One line per checkpoint (and per run when several: dotted for the second) of a metric along the
    layers; the checkpoint's curve on the lexical control set (metrics.json's "control": the same tasks with
    per-language identifiers) in the same colour, dashed (dash-dot for a second run), when the run has one."""
    fig = go.Figure()
    dashes = ("solid", "dot", "longdash")
    control_dashes = ("dash", "dashdot", "longdashdot")
    for r_i, run in enumerate(runs):
        names = ckpts or run.probe_ckpts or list(run.metrics.get("checkpoints") or {})
        suffix = "" if len(runs) == 1 else f" ({run.name})"
        for c_i, c in enumerate(names):
            color = PALETTE[c_i % len(PALETTE)]
            for control in (False, True):
                per = run.layer_metrics(c, pooling, norm, control=control)
                xs = list(per)
                ys = [metric_at(per[x], curve) for x in xs]
                if not xs or all(y is None for y in ys):
                    continue
                dash = (control_dashes if control else dashes)[r_i % 3]
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", legendgroup=c,
                                         name=f"{c}{' · control' if control else ''}{suffix}",
                                         line={"color": color, "dash": dash, "width": 1.5 if control else 2},
                                         marker={"symbol": "circle-open" if control else "circle"}))
        _baseline_lines(fig, run, curve, norm, suffix)
        _baseline_lines(fig, run, curve, norm, f" · control{suffix}", control=True)
    fig.update_layout(title=CURVES[curve][0], height=height, margin={"l": 40, "r": 10, "t": 40, "b": 40},
                      yaxis_title=CURVES[curve][0], legend={"font": {"size": 10}})
    return fig


def baseline_values(run: Run, curve: str, norm: str, control: bool = False) -> dict[str, float]:
    """{baseline name: value} of a curve's metric for the run's model-free baselines (metrics.json's
    "baselines", e.g. bag_of_tokens; `control`: the lexical control set's) under `norm`; empty when the run
    has none."""
    out = {}
    block = (run.metrics or {}).get("control") or {} if control else run.metrics or {}
    for name, by_norm in (block.get("baselines") or {}).items():
        v = metric_at((by_norm or {}).get(norm) or {}, curve)
        if v is not None:
            out[name] = v
    return out


def _baseline_lines(fig: go.Figure, run: Run, curve: str, norm: str, suffix: str, control: bool = False) -> None:
    """A horizontal dotted grey reference line per baseline (what the metric is without a model); lighter
    for the lexical control set's."""
    for name, v in baseline_values(run, curve, norm, control).items():
        fig.add_hline(y=v, line={"color": "#999999" if control else "#555555", "dash": "dot", "width": 1.5},
                      annotation_text=f"{name.replace('_', ' ')}{suffix}", annotation_position="top left",
                      annotation_font_size=10)


def heatmap(matrix, x: list[str], y: list[str] | None = None, title: str = "", zmin: float | None = 0.0,
            zmax: float | None = 1.0, height: int = 360) -> go.Figure:
    z = [[number(v) for v in row] for row in (matrix or [])]
    text = [["–" if v is None else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[str(v) for v in x], y=[str(v) for v in (y or x)], zmin=zmin, zmax=zmax,
                               colorscale="Viridis", text=text, texttemplate="%{text}", hoverongaps=False))
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 10, "t": 40, "b": 40},
                      yaxis={"autorange": "reversed"})
    return fig


def cka_lang_heatmap(run: Run, ckpt: str, pooling: str, norm: str, layer: str, kind: str = "debiased") -> go.Figure:
    m = (run.layer_metrics(ckpt, pooling, norm).get(str(layer)) or {}).get("cka_lang") or {}
    return heatmap(m.get(kind), m.get("langs") or [], title=f"{ckpt} · layer {layer} · {kind}")


def cka_layers_heatmap(run: Run, ckpt: str, kind: str = "debiased") -> go.Figure:
    m = run.cka_layers(ckpt)
    return heatmap(m.get(kind), m.get("layers") or [], title=f"{ckpt}: layer × layer CKA ({kind})")


def cka_ckpts_heatmap(run: Run, layer: str, kind: str = "debiased") -> go.Figure:
    m = run.cka_ckpts(layer)
    return heatmap(m.get(kind), m.get("ckpts") or [], title=f"layer {layer}: checkpoint × checkpoint CKA ({kind})")


def pass_bars(runs: list[Run], langs: list[str], ckpts: list[str] | None = None, height: int = 340) -> go.Figure:
    """pass@1 per language, one bar group per checkpoint, with 95% CI error bars."""
    fig = go.Figure()
    for r_i, run in enumerate(runs):
        for c_i, c in enumerate(ckpts or list(run.scores)):
            per = run.scores.get(c) or {}
            ys = [number((per.get(lang) or {}).get("pass@1")) for lang in langs]
            lo = [(per.get(lang) or {}).get("ci95") or [None, None] for lang in langs]
            plus = [None if y is None or ci[1] is None else ci[1] - y for y, ci in zip(ys, lo)]
            minus = [None if y is None or ci[0] is None else y - ci[0] for y, ci in zip(ys, lo)]
            fig.add_trace(go.Bar(x=langs, y=ys, name=c if len(runs) == 1 else f"{c} ({run.name})",
                                 marker={"color": PALETTE[c_i % len(PALETTE)],
                                         "pattern": {"shape": "/" if r_i else ""}},
                                 error_y={"type": "data", "array": plus, "arrayminus": minus}))
    fig.update_layout(barmode="group", title="pass@1 per language (95% CI)", height=height, yaxis_range=[0, 1],
                      margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


def alignment_gain_points(run: Run, layer: str, pooling: str, norm: str, source: str = "python") -> list[dict]:
    """One point per (arm, target language): x = retrieval top-1 source->lang of the arm's SFT checkpoint
    at `layer`, y = the arm's RL gain in that language (transfer.json)."""
    points = []
    for arm in arms(run.transfer):
        sft = f"sft-{arm}"
        per = run.layer_metrics(sft, pooling, norm).get(str(layer)) or {}
        for lang, t in run.transfer[arm].items():
            if lang in ("targets", "seen", "zero_shot", source) or not isinstance(t, dict):
                continue
            pair = (per.get("retrieval") or {}).get(f"{source}->{lang}") or {}
            x, y = number(pair.get("top1")), number(t.get("gain"))
            if x is not None and y is not None:
                points.append({"arm": arm, "lang": lang, "alignment": x, "gain": y})
    return points


def alignment_transfer_points(at: dict | None) -> list[dict]:
    """The probe stage's own (arm, lang, alignment, gain) points from metrics.json's alignment_transfer."""
    out = []
    for arm, d in ((at or {}).get("per_language") or {}).items():
        for p in (d or {}).get("points") or []:
            x, y = number(p.get("alignment")), number(p.get("gain"))
            if x is not None and y is not None:
                out.append({"arm": arm, "lang": p.get("lang"), "alignment": x, "gain": y})
    return out


def points_figure(pts: list[dict], x: str, y: str, xtitle: str, ytitle: str, title: str = "",
                  height: int = 360) -> go.Figure:
    """Labelled points, one trace per arm."""
    fig = go.Figure()
    for i, arm in enumerate(dict.fromkeys(p["arm"] for p in pts)):
        mine = [p for p in pts if p["arm"] == arm]
        fig.add_trace(go.Scatter(x=[p[x] for p in mine], y=[p[y] for p in mine], mode="markers+text",
                                 text=[p["lang"] for p in mine], textposition="top center", name=arm,
                                 marker={"size": 11, "color": PALETTE[i % len(PALETTE)]}))
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle, height=height,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


def alignment_vs_gain(run: Run, layer: str, pooling: str, norm: str, source: str = "python",
                      height: int = 360) -> go.Figure:
    return points_figure(alignment_gain_points(run, layer, pooling, norm, source), "alignment", "gain",
                         f"top-1 retrieval {source}→lang", "RL gain (pass@1)", height=height,
                         title=f"alignment of the SFT checkpoint (layer {layer}) vs RL gain")
