"""The map of programs: a 2-D projection of one checkpoint's vectors at one layer, coloured by language,
task, pass/fail or what RL did, with lines linking the same task across languages; a chosen language is
highlighted. Drawn by ECharts (`st.echarts_chart`, one canvas; `map_spec`), or by plotly where Streamlit
lacks it or `PSFT_EXPLORER_MAP=plotly` (`map_figure`). A click, or a box or lasso selection, picks
programs: ECharts reports series-local point indices, mapped to rows through each series' rows
(`selected_rows`); plotly points carry their row in `customdata`. The Map page puts the pass@1 and
transfer tables beside it and the selected program below; the Compare page shows two checkpoints side by
side, both aligned onto the same reference map. Not for: loading (`loaders.py`).
"""
from __future__ import annotations

import numpy as np
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
from .after_map import map_drawn
from .controls import View, remembered
from .details import program_details
from .projection import methods

COLOURS = ("language", "task", "pass/fail", "RL transition")
OWN_LANGUAGE = "(each program's own)"
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


def _groups(idx: np.ndarray, progs: data.Programs, colour: str, passed: np.ndarray | None,
            transitions: np.ndarray | None) -> list[tuple[str, np.ndarray, object]]:
    """(legend name, mask over idx, colour: a CSS colour, or an array of task codes for a colour scale)."""
    langs, tasks = progs.langs[idx], progs.task_ids[idx]
    if colour == "language":
        return [(lang, langs == lang, PALETTE[i % len(PALETTE)]) for i, lang in enumerate(dict.fromkeys(langs.tolist()))]
    if colour == "RL transition" and transitions is not None:
        tr = transitions[idx]
        return [(name, tr == name, data.TRANSITION_COLOURS[name]) for name in data.TRANSITIONS]
    if colour == "pass/fail" and passed is not None:
        p = passed[idx]
        return [("passed", p >= 0.5, "#2ca02c"), ("failed", p < 0.5, "#d62728"), ("not evaluated", np.isnan(p), "#bbbbbb")]
    return [("task", np.ones(len(idx), dtype=bool), np.unique(tasks, return_inverse=True)[1])]


def _layers_of_points(idx: np.ndarray, progs: data.Programs, groups, highlight: str | None):
    """(name, mask, colour, shown in full) per drawn set of points: with a highlighted language, each group
    splits into its dimmed rest and its highlighted part (drawn last, on top)."""
    hl = (progs.langs[idx] == highlight) if highlight else np.ones(len(idx), dtype=bool)
    for name, mask, col in groups:
        for on in (False, True) if highlight else (True,):
            m = mask & (hl == on)
            if m.any():
                yield (name if on else f"{name} (dimmed)", m, col, on)


def map_figure(xy: np.ndarray, idx: np.ndarray, progs: data.Programs, colour: str, passed: np.ndarray | None,
               highlight: str | None, links: bool, selected: int | None = None, title: str = "",
               height: int = 560, transitions: np.ndarray | None = None):
    """The map as a plotly figure (the fallback where Streamlit has no `st.echarts_chart`, and the
    benchmark's comparison)."""
    import plotly.graph_objects as go
    langs, tasks = progs.langs[idx], progs.task_ids[idx]
    gl = len(idx) > WEBGL_POINTS
    Scatter = go.Scattergl if gl else go.Scatter
    fig = go.Figure()
    if links:
        fig.add_trace(Scatter(**link_lines(xy, tasks, langs), mode="lines", name="same task", hoverinfo="skip",
                              line={"color": "rgba(120,120,120,0.25)", "width": 1}))
    groups = _groups(idx, progs, colour, passed, transitions)
    for name, m, col, on in _layers_of_points(idx, progs, groups, highlight):
        marker = {"size": 8 if on and highlight else 6, "opacity": 0.9 if on else 0.15}
        if isinstance(col, np.ndarray):
            marker.update(color=col[m], colorscale="Turbo", showscale=False)
        else:
            marker["color"] = col
        fig.add_trace(Scatter(
            x=xy[m, 0], y=xy[m, 1], mode="markers", marker=marker, customdata=idx[m],
            name=name, legendgroup=name.removesuffix(" (dimmed)"),
            text=[f"{t} · {lg}" for t, lg in zip(tasks[m], langs[m])],
            hovertemplate="%{text}<br>row %{customdata}<extra></extra>"))
    if selected is not None:
        pos = np.flatnonzero(idx == selected)
        if len(pos):
            fig.add_trace(Scatter(x=xy[pos, 0], y=xy[pos, 1], mode="markers", name="selected", hoverinfo="skip",
                                  marker={"size": 16, "symbol": "circle-open", "color": "black",
                                          "line": {"width": 2}}))
    title = title.replace("\n", "<br><sup>", 1) + ("</sup>" if "\n" in title else "")
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 60 if "<br>" in title else 40, "b": 10},
                      legend={"itemsizing": "constant"},
                      xaxis={"showticklabels": False, "zeroline": False, "showgrid": False},
                      yaxis={"showticklabels": False, "zeroline": False, "showgrid": False, "scaleanchor": "x"})
    return fig


