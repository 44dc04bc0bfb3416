"""Plotly figures shared by the report and the explorer: metric-vs-layer curves per checkpoint with their
95% intervals (each model-free baseline of the run, e.g. the bag of tokens, as a dotted line with its
interval as a band, and the lexical control set's curve of each checkpoint, dashed, when the run has
one), CKA heatmaps on categorical axes with colour scales fitted to their values and difference maps,
pass@1 bars, forest plots, and per-language alignment against RL gain. Layer axes are categorical
(`embed`, `0`, `1`, ...: `layer_axis`); pass@1 and gains are in points. Each function takes plain data (a
`Run`, metric names) and returns a `plotly.graph_objects.Figure`; none of them reads files itself.
Not for: the explorer's 2-D map of programs (`explorer/map_view.py`).
"""
from __future__ import annotations

import math

import plotly.graph_objects as go

from .rundata import Run
from .tables import GROUP_LABELS, arms

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


def value_ci(x) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of a metric value ({"value", "ci95"} or a number); None where absent."""
    v = number(x)
    ci = x.get("ci95") if isinstance(x, dict) else None
    if v is None or not ci or len(ci) != 2 or number(ci[0]) is None or number(ci[1]) is None:
        return v, None, None
    return v, float(ci[0]), float(ci[1])


def metric_ci_at(layer_metrics: dict, curve: str) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) of a curve's metric in one layer's metrics (no interval for the CKA mean)."""
    if curve == "cka_lang":
        return metric_at(layer_metrics, curve), None, None
    x = layer_metrics
    for p in CURVES[curve][1]:
        x = x.get(p) if isinstance(x, dict) else None
    return value_ci(x)


def layer_axis(fig: go.Figure, layers: list[str], title: str = "layer (embed = token embeddings)", axis: str = "x",
               **kw) -> None:
    """A categorical layer axis holding every layer in order ("embed", "0", "1", ...): numeric-looking labels
    would otherwise make plotly draw a linear axis, where "embed" has no place."""
    upd = {"type": "category", "categoryorder": "array", "categoryarray": list(layers), "tickmode": "array",
           "tickvals": list(layers), "ticktext": list(layers), "title": title, **kw}
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**upd)


