"""The map of programs: a 2-D projection of one checkpoint's vectors at one layer, coloured by language,
task or pass/fail, with lines linking the same task across languages; a chosen language is highlighted.
Points carry their row number in `customdata`, so a click or a box/lasso selection picks programs
(a selection's point indices are per trace, so they get mixed across traces). The Map page puts the pass@1 and transfer tables
beside it and the selected program below; the Compare page shows two checkpoints side by side, both
aligned onto the same reference map. Not for: loading (`data.py`).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ..charts import PALETTE
from ..tables import (
    compare_frame,
    family_frame,
    family_title,
    gain_values,
    groups_note,
    interval_unit,
    pass_frame,
    pass_values,
    transfer_frame,
)
from . import loaders as data
from .controls import View
from .details import program_details
from .projection import methods

COLOURS = ("language", "task", "pass/fail")
# Above this many points the map draws with WebGL (scattergl); below, SVG (every point is an element).
WEBGL_POINTS = 2000


def link_lines(xy: np.ndarray, tasks: np.ndarray, langs: np.ndarray) -> dict:
    """x and y of one polyline per task through its languages' points, NaN between tasks (one trace for
    all of them: thousands of traces would be slow)."""
    order = np.lexsort((langs, tasks))
    t_sorted = tasks[order]
    breaks = np.flatnonzero(t_sorted[1:] != t_sorted[:-1]) + 1
    x = np.append(np.insert(xy[order, 0].astype(float), breaks, np.nan), np.nan)
    y = np.append(np.insert(xy[order, 1].astype(float), breaks, np.nan), np.nan)
    return {"x": x, "y": y}


def map_figure(xy: np.ndarray, idx: np.ndarray, progs: data.Programs, colour: str, passed: np.ndarray | None,
               highlight: str | None, links: bool, selected: int | None = None, title: str = "",
               height: int = 560) -> go.Figure:
    langs, tasks = progs.langs[idx], progs.task_ids[idx]
    gl = len(idx) > WEBGL_POINTS
    Scatter = go.Scattergl if gl else go.Scatter
    fig = go.Figure()
    if links:
        fig.add_trace(Scatter(**link_lines(xy, tasks, langs), mode="lines", name="same task", hoverinfo="skip",
                              line={"color": "rgba(120,120,120,0.25)", "width": 1}))
    hl = (langs == highlight) if highlight else np.ones(len(idx), dtype=bool)
    groups: list[tuple[str, np.ndarray, object]] = []
    if colour == "language":
        for i, lang in enumerate(dict.fromkeys(langs.tolist())):
            groups.append((lang, langs == lang, PALETTE[i % len(PALETTE)]))
    elif colour == "pass/fail" and passed is not None:
        p = passed[idx]
        groups += [("passed", p >= 0.5, "#2ca02c"), ("failed", p < 0.5, "#d62728"),
                   ("not evaluated", np.isnan(p), "#bbbbbb")]
    else:
        codes = np.unique(tasks, return_inverse=True)[1]
        groups.append(("task", np.ones(len(idx), dtype=bool), codes))
    for name, mask, col in groups:
        for on in (False, True) if highlight else (True,):
            m = mask & (hl == on)
            if not m.any():
                continue
            marker = {"size": 8 if on and highlight else 6, "opacity": 0.9 if on else 0.15}
            if isinstance(col, np.ndarray):
                marker.update(color=col[m], colorscale="Turbo", showscale=False)
            else:
                marker["color"] = col
            fig.add_trace(Scatter(
                x=xy[m, 0], y=xy[m, 1], mode="markers", marker=marker, customdata=idx[m],
                name=name if on else f"{name} (dimmed)", legendgroup=name,
                text=[f"{t} · {lg}" for t, lg in zip(tasks[m], langs[m])],
                hovertemplate="%{text}<br>row %{customdata}<extra></extra>"))
    if selected is not None:
        pos = np.flatnonzero(idx == selected)
        if len(pos):
            fig.add_trace(Scatter(x=xy[pos, 0], y=xy[pos, 1], mode="markers", name="selected", hoverinfo="skip",
                                  marker={"size": 16, "symbol": "circle-open", "color": "black",
                                          "line": {"width": 2}}))
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"itemsizing": "constant"},
                      xaxis={"showticklabels": False, "zeroline": False, "showgrid": False},
                      yaxis={"showticklabels": False, "zeroline": False, "showgrid": False, "scaleanchor": "x"})
    return fig


def _on_select(key: str) -> None:
    """A selection on the map: remember its rows; the first becomes the program shown below."""
    sel = (st.session_state.get(key) or {}).get("selection") or {}
    rows = []
    for p in sel.get("points") or []:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if cd is not None:
            rows.append(int(cd))
    if rows:
        st.session_state["selected_rows"] = rows
        st.session_state["program"] = rows[0]


def map_controls(langs: list[str], n_programs: int = 0) -> dict:
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
    method = c1.selectbox("projection", methods(), key="method",
                          help=f"PCA maps every program; t-SNE/UMAP map a sample of whole tasks "
                               f"(≤{data.SLOW_METHOD_POINTS} programs)")
    colour = c2.selectbox("colour by", COLOURS, key="colour")
    highlight = c3.selectbox("highlight language", ["(none)", *langs], key="highlight")
    links = c4.checkbox("link translations", value=n_programs <= WEBGL_POINTS, key="links",
                        help="a line joins the same task's programs (off at first above "
                             f"{WEBGL_POINTS} programs: thousands of lines hide the points and slow drawing)")
    return {"method": method, "colour": colour, "highlight": None if highlight == "(none)" else highlight,
            "links": links}


def draw_map(view: View, ckpt: str, opts: dict, key: str, height: int = 560) -> None:
    anchor = (view.run.probe_ckpts[0], view.layers[-1])
    with st.spinner(f"projecting {ckpt} ({opts['method']})..."):
        idx, xy = data.aligned_map(view.root, ckpt, view.pooling, view.layer, view.norm, opts["method"], anchor)
    progs = data.programs(view.root, ckpt, view.version)
    passed = data.pass_column(view.root, ckpt, view.version) if opts["colour"] == "pass/fail" else None
    title = f"{ckpt} · layer {view.layer} · {view.pooling} · {view.norm} · {opts['method']}"
    if len(idx) < len(progs):
        title += f" · {len(idx)} of {len(progs)} programs"
    fig = map_figure(xy, idx, progs, opts["colour"], passed, opts["highlight"], opts["links"],
                     selected=st.session_state.get("program"), title=title, height=height)
    st.plotly_chart(fig, key=key, on_select=lambda: _on_select(key), selection_mode=("points", "box", "lasso"),
                    config={"displaylogo": False})


def _styled(df, highlight: str | None):
    style = df.style.format("{:.1f}", na_rep="–")
    if highlight and highlight in df.columns:
        style = style.set_properties(subset=[highlight], **{"background-color": "#fff3b0", "font-weight": "bold"})
    return style


def tables_panel(view: View, highlight: str | None) -> None:
    """pass@1 and RL gain beside the map (percent / points; the CIs in the expander below them), with the
    confirmatory contrasts the recipe declared first: every other comparison shown is exploratory."""
    run = view.run
    family = (run.transfer or {}).get("_family") or {}
    fam = family_frame(family)
    if not fam.empty:
        st.markdown(f"**{family_title(family)}**")
        st.dataframe(fam, key="family_table")
    if run.scores:
        st.markdown("**pass@1 (%)**")
        st.dataframe(_styled((100 * pass_values(run.scores, run.langs)).round(1), highlight), key="pass_table")
    else:
        st.caption("no scores yet")
    if run.transfer:
        st.markdown("**RL gain (points; exploratory: no correction)**")
        st.dataframe(_styled((100 * gain_values(run.transfer, run.langs)).round(1), highlight), key="transfer_table")
        st.caption(f"{groups_note(run.transfer)} Interval unit: {interval_unit(run.transfer)}.")
    else:
        st.caption("no transfer table yet")
    with st.expander("with 95% confidence intervals"):
        if run.scores:
            st.dataframe(pass_frame(run.scores, run.langs), key="pass_ci")
        if run.transfer:
            st.dataframe(transfer_frame(run.transfer, run.langs), key="transfer_ci")
            comp = compare_frame(run.transfer)
            if not comp.empty:
                st.markdown("arms compared (difference of gains, paired; exploratory, unadjusted p, except the "
                            "cells marked confirmatory)")
                st.dataframe(comp, key="compare_ci")


def no_probes(view: View) -> None:
    st.info("No probes yet for this run: run `psft probe RUN` (or `psft run --resume`) to capture activations. "
            "The tables below come from the evaluation.")


def map_page(view: View) -> None:
    if not view.probed:
        no_probes(view)
        tables_panel(view, None)
        return
    opts = map_controls(view.run.langs, len(data.programs(view.root, view.ckpt, view.version)))
    left, right = st.columns([3, 2])
    with left:
        draw_map(view, view.ckpt, opts, key="map")
    with right:
        tables_panel(view, opts["highlight"])
    program_details(view, view.ckpt)


def compare_page(view: View) -> None:
    if not view.probed:
        no_probes(view)
        return
    others = [c for c in view.run.probe_ckpts if c != view.ckpt] or [view.ckpt]
    if st.session_state.get("ckpt_b") not in others:
        st.session_state["ckpt_b"] = next((c for c in others if c.startswith("rl-")), others[0])
    ckpt_b = st.selectbox("compare with", others, key="ckpt_b")
    opts = map_controls(view.run.langs, len(data.programs(view.root, view.ckpt, view.version)))
    left, right = st.columns(2)
    with left:
        draw_map(view, view.ckpt, opts, key="map_a", height=480)
    with right:
        draw_map(view, ckpt_b, opts, key="map_b", height=480)
    from .panels import metrics_side_by_side
    metrics_side_by_side(view, [view.ckpt, ckpt_b])
    program_details(view, view.ckpt, also=ckpt_b)