TURBO = ("#30123b", "#4145ab", "#4675ed", "#39a2fc", "#1bcfd4", "#24eca6", "#61fc6c", "#a4fc3b", "#d1e834",
         "#f3c63a", "#fe9b2d", "#f36315", "#d93806", "#b11901", "#7a0402")   # plotly's Turbo scale
# Above this many points a series is drawn in ECharts' large mode (batched paths; hover does not enlarge the
# point); every series is drawn in one frame (`progressive: 0`), not in chunks of 400 over many frames.
LARGE_SERIES = 2000
# Above this many points (a) a point's tooltip names its series and row, not its task and language: a label
# per point is most of the map's bytes at 200k programs (~21 of ~33 bytes a point), and the browser builds
# one string per point from it before ECharts can draw; the program panel names them on a click; (b) points
# are 3 px squares: ECharts fills symbols under 4 px as rectangles straight on the canvas instead of
# building a path per point, and at that density 6 px circles overlap anyway.
LABEL_POINTS = 50_000
HIDDEN_AXIS = {"type": "value", "axisLabel": {"show": False}, "axisLine": {"show": False},
               "axisTick": {"show": False}, "splitLine": {"show": False}}


def map_spec(xy: np.ndarray, idx: np.ndarray, progs: data.Programs, colour: str, passed: np.ndarray | None,
             highlight: str | None, links: bool, selected: int | None = None, title: str = "",
             transitions: np.ndarray | None = None) -> tuple[dict, list[np.ndarray | None], str]:
    """The map as an ECharts option for `st.echarts_chart`, the program rows of each series (None for the
    lines and the selection mark), since a selection comes back as series-local point indices, and a digest
    of those rows: the chart's identity, so that a selection made on other series (another colouring or
    highlight) is dropped rather than read through the new ones (Streamlit re-applies a chart's selection
    after a rerun).

    Every set of points is one scatter series over its own dataset (a DataFrame: sent to the browser as
    Arrow, not JSON); ECharts draws them on a canvas, in batches above 20,000 points. A click selects one
    point (`selectedMode`), the toolbox's box and lasso (polygon) brushes select many; the brush targets
    the axes, so its regions are reported in data coordinates and survive a resize."""
    import pandas as pd
    langs, tasks = progs.langs[idx], progs.task_ids[idx]
    series: list[dict] = []
    datasets: list[dict] = []
    rows_of: list[np.ndarray | None] = []
    if links:
        ll = link_lines(xy, tasks, langs)
        pts = [[round(float(x), 5), round(float(y), 5)] if x == x else "-" for x, y in zip(ll["x"], ll["y"])]
        series.append({"type": "line", "name": "same task", "data": pts, "symbol": "none", "silent": True,
                       "connectNulls": False, "z": 1, "tooltip": {"show": False},
                       "lineStyle": {"color": "rgba(120,120,120,0.25)", "width": 1}})
        rows_of.append(None)
    labelled = len(idx) <= LABEL_POINTS
    label = np.char.add(np.char.add(tasks.astype(str), " · "), langs.astype(str)) if labelled else None
    groups = _groups(idx, progs, colour, passed, transitions)
    colour_scale = None
    for name, m, col, on in _layers_of_points(idx, progs, groups, highlight):
        frame = {"x": xy[m, 0].astype(np.float32), "y": xy[m, 1].astype(np.float32), "row": idx[m].astype(np.int32)}
        if labelled:
            frame["label"] = label[m]
        if isinstance(col, np.ndarray):
            frame["code"] = col[m].astype(np.int32)
            colour_scale = (list(frame).index("code"), int(col.max()) if len(col) else 0)
        datasets.append({"source": pd.DataFrame(frame)})
        item = {"opacity": 0.9 if on else 0.15}
        if not isinstance(col, np.ndarray):
            item["color"] = col
        series.append({"type": "scatter", "name": name, "datasetIndex": len(datasets) - 1, "z": 2 + on,
                       "encode": {"x": "x", "y": "y"},
                       "symbolSize": (8 if on and highlight else 6) if labelled else (4 if on and highlight else 3),
                       "large": bool(m.sum() > LARGE_SERIES), "progressive": 0,
                       "itemStyle": item, "selectedMode": "single", "emphasis": {"scale": 1.6},
                       "select": {"itemStyle": {"borderColor": "#000", "borderWidth": 2}},
                       "tooltip": {"formatter": "{@label}<br>row {@row}" if labelled else "{a}<br>row {@row}"}})
        rows_of.append(idx[m])
    import hashlib
    digest = hashlib.sha1(b"|".join(b"-" if r is None else r.tobytes() for r in rows_of)).hexdigest()[:10]
    if selected is not None:
        pos = np.flatnonzero(idx == selected)
        if len(pos):
            series.append({"type": "scatter", "name": "selected", "silent": True, "z": 5, "symbolSize": 16,
                           "data": [[float(xy[pos[0], 0]), float(xy[pos[0], 1])]], "tooltip": {"show": False},
                           "itemStyle": {"color": "rgba(0,0,0,0)", "borderColor": "#000", "borderWidth": 2}})
            rows_of.append(None)
    lo, hi = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2), np.ones(2))
    pad = 0.04 * np.maximum(hi - lo, 1e-6)
    axes = [{**HIDDEN_AXIS, "min": round(float(lo[k] - pad[k]), 5), "max": round(float(hi[k] + pad[k]), 5)}
            for k in (0, 1)]
    spec = {"title": {"text": title, "show": False}, "animation": False, "dataset": datasets, "series": series,
            "grid": {"left": 8, "right": 150, "top": 30, "bottom": 8},
            "xAxis": axes[0], "yAxis": axes[1], "tooltip": {"trigger": "item"},
            "legend": {"type": "scroll", "orient": "vertical", "right": 0, "top": 40,
                       "data": [s["name"] for s in series if s["type"] == "scatter" and s["name"] != "selected"]},
            "toolbox": {"right": 10, "top": 0, "itemSize": 15, "itemGap": 10,
                        "feature": {"brush": {"type": ["rect", "polygon", "clear"]}}},
            "aria": {"enabled": True},
            "brush": {"toolbox": ["rect", "polygon", "clear"], "xAxisIndex": 0, "yAxisIndex": 0,
                      "throttleType": "debounce", "throttleDelay": 300}}
    if colour_scale is not None:
        spec["visualMap"] = {"type": "continuous", "show": False, "dimension": colour_scale[0], "min": 0, "max": colour_scale[1],
                             "seriesIndex": [i for i, s in enumerate(series) if s.get("datasetIndex") is not None],
                             "inRange": {"color": list(TURBO)}}
    return spec, rows_of, digest