def layer_curves(runs: list[Run], curve: str, pooling: str, norm: str, ckpts: list[str] | None = None,
                 height: int = 340, selected: str | None = None, labels: list[str] | None = None) -> go.Figure:
    """One line per checkpoint (and per run when several: dotted for the second) of a metric along the
    layers, with the metric's 95% interval (metrics.json's "ci95") as error bars where it has one; the
    checkpoint's curve on the lexical control set (metrics.json's "control": the same tasks with
    per-language identifiers) in the same colour, dashed (dash-dot for a second run), when the run has one;
    the run's model-free baselines (bag of tokens) as dotted lines with their interval as a band. The layer
    axis is categorical (every layer, "embed" first); `selected` marks that layer on every curve."""
    fig = go.Figure()
    dashes = ("solid", "dot", "longdash")
    control_dashes = ("dash", "dashdot", "longdashdot")
    all_layers: list[str] = []
    marks: list[float] = []
    labels = labels or [r.name for r in runs]
    for r_i, run in enumerate(runs):
        names = ckpts or run.probe_ckpts or list(run.metrics.get("checkpoints") or {})
        suffix = "" if len(runs) == 1 else f" ({labels[r_i]})"
        for c_i, c in enumerate(names):
            color = PALETTE[c_i % len(PALETTE)]
            for control in (False, True):
                per = run.layer_metrics(c, pooling, norm, control=control)
                xs = list(per)
                vals = [metric_ci_at(per[x], curve) for x in xs]
                ys = [v[0] for v in vals]
                if not xs or all(y is None for y in ys):
                    continue
                all_layers += [x for x in xs if x not in all_layers]
                dash = (control_dashes if control else dashes)[r_i % 3]
                err = None
                if any(v[1] is not None for v in vals):
                    err = {"type": "data", "symmetric": False, "thickness": 1, "width": 3,
                           "array": [None if v[2] is None else v[2] - v[0] for v in vals],
                           "arrayminus": [None if v[1] is None else v[0] - v[1] for v in vals]}
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", legendgroup=c, error_y=err,
                                         name=f"{c}{' · control' if control else ''}{suffix}",
                                         line={"color": color, "dash": dash, "width": 1.5 if control else 2},
                                         marker={"symbol": "circle-open" if control else "circle"},
                                         hovertemplate="layer %{x}: %{y:.3f}<extra>%{fullData.name}</extra>"))
                if selected is not None and str(selected) in xs and ys[xs.index(str(selected))] is not None:
                    marks.append(ys[xs.index(str(selected))])
        _baseline_lines(fig, run, curve, norm, suffix)
        _baseline_lines(fig, run, curve, norm, f" · control{suffix}", control=True)
    if marks:
        fig.add_trace(go.Scatter(x=[str(selected)] * len(marks), y=marks, mode="markers", name="selected layer",
                                 hoverinfo="skip", marker={"size": 14, "symbol": "circle-open", "color": "black",
                                                           "line": {"width": 2}}))
    label = CURVES[curve][0]
    fig.update_layout(title=label, height=height, margin={"l": 50, "r": 10, "t": 40, "b": 45},
                      yaxis_title=label, legend={"font": {"size": 10}})
    layer_axis(fig, all_layers)
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
    block = (run.metrics or {}).get("control") or {} if control else run.metrics or {}
    for name, v in baseline_values(run, curve, norm, control).items():
        _, lo, hi = metric_ci_at(((block.get("baselines") or {}).get(name) or {}).get(norm) or {}, curve)
        if lo is not None and hi is not None:
            fig.add_hrect(y0=lo, y1=hi, line_width=0, fillcolor="#999999", opacity=0.12 if control else 0.18)
        fig.add_hline(y=v, line={"color": "#999999" if control else "#555555", "dash": "dot", "width": 1.5},
                      annotation_text=f"{name.replace('_', ' ')}{suffix}", annotation_position="top left",
                      annotation_font_size=10)


def value_range(z: list[list[float | None]], pad: float = 0.02, skip_diagonal: bool = False
                ) -> tuple[float | None, float | None]:
    """A colour scale fitting the values (a little padding), so that 0.57-0.83 does not sit in one hue;
    `skip_diagonal`: fitted to the off-diagonal cells (a similarity matrix's diagonal is 1 by definition)."""
    vals = [v for i, row in enumerate(z) for j, v in enumerate(row) if v is not None and not (skip_diagonal and i == j)]
    if not vals:
        return None, None
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-9:
        return lo - 0.05, hi + 0.05
    return lo - pad * (hi - lo), hi + pad * (hi - lo)


def heatmap(matrix, x: list[str], y: list[str] | None = None, title: str = "", zmin: float | None = None,
            zmax: float | None = None, height: int = 360, diverging: bool = False, layers: bool = False,
            colorbar: str = "CKA") -> go.Figure:
    """A labelled heatmap on categorical axes (every row and column, cells centred on their labels), its
    colour scale fitted to the values (off the diagonal of a square similarity matrix, whose diagonal is 1;
    `zmin`/`zmax` to fix it); `diverging`: a difference map, centred
    on 0 (red above, blue below); `layers`: both axes are layers."""
    z = [[number(v) for v in row] for row in (matrix or [])]
    xs, ys = [str(v) for v in x], [str(v) for v in (y or x)]
    text = [["–" if v is None else f"{v:+.2f}" if diverging else f"{v:.2f}" for v in row] for row in z]
    if diverging:
        m = max([abs(v) for row in z for v in row if v is not None] or [1e-3]) or 1e-3
        lo, hi, scale = -m, m, "RdBu_r"
    else:
        lo, hi = value_range(z, skip_diagonal=xs == ys and len(z) > 2)
        scale = "Viridis"
    lo, hi = lo if zmin is None else zmin, hi if zmax is None else zmax
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, zmin=lo, zmax=hi, colorscale=scale, text=text,
                               texttemplate="%{text}", hoverongaps=False, colorbar={"title": colorbar},
                               hovertemplate="%{y} × %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 10, "t": 40, "b": 45})
    axis = {"type": "category", "categoryorder": "array", "tickmode": "array"}
    fig.update_xaxes(**axis, categoryarray=xs, tickvals=xs, ticktext=xs,
                     title="layer (embed = token embeddings)" if layers else None)
    fig.update_yaxes(**axis, categoryarray=ys, tickvals=ys, ticktext=ys, autorange="reversed",
                     title="layer" if layers else None)
    return fig


