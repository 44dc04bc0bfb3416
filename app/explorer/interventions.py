"""The Interventions page: what `psft intervene` wrote for the run (`interventions/<name>.json`). Pick an
intervention and a language or group: its effect on pass@1 along the layers (edited − the same checkpoint
unedited, points, 95% intervals; other arms of the same kind beside it, controls dashed), the declared
confirmatory family (Holm), every contrast and pass@1 per language; then pick an edit, a language and a
task to read the completion without and with the edit side by side, with both verdicts. The figure and
tables are the report's (`app/charts.py`, `app/tables.py`). Reads one JSON at a time, and its rows only
for the task view. Not for: running interventions (`psft intervene`).
"""
from __future__ import annotations

import streamlit as st

from .. import charts, tables
from .. import intervention_results as ir
from . import loaders as data
from .controls import View
from .details import CODE_LANG

KIND_HELP = {"transplant": "the RL update's mean direction added to the SFT checkpoint",
             "patch": "one checkpoint's residual replaced by the other's",
             "erase": "the language erased from the residual stream"}


def _keep(key: str, options: list, default=None) -> None:
    """Keep a widget's remembered value valid when its options change (another file or edit)."""
    if options and st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]


def _mark(row: dict | None) -> str:
    if row is None:
        return "·"
    return "✓" if row.get("passed") else "✗"


def interventions_page(view: View) -> None:
    names = view.run.intervention_names
    if not names:
        st.info("No interventions for this run (no interventions/*.json): run "
                "`psft intervene RUN --kind transplant|patch|erase`, then reload.")
        return
    c1, c2, c3 = st.columns([1, 1, 2])
    _keep("iv_name", names, next((n for n in names if n.endswith("-parallel")), None))
    name = c1.selectbox("intervention", names, key="iv_name", help="interventions/<name>.json")
    result = data.intervention(view.root, name, data.intervention_stamp(view.root, name))
    if not result:
        st.error(f"interventions/{name}.json is not an intervention's result")
        return
    cols = ir.columns(result)
    _keep("iv_column", cols, ir.family_group(result))
    column = c2.selectbox("languages", cols, key="iv_column", format_func=lambda c: tables.GROUP_LABELS.get(c, c),
                          help="a language, or a group of languages (the mean over them, per task)")
    kind = result.get("kind")
    others = [n for n in names if n != name and n.startswith(f"{kind}-")]
    beside = c3.multiselect("beside it (other arms of this kind)", others, default=others, key=f"iv_beside_{name}") \
        if others else []
    more = [r for n in beside if (r := data.intervention(view.root, n, data.intervention_stamp(view.root, n)))]
    st.markdown(f"**{name}** · {kind}: {KIND_HELP.get(kind, '')}")
    st.container(key="iv_finding").caption(ir.finding(result))
    st.plotly_chart(charts.intervention_effects([result, *more], column, height=400), key="iv_effects")
    st.caption("Diamonds: the declared confirmatory cells; circles: exploratory. Dashed / dotted: the controls "
               "(random direction, own-language Δ). Grey dotted line and band: the arm's RL gain (model − vs).")
    fam = tables.intervention_family_frame(result)
    if not fam.empty:
        group = str((result.get("family") or {}).get("group", "")).replace("_", "-")
        st.markdown(f"**Confirmatory** (declared before the run; Holm over {len(fam)}, on the {group} targets)")
        st.dataframe(fam, key="iv_family")
    with st.expander("every contrast (exploratory, unadjusted p, except the cells marked confirmatory)"):
        st.dataframe(tables.intervention_effect_frame(result), key="iv_contrasts")
    with st.expander("pass@1 per language (points, Wilson 95% interval)"):
        st.dataframe(tables.intervention_pass_frame(result), key="iv_pass")
    if result.get("delta"):
        with st.expander("Δ: norm of the mean residual update, per language"):
            st.dataframe(tables.delta_frame(result), key="iv_delta")
    if result.get("erasure"):
        with st.expander("what the eraser did on the probe set (before → after)", expanded=True):
            st.dataframe(tables.erasure_frame(result), hide_index=True, key="iv_erasure")
    task_view(view, name, result)


def task_view(view: View, name: str, result: dict) -> None:
    """One task's completion without and with an edit, side by side, with both verdicts."""
    st.subheader("A task, without and with the edit")
    stamp = data.intervention_stamp(view.root, name)
    if not stamp[1]:
        st.caption("No rows beside this file" + (" (pooled over seeds: each seed's run keeps its own)"
                                                 if ir.is_pooled(result) else "") + ".")
        return
    rows = data.intervention_rows(view.root, name, stamp)
    conds = [c for s in ir.series(result) for c in s.conditions.values()]
    langs = list(result.get("langs") or [])
    a, b, c = st.columns(3)
    _keep("iv_cond", conds)
    cond = a.selectbox("edit", conds, key="iv_cond", format_func=lambda x: ir.condition_label(result, x))
    _keep("iv_lang", langs, ((result.get("groups") or {}).get(ir.family_group(result)) or [None])[0])
    lang = b.selectbox("language", langs, key="iv_lang")
    receiver = ir.receiver_of(result, cond)
    task_ids = list((result.get("per_task") or {}).get("task_ids") or
                    dict.fromkeys(t for (cd, t, la) in rows if cd == receiver and la == lang))
    changed = [t for t in task_ids
               if (rows.get((receiver, t, lang)) or {}).get("passed") != (rows.get((cond, t, lang)) or {}).get("passed")]
    only = c.checkbox(f"only tasks whose verdict changed ({len(changed)})", value=bool(changed), key="iv_changed")
    options = changed if only and changed else task_ids
    _keep("iv_task", options)

    def label(t: str) -> str:
        return f"{t} · {_mark(rows.get((receiver, t, lang)))} → {_mark(rows.get((cond, t, lang)))}"
    task = st.selectbox("task (unedited → edited verdict)", options, key="iv_task", format_func=label)
    if task is None:
        return
    names = ir.checkpoint_names(result)
    world_task = data.world_tasks(view.root, view.version).get(task)
    prompt = world_task.prompt(lang) if world_task is not None else \
        (data.verdicts(view.root, names[receiver], view.version).get((task, lang)) or {}).get("prompt")
    if prompt:                  # a world's task, else the prompt of the run's own evaluation (a benchmark run)
        st.code(prompt, language=CODE_LANG.get(lang))
    left, right = st.columns(2)
    for col, key, c, title in ((left, "iv_without", receiver, f"{names[receiver]}, unedited"),
                               (right, "iv_with", cond, ir.condition_label(result, cond))):
        box = col.container(key=key)
        row = rows.get((c, task, lang))
        if row is None:
            box.caption(f"{title}: no row for this task and language")
            continue
        box.markdown(f"**{title}** · {'passed' if row.get('passed') else 'failed'} ({row.get('status')})")
        box.code(row.get("completion") or "(empty completion)", language=CODE_LANG.get(lang))
    other = "model" if receiver == "vs" else "vs"
    row = rows.get((other, task, lang))
    if row is not None:
        with st.expander(f"{names[other]}, unedited (the other checkpoint) · "
                         f"{'passed' if row.get('passed') else 'failed'} ({row.get('status')})"):
            st.code(row.get("completion") or "(empty completion)", language=CODE_LANG.get(lang))