def selected_rows(selection: dict, series_rows: list) -> list[int]:
    """The program rows of a map selection, in the order it lists them: an ECharts selection names
    series-local point indices (mapped through each series' rows, kept when the map was drawn; the lines
    and the selection mark have none), a plotly one carries each point's row in its customdata."""
    rows: list[int] = []
    for group in selection.get("selected") or []:
        i = group.get("series_index")
        if isinstance(i, int) and 0 <= i < len(series_rows) and series_rows[i] is not None:
            own = series_rows[i]
            rows += [int(own[j]) for j in group.get("data_indices") or [] if 0 <= j < len(own)]
    for p in selection.get("points") or []:
        cd = p.get("customdata")
        if isinstance(cd, list):
            cd = cd[0] if cd else None
        if cd is not None:
            rows.append(int(cd))
    return rows


def _on_select(key: str) -> None:
    """A selection on the map: remember its rows; the first becomes the program shown below."""
    sel = (st.session_state.get(key) or {}).get("selection") or {}
    rows = selected_rows(sel, st.session_state.get(f"{key}__rows") or [])
    if rows:
        st.session_state["selected_rows"] = sorted(set(rows))
        st.session_state["program"] = rows[0]


def renderer() -> str:
    """"echarts" (Streamlit's `st.echarts_chart`, Apache ECharts on a canvas) unless this Streamlit lacks it
    or $PSFT_EXPLORER_MAP says "plotly" (the previous map, kept as the fallback and the benchmark's baseline)."""
    import os
    want = os.environ.get("PSFT_EXPLORER_MAP", "echarts")
    return "echarts" if want != "plotly" and hasattr(st, "echarts_chart") else "plotly"


