"""The Alignment and CKA pages: metric-vs-layer curves per checkpoint, per-language alignment against RL
gain, retrieval per language pair, and the CKA heatmaps (layer × layer, checkpoint × checkpoint,
language × language). Figures come from `app/charts.py`, the same as the report's.
Not for: the map (`map_view.py`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from .. import charts
from . import loaders as data
from .controls import View


def _no_metrics(view: View) -> bool:
    if view.run.metrics.get("checkpoints"):
        return False
    st.info("No probes yet for this run (no probes/metrics.json): run `psft probe RUN` or `psft run --resume`.")
    return True


def metrics_side_by_side(view: View, ckpts: list[str]) -> None:
    """The metrics at the current layer for two checkpoints (the Compare page), their difference (second −
    first), and whether the two 95% intervals overlap (a rough check: intervals over tasks of one run)."""
    if not view.run.metrics.get("checkpoints") or view.layer is None:
        return
    a, b = ckpts[0], ckpts[-1]
    ma = view.run.layer_metrics(a, view.pooling, view.norm).get(str(view.layer)) or {}
    mb = view.run.layer_metrics(b, view.pooling, view.norm).get(str(view.layer)) or {}
    rows = []
    for k in charts.CURVES:
        va, la, ha = charts.metric_ci_at(ma, k)
        vb, lb, hb = charts.metric_ci_at(mb, k)
        rows.append({"metric": charts.CURVES[k][0], a: va, b: vb,
                     f"{b} − {a}": None if va is None or vb is None else vb - va,
                     "intervals overlap": None if None in (la, ha, lb, hb) else bool(la <= hb and lb <= ha)})
    st.markdown(f"**metrics at layer {view.layer}** ({view.pooling}, {view.norm})")
    st.dataframe(pd.DataFrame(rows).set_index("metric"), key="compare_metrics")


def alignment_page(view: View) -> None:
    if _no_metrics(view):
        return
    names = list(charts.CURVES)
    c1, c2 = st.columns([1, 2])
    curve = c1.selectbox("metric", names, format_func=lambda k: charts.CURVES[k][0], key="curve")
    ckpts = c2.multiselect("checkpoints", view.run.probe_ckpts, default=view.run.probe_ckpts, key="curve_ckpts")
    fig = charts.layer_curves([view.run], curve, view.pooling, view.norm, ckpts or None, height=380,
                              selected=view.layer)
    st.plotly_chart(fig, key="curves")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.alignment_vs_gain(view.run, view.layer, view.pooling, view.norm), key="align_gain")
    with right:
        per = view.run.layer_metrics(view.ckpt, view.pooling, view.norm).get(str(view.layer)) or {}
        ret = per.get("retrieval") or {}
        st.markdown(f"**retrieval per language pair** ({view.ckpt}, layer {view.layer})")
        st.dataframe(pd.DataFrame([{"pair": p, **{k: charts.number(v.get(k)) for k in ("top1", "top5", "mrr")}}
                                   for p, v in ret.items()]), hide_index=True, key="retrieval_table")
    if view.probed:
        per_task_view(view)


def per_task_points(view: View, arm: str) -> pd.DataFrame:
    """One row per task of the probe set: its mean alignment in the arm's SFT checkpoint (cosine of its
    non-source programs to the source-language program, at the layer) and its RL gain (rl − sft share
    passed, mean over the target languages evaluated, in points)."""
    sft, rl = data.rl_arms(view.run)[arm]
    rows_of = sft if sft in view.run.probe_ckpts else view.ckpt
    progs = data.programs(view.root, rows_of, view.version)
    source = (view.run.transfer or {}).get("_languages", {}).get("source") or "python"
    align = data.alignment_column(view.root, rows_of, view.pooling, view.layer, view.norm, source, view.version)
    before = data.pass_share(view.root, sft, rows_of, None, view.version)
    after = data.pass_share(view.root, rl, rows_of, None, view.version)
    target = progs.langs != source
    df = pd.DataFrame({"task": progs.task_ids[target], "alignment": align[target],
                       "gain": 100 * (after[target] - before[target])})
    out = df.groupby("task", sort=False).agg(alignment=("alignment", "mean"), gain=("gain", "mean"),
                                             languages=("gain", "count")).reset_index()
    return out.dropna()


def per_task_view(view: View) -> None:
    """Per task: alignment of the arm's SFT checkpoint against the RL gain of that task (points)."""
    arms = list(data.rl_arms(view.run))
    if not arms:
        return
    st.markdown("**Per task: alignment against what RL did**")
    default = data.arm_of(view.ckpt)
    if st.session_state.get("task_arm") not in arms:
        st.session_state["task_arm"] = default if default in arms else arms[0]
    arm = st.selectbox("RL arm", arms, key="task_arm")
    df = per_task_points(view, arm)
    if df.empty:
        st.caption("no probed task was evaluated by this arm's checkpoints")
        return
    sft, rl = data.rl_arms(view.run)[arm]
    rng = np.random.default_rng(0)
    fig = go.Figure(go.Scatter(x=df["alignment"], y=df["gain"] + rng.uniform(-1.5, 1.5, len(df)), mode="markers",
                               text=df["task"], customdata=np.stack([df["gain"], df["languages"]], axis=1),
                               marker={"size": 7, "opacity": 0.7, "color": df["gain"], "colorscale": "RdBu",
                                       "cmid": 0},
                               hovertemplate="%{text}<br>alignment %{x:.3f}<br>gain %{customdata[0]:+.1f} points "
                                             "(%{customdata[1]} languages)<extra></extra>"))
    fig.add_hline(y=0, line={"color": "#999999", "width": 1})
    fig.update_layout(title=f"{len(df)} tasks: alignment of {sft} (layer {view.layer}) vs RL gain ({sft} → {rl})",
                      xaxis_title="mean cosine to the source-language translation", height=380,
                      yaxis_title="RL gain over the target languages (points; jittered ±1.5)",
                      margin={"l": 50, "r": 10, "t": 40, "b": 45})
    st.plotly_chart(fig, key="per_task")
    rho = df[["alignment", "gain"]].corr(method="spearman").iloc[0, 1]
    st.caption(f"Spearman ρ = {rho:.2f} over {len(df)} tasks (descriptive; the probe stage's per-task test is in "
               "the report). Each task's gain averages its target languages' rl − sft verdicts.")


def cka_page(view: View) -> None:
    if _no_metrics(view):
        return
    kind = st.radio("estimator", ("debiased", "linear"), horizontal=True, key="cka_kind",
                    help="debiased CKA (U-centred Gram matrices) corrects the bias of linear CKA at small n")
    a, b, c = st.columns(3)
    with a:
        st.plotly_chart(charts.cka_layers_heatmap(view.run, view.ckpt, kind), key="cka_layers")
    with b:
        st.plotly_chart(charts.cka_ckpts_heatmap(view.run, view.layer, kind), key="cka_ckpts")
    with c:
        st.plotly_chart(charts.cka_lang_heatmap(view.run, view.ckpt, view.pooling, view.norm, view.layer, kind),
                        key="cka_lang")
    from .map_view import counterpart
    others = [x for x in view.run.probe_ckpts if x != view.ckpt]
    if others:
        from ..rundata import ckpt_sort_key
        first, later = sorted((view.ckpt, counterpart(view.ckpt, others)), key=ckpt_sort_key)
        diff = charts.cka_lang_difference(view.run, later, first, view.pooling, view.norm, view.layer, kind)
        if diff is not None:
            st.plotly_chart(diff, key="cka_lang_diff")