def cka_lang_matrix(run: Run, ckpt: str, pooling: str, norm: str, layer: str, kind: str = "debiased") -> dict:
    return (run.layer_metrics(ckpt, pooling, norm).get(str(layer)) or {}).get("cka_lang") or {}


def cka_lang_heatmap(run: Run, ckpt: str, pooling: str, norm: str, layer: str, kind: str = "debiased") -> go.Figure:
    m = cka_lang_matrix(run, ckpt, pooling, norm, layer, kind)
    return heatmap(m.get(kind), m.get("langs") or [], title=f"{ckpt} · layer {layer} · {kind}")


def cka_lang_difference(run: Run, a: str, b: str, pooling: str, norm: str, layer: str,
                        kind: str = "debiased") -> go.Figure | None:
    """The language × language CKA of checkpoint `a` minus that of `b` (same layer), on a scale centred on
    0; None when either is missing."""
    ma, mb = cka_lang_matrix(run, a, pooling, norm, layer), cka_lang_matrix(run, b, pooling, norm, layer)
    if not ma.get(kind) or not mb.get(kind) or ma.get("langs") != mb.get("langs"):
        return None
    z = [[None if number(u) is None or number(v) is None else number(u) - number(v) for u, v in zip(ra, rb)]
         for ra, rb in zip(ma[kind], mb[kind])]
    return heatmap(z, ma["langs"], title=f"{a} − {b} · layer {layer} · {kind}", diverging=True,
                   colorbar="Δ CKA")


def cka_layers_heatmap(run: Run, ckpt: str, kind: str = "debiased") -> go.Figure:
    m = run.cka_layers(ckpt)
    return heatmap(m.get(kind), m.get("layers") or [], title=f"{ckpt}: layer × layer CKA ({kind})", layers=True)


def cka_ckpts_heatmap(run: Run, layer: str, kind: str = "debiased") -> go.Figure:
    m = run.cka_ckpts(layer)
    return heatmap(m.get(kind), m.get("ckpts") or [], title=f"layer {layer}: checkpoint × checkpoint CKA ({kind})")


def _points_ci(cell: dict | None, key: str) -> tuple[float | None, float | None, float | None]:
    """(value, low, high) in points (× 100) of a scores/transfer cell's `key` and its ci95."""
    cell = cell or {}
    v = number(cell.get(key))
    ci = cell.get("ci95") or [None, None]
    if v is None:
        return None, None, None
    lo, hi = (number(ci[0]), number(ci[1])) if len(ci) == 2 else (None, None)
    return 100 * v, None if lo is None else 100 * lo, None if hi is None else 100 * hi