def map_controls(langs: list[str], n_programs: int = 0, arms: list[str] = (), default_arm: str | None = None,
                 draw: bool = True) -> dict:
    """The map's options from its widgets; `draw=False` (a first visit's map alone: `controls_deferred`) gives
    the values those widgets will start from, without drawing them. Drawn in a container of their own, which
    is there (empty) when they are not drawn, so the map keeps its place in the page between the two runs
    (an element that moves is mounted anew: the browser would build the chart again)."""
    if arms:
        remembered("rl_arm", list(arms), default=default_arm)
    box = st.container()
    if not draw:   # what the widgets below will show (the checkbox keeps its default in `value=`, not the state)
        highlight = remembered("highlight", ["(none)", *langs])
        lang = remembered("rl_lang", [OWN_LANGUAGE, *langs]) if arms else OWN_LANGUAGE
        return {"method": remembered("method", methods()), "colour": remembered("colour", COLOURS),
                "highlight": None if highlight == "(none)" else highlight,
                "links": st.session_state.get("links", _links_default(n_programs)),
                "arm": st.session_state["rl_arm"] if arms else None,
                "rl_lang": None if lang == OWN_LANGUAGE else lang}
    with box:
        return _map_widgets(langs, n_programs, arms)


def _links_default(n_programs: int) -> bool:
    return n_programs <= WEBGL_POINTS


def _map_widgets(langs: list[str], n_programs: int, arms: list[str]) -> dict:
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
    method = c1.selectbox("projection", methods(), key="method",
                          help=f"PCA maps every program; t-SNE/UMAP map a sample of whole tasks "
                               f"(≤{data.SLOW_METHOD_POINTS} programs)")
    colour = c2.selectbox("colour by", COLOURS, key="colour")
    highlight = c3.selectbox("highlight language", ["(none)", *langs], key="highlight")
    links = c4.checkbox("link translations", value=_links_default(n_programs), key="links",
                        help="a line joins the same task's programs (off at first above "
                             f"{WEBGL_POINTS} programs: thousands of lines hide the points and slow drawing)")
    arm, rl_lang = None, None
    if colour == "RL transition" or arms:
        d1, d2, _ = st.columns([1, 1, 2])
        if arms:
            arm = d1.selectbox("RL arm", list(arms), key="rl_arm",
                               help="what RL did: this arm's SFT checkpoint against its RL checkpoint (fixed, broken, "
                                    "both pass, both fail), in the language chosen beside")
            lang = d2.selectbox("RL transition in", [OWN_LANGUAGE, *langs], key="rl_lang",
                                help="each program's own language, or one language for every program of a task")
            rl_lang = None if lang == OWN_LANGUAGE else lang
        else:
            d1.caption("no RL arm with evaluations in this run")
    return {"method": method, "colour": colour, "highlight": None if highlight == "(none)" else highlight,
            "links": links, "arm": arm, "rl_lang": rl_lang}


def draw_map(view: View, ckpt: str, opts: dict, key: str, height: int = 560) -> None:
    anchor = (view.run.probe_ckpts[0], view.layers[-1])
    with st.spinner(f"projecting {ckpt} ({opts['method']})..."):
        idx, xy = data.aligned_map(view.root, ckpt, view.pooling, view.layer, view.norm, opts["method"], anchor)
    progs = data.programs(view.root, ckpt, view.version)
    passed = data.pass_column(view.root, ckpt, view.version) if opts["colour"] == "pass/fail" else None
    transitions = None
    title = f"{ckpt} · layer {view.layer} · {view.pooling} · {view.norm} · {opts['method']}"
    if len(idx) < len(progs):
        title += f" · {len(idx)} of {len(progs)} programs"
    if opts["colour"] == "RL transition" and opts.get("arm"):
        transitions = data.transition_column(view.root, ckpt, opts["arm"], opts.get("rl_lang"), view.version)
        sft, rl = data.rl_arms(view.run)[opts["arm"]]
        title += f"\nwhat RL did: {sft} → {rl}, in {opts.get('rl_lang') or 'each program’s language'}"
    selected = st.session_state.get("program")
    args = (xy, idx, progs, opts["colour"], passed, opts["highlight"], opts["links"])
    if renderer() == "echarts":
        main, _, sub = title.partition("\n")
        st.container(key=f"{key}_title").markdown(f"**{main}**" + (f"  \n{sub}" if sub else ""))
        spec, rows_of, digest = map_spec(*args, selected=selected, title=title, transitions=transitions)
        chart = f"{key}-{digest}"           # the CSS class st-key-<key>-<digest> marks it in the page
        for old in [k for k in st.session_state if str(k).startswith(f"{key}-") and str(k).endswith("__rows")]:
            del st.session_state[old]       # the rows of this map's earlier layouts
        st.session_state[f"{chart}__rows"] = rows_of
        st.echarts_chart(spec, key=chart, on_select=lambda: _on_select(chart), height=height - 40)
    else:
        fig = map_figure(*args, selected=selected, title=title, height=height, transitions=transitions)
        st.plotly_chart(fig, key=key, on_select=lambda: _on_select(key), selection_mode=("points", "box", "lasso"),
                        config={"displaylogo": False})


