"""The Alignment and CKA pages: metric-vs-layer curves per checkpoint, per-language alignment against RL
gain, retrieval per language pair, and the CKA heatmaps (layer × layer, checkpoint × checkpoint,
language × language). Figures come from `app/charts.py`, the same as the report's.
Not for: the map (`map_view.py`).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import charts
from .controls import View


def _no_metrics(view: View) -> bool:
    if view.run.metrics.get("checkpoints"):
        return False
    st.info("No probes yet for this run (no probes/metrics.json): run `psft probe RUN` or `psft run --resume`.")
    return True


def metrics_side_by_side(view: View, ckpts: list[str]) -> None:
    """A few metrics at the current layer for the given checkpoints (the Compare page)."""
    if not view.run.metrics.get("checkpoints") or view.layer is None:
        return
    rows = []
    for c in ckpts:
        m = view.run.layer_metrics(c, view.pooling, view.norm).get(str(view.layer)) or {}
        rows.append({"checkpoint": c, **{charts.CURVES[k][0]: charts.metric_at(m, k) for k in charts.CURVES}})
    st.dataframe(pd.DataFrame(rows).set_index("checkpoint").T, key="compare_metrics")


def alignment_page(view: View) -> None:
    if _no_metrics(view):
        return
    names = list(charts.CURVES)
    c1, c2 = st.columns([1, 2])
    curve = c1.selectbox("metric", names, format_func=lambda k: charts.CURVES[k][0], key="curve")
    ckpts = c2.multiselect("checkpoints", view.run.probe_ckpts, default=view.run.probe_ckpts, key="curve_ckpts")
    fig = charts.layer_curves([view.run], curve, view.pooling, view.norm, ckpts or None, height=380)
    if view.layer is not None:
        fig.add_vline(x=view.layers.index(view.layer) if view.layer in view.layers else 0, line_dash="dot",
                      line_color="grey")
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