def pass_bars(runs: list[Run], langs: list[str], ckpts: list[str] | None = None, height: int = 340,
              labels: list[str] | None = None, scores: list[dict] | None = None) -> go.Figure:
    """pass@1 per language in points (%), one bar group per checkpoint, with 95% CI error bars."""
    fig = go.Figure()
    labels = labels or [r.name for r in runs]
    for r_i, run in enumerate(runs):
        sc = scores[r_i] if scores else run.scores
        for c_i, c in enumerate(ckpts or list(sc)):
            per = sc.get(c) or {}
            vals = [_points_ci(per.get(lang), "pass@1") for lang in langs]
            fig.add_trace(go.Bar(x=langs, y=[v[0] for v in vals], name=c if len(runs) == 1 else f"{c} ({labels[r_i]})",
                                 marker={"color": PALETTE[c_i % len(PALETTE)],
                                         "pattern": {"shape": "/" if r_i else ""}},
                                 error_y={"type": "data", "symmetric": False,
                                          "array": [None if v[2] is None else v[2] - v[0] for v in vals],
                                          "arrayminus": [None if v[1] is None else v[0] - v[1] for v in vals]}))
    fig.update_layout(barmode="group", title="pass@1 per language (%, 95% CI)", height=height, yaxis_range=[0, 100],
                      xaxis_title="language", yaxis_title="pass@1 (%)", margin={"l": 50, "r": 10, "t": 40, "b": 45})
    return fig


def forest(rows: list[dict], title: str = "", xtitle: str = "difference (points)", height: int | None = None) -> go.Figure:
    """A forest plot: one row per estimate ({"label", "value", "low", "high", "group", "strong"}), in
    points, with its 95% interval and a line at 0; `group` names the row's kind (e.g. "confirmatory
    (Holm)" or "exploratory"), `strong` marks the rows drawn in full colour (the others in grey)."""
    fig = go.Figure()
    labels = [r["label"] for r in rows]
    groups = list(dict.fromkeys(r.get("group", "") for r in rows))
    colours = {"confirmatory": "#1f4e99", "exploratory": "#888888"}
    for g in groups:
        mine = [r for r in rows if r.get("group", "") == g]
        col = next((v for k, v in colours.items() if g.startswith(k)), PALETTE[groups.index(g) % len(PALETTE)])
        fig.add_trace(go.Scatter(
            x=[r["value"] for r in mine], y=[r["label"] for r in mine], mode="markers", name=g,
            marker={"size": [11 if r.get("strong", True) else 8 for r in mine], "color": col,
                    "symbol": ["diamond" if r.get("strong", True) else "circle" for r in mine]},
            error_x={"type": "data", "symmetric": False, "thickness": 2, "width": 5, "color": col,
                     "array": [None if r.get("high") is None else r["high"] - r["value"] for r in mine],
                     "arrayminus": [None if r.get("low") is None else r["value"] - r["low"] for r in mine]},
            customdata=[[r.get("low"), r.get("high")] for r in mine],
            hovertemplate="%{y}: %{x:+.1f} [%{customdata[0]:.1f}, %{customdata[1]:.1f}]<extra></extra>"))
    fig.add_vline(x=0, line={"color": "#444444", "width": 1})
    fig.update_layout(title=title, height=height or 120 + 34 * len(rows), margin={"l": 10, "r": 10, "t": 40, "b": 45},
                      xaxis_title=xtitle, legend={"orientation": "h", "y": -0.25 if len(rows) < 5 else -0.12})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels[::-1], automargin=True)
    return fig


def alignment_gain_points(run: Run, layer: str, pooling: str, norm: str, source: str = "python") -> list[dict]:
    """One point per (arm, target language): x = retrieval top-1 source->lang of the arm's SFT checkpoint
    at `layer`, y = the arm's RL gain in that language in points (transfer.json)."""
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
                points.append({"arm": arm, "lang": lang, "alignment": x, "gain": 100 * y})
    return points


def alignment_transfer_points(at: dict | None) -> list[dict]:
    """The probe stage's own (arm, lang, alignment, gain in points) points from metrics.json's alignment_transfer."""
    out = []
    for arm, d in ((at or {}).get("per_language") or {}).items():
        for p in (d or {}).get("points") or []:
            x, y = number(p.get("alignment")), number(p.get("gain"))
            if x is not None and y is not None:
                out.append({"arm": arm, "lang": p.get("lang"), "alignment": x, "gain": 100 * y})
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
    fig.add_hline(y=0, line={"color": "#999999", "width": 1})
    fig.update_layout(title=title, xaxis_title=xtitle, yaxis_title=ytitle, height=height,
                      margin={"l": 50, "r": 10, "t": 40, "b": 45})
    return fig