def _styled(df, highlight: str | None):
    style = df.style.format("{:.1f}", na_rep="–")
    if highlight and highlight in df.columns:
        style = style.set_properties(subset=[highlight], **{"background-color": "#fff3b0", "font-weight": "bold"})
    return style


def tables_panel(view: View, highlight: str | None) -> None:
    """pass@1 and RL gain beside the map (points; the CIs in the expander below them), with the
    confirmatory contrasts the recipe declared first: every other comparison shown is exploratory. A bench
    run that evaluated several benchmarks (MBXP, Multi-HumanEval) gets a choice of benchmark.

    The tables beside the map are static (`st.table`): a first visitor's browser then draws the map without
    loading and running Streamlit's interactive data grid (a 0.5 MB chunk and a canvas per table, measured
    in docs/results/2026-12-07-explorer-speed.md). The intervals (wide tables) are interactive and are only
    built once their expander is opened."""
    run = view.run
    scores, transfer = run.scores, run.transfer
    by_bench = run.scores_by_benchmark
    if len(by_bench) > 1:
        bench = st.radio("benchmark", list(by_bench), horizontal=True, key="benchmark")
        scores = by_bench[bench]
        transfer = run.transfer_by_benchmark.get(bench) or {}
    langs = sorted({lg for per in scores.values() for lg in per}, key=lambda x: run.langs.index(x)
                   if x in run.langs else len(run.langs)) if scores else run.langs
    family = (transfer or {}).get("_family") or {}
    fam = family_frame(family)
    if not fam.empty:
        st.markdown(f"**{family_title(family)}**")
        st.table(fam)
    if scores:
        st.markdown("**pass@1 (%)**")
        st.table(_styled((100 * pass_values(scores, langs)).round(1), highlight))
    else:
        st.caption("no scores yet")
    if transfer:
        st.markdown("**RL gain (points; exploratory: no correction)**")
        st.table(_styled((100 * gain_values(transfer, langs)).round(1), highlight))
        st.caption(f"{groups_note(transfer)} Interval unit: {interval_unit(transfer)}.")
    else:
        st.caption("no transfer table yet")
    if not (scores or transfer):
        return
    cis = st.expander("with 95% confidence intervals", key="ci_tables", on_change="rerun")
    if not cis.open:
        return
    with cis:
        if scores:
            st.dataframe(pass_frame(scores, langs), key="pass_ci")
        if transfer:
            st.dataframe(transfer_frame(transfer, langs), key="transfer_ci")
            comp = compare_frame(transfer)
            if not comp.empty:
                st.markdown("arms compared (difference of gains in points, paired; exploratory, unadjusted p, "
                            "except the cells marked confirmatory)")
                st.dataframe(comp, key="compare_ci")


def no_probes(view: View) -> None:
    st.info("No probes yet for this run: run `psft probe RUN` (or `psft run --resume`) to capture activations. "
            "The tables below come from the evaluation.")


def map_page(view: View) -> None:
    if not view.probed:
        no_probes(view)
        tables_panel(view, None)
        return
    arms = list(data.rl_arms(view.run))
    opts = map_controls(view.run.langs, len(data.programs(view.root, view.ckpt, view.version)), arms,
                        data.arm_of(view.ckpt), draw=not view.deferred)
    left, right = st.columns([3, 2])
    with left:
        draw_map(view, view.ckpt, opts, key="map")
    if not map_drawn():             # a first visit: the map alone first (after_map.py)
        return
    with left:
        selection_summary(view, opts)
    with right:
        tables_panel(view, opts["highlight"])
    program_details(view, view.ckpt)


def counterpart(ckpt: str, others: list[str]) -> str:
    """The sensible checkpoint to compare with: sft-X -> rl-X, rl-X -> sft-X, oracle-L -> sft-parallel,
    base -> sft-parallel; else the first other."""
    arm = ckpt.split("-", 1)[1] if ckpt.startswith(("sft-", "rl-")) else None
    prefs = {"sft": [f"rl-{arm}"], "rl": [f"sft-{arm}"]}.get(ckpt.split("-", 1)[0], []) + ["sft-parallel", "rl-parallel"]
    return next((c for c in prefs if c in others), others[0])


def compare_page(view: View) -> None:
    if not view.probed:
        no_probes(view)
        return
    others = [c for c in view.run.probe_ckpts if c != view.ckpt] or [view.ckpt]
    if st.session_state.get("ckpt_b") not in others:
        st.session_state["ckpt_b"] = counterpart(view.ckpt, others)
    ckpt_b = st.selectbox("compare with", others, key="ckpt_b",
                          help="by default the other end of RL: an SFT checkpoint's RL checkpoint, an RL checkpoint's SFT")
    arms = list(data.rl_arms(view.run))
    opts = map_controls(view.run.langs, len(data.programs(view.root, view.ckpt, view.version)), arms,
                        data.arm_of(view.ckpt) or data.arm_of(ckpt_b))
    left, right = st.columns(2)
    with left:
        draw_map(view, view.ckpt, opts, key="map_a", height=480)
    with right:
        draw_map(view, ckpt_b, opts, key="map_b", height=480)
    from .panels import metrics_side_by_side
    metrics_side_by_side(view, [view.ckpt, ckpt_b])
    program_details(view, view.ckpt, also=ckpt_b)


def selection_summary(view: View, opts: dict) -> None:
    """What a box or lasso selection holds: its size and language mix, the share passing before and after
    RL (the chosen arm's SFT and RL checkpoints, on each program's task in the chosen language), what RL
    did to them, and their mean alignment (cosine to the source-language translation at this layer)."""
    rows = st.session_state.get("selected_rows") or []
    box = st.container(key="selection_summary")
    if not rows:
        box.caption("Select points (box or lasso) to summarise them: size, languages, pass rates before and after "
                    "RL, mean alignment.")
        return
    progs = data.programs(view.root, view.ckpt, view.version)
    rows = [r for r in rows if 0 <= r < len(progs)]
    idx = np.array(rows, dtype=int)
    langs = progs.langs[idx]
    mix = ", ".join(f"{lg} {n}" for lg, n in zip(*np.unique(langs, return_counts=True)))
    source = (view.run.transfer or {}).get("_languages", {}).get("source") or "python"
    align = data.alignment_column(view.root, view.ckpt, view.pooling, view.layer, view.norm, source, view.version)[idx]
    line = [f"**Selection: {len(idx)} programs** ({len(np.unique(progs.task_ids[idx]))} tasks) · {mix}",
            f"mean alignment (cosine to the {source} translation, {view.ckpt}, layer {view.layer}): "
            + ("–" if np.isnan(align).all() else f"{np.nanmean(align):.3f}")]
    arm = opts.get("arm")
    if arm:
        sft, rl = data.rl_arms(view.run)[arm]
        lang = opts.get("rl_lang")
        before = data.pass_share(view.root, sft, view.ckpt, lang, view.version)[idx]
        after = data.pass_share(view.root, rl, view.ckpt, lang, view.version)[idx]
        both = ~np.isnan(before) & ~np.isnan(after)
        where = f"in {lang}" if lang else "in their own languages"
        if both.any():
            line.append(f"pass@1 {where}: {sft} {100 * before[both].mean():.1f}% → {rl} {100 * after[both].mean():.1f}% "
                        f"({int(both.sum())} of {len(idx)} evaluated)")
            tr = data.transition_column(view.root, view.ckpt, arm, lang, view.version)[idx]
            line.append("RL: " + ", ".join(f"{name} {int((tr == name).sum())}" for name in data.TRANSITIONS
                                          if (tr == name).any()))
        else:
            line.append(f"none of them evaluated {where} by {sft} and {rl}")
    box.markdown("  \n".join(line))