def alignment_vs_gain(run: Run, layer: str, pooling: str, norm: str, source: str = "python",
                      height: int = 360) -> go.Figure:
    return points_figure(alignment_gain_points(run, layer, pooling, norm, source), "alignment", "gain",
                         f"top-1 retrieval {source}→lang", "RL gain (points of pass@1)", height=height,
                         title=f"alignment of the SFT checkpoint (layer {layer}) vs RL gain")


def intervention_effects(results: list[dict], column: str, height: int = 380, title: str | None = None) -> go.Figure:
    """The effect of each edit along the layers (`interventions/<name>.json`: the edited checkpoint minus
    the same checkpoint unedited, in `column`: a language or a group), in points with its 95% interval, one
    line per edit and arm (each file of `results` is an arm's pair; controls dashed or dotted, confirmatory
    cells as diamonds); each arm's RL gain (model − vs, unedited) in `column` as a dotted line, its interval
    as a band: what a transplant or a patch into vs could reproduce. The layer axis is categorical."""
    from .intervention_results import arm_of, checkpoint_names, effect, gain, series
    fig = go.Figure()
    all_layers: list[str] = []
    several = len(results) > 1
    dashes = {"random": "dash", "target": "dot"}
    i = 0
    for r in results:
        arm = arm_of(r)
        for s in series(r):
            xs, vals, roles = [], [], []
            for L, cond in s.conditions.items():
                cell = effect(r, cond, column)
                v = _points_ci(cell, "diff")
                if v[0] is None:
                    continue
                xs.append(str(L))
                vals.append(v)
                roles.append(cell.get("role") or "exploratory")
            if not xs:
                continue
            all_layers += [x for x in xs if x not in all_layers]
            fig.add_trace(go.Scatter(
                x=xs, y=[v[0] for v in vals], mode="lines+markers", name=f"{arm} · {s.label}" if several else s.label,
                line={"color": PALETTE[i % len(PALETTE)], "dash": dashes.get(s.edit, "solid")},
                marker={"size": [11 if ro == "confirmatory" else 7 for ro in roles],
                        "symbol": ["diamond" if ro == "confirmatory" else "circle" for ro in roles]},
                error_y={"type": "data", "symmetric": False, "thickness": 1.5, "width": 4,
                         "array": [None if v[2] is None else v[2] - v[0] for v in vals],
                         "arrayminus": [None if v[1] is None else v[0] - v[1] for v in vals]},
                customdata=[[v[1], v[2], ro] for v, ro in zip(vals, roles)],
                hovertemplate="layer %{x}: %{y:+.1f} [%{customdata[0]:.1f}, %{customdata[1]:.1f}] points "
                              "(%{customdata[2]})<extra>%{fullData.name}</extra>"))
            i += 1
        g = _points_ci(gain(r, column), "diff")
        if g[0] is not None:
            names = checkpoint_names(r)
            if g[1] is not None and g[2] is not None:
                fig.add_hrect(y0=g[1], y1=g[2], line_width=0, fillcolor="#999999", opacity=0.15)
            fig.add_hline(y=g[0], line={"color": "#555555", "dash": "dot", "width": 1.5},
                          annotation_text=f"RL gain {names['model']} − {names['vs']}", annotation_position="top left",
                          annotation_font_size=10)
    fig.add_hline(y=0, line={"color": "#444444", "width": 1})
    where = GROUP_LABELS.get(column, column)
    fig.update_layout(title=title or f"effect on pass@1, {where} (points, 95% CI)", height=height,
                      scattermode="group", scattergap=0.5,       # edits at one layer side by side, not on top
                      yaxis_title="edited − unedited (points)", legend={"font": {"size": 10}},
                      margin={"l": 50, "r": 10, "t": 40, "b": 45})
    layer_axis(fig, sorted(all_layers, key=int), title="layer L (edit at blocks.L.hook_resid_post)")
    return fig
