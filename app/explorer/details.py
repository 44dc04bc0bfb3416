"""The selected program: its code, its test verdicts in every checkpoint, its nearest neighbours and the
rank of its true translation in each language. A program is selected on the map (click, box, lasso) or
by its row number. Not for: the map itself (`map_view.py`).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from . import loaders as data
from .controls import View
from .neighbours import nearest, translation_ranks

CODE_LANG = {"python": "python", "javascript": "javascript", "ruby": "ruby", "php": "php", "lua": "lua",
             "perl": "perl"}


def _verdicts(view: View, task: str, lang: str) -> pd.DataFrame:
    out = []
    for c in view.run.ckpts:
        v = data.verdicts(view.root, c, view.version).get((task, lang))
        if v:
            out.append({"checkpoint": c, "status": v.get("status"), "passed": f"{100 * v['passed']:.0f}%"})
    return pd.DataFrame(out)


def task_text(view: View, task: str, lang: str) -> tuple[str | None, str | None]:
    """(description, signature line) of a world task in `lang`: from an evaluation prompt of the run (its
    last line is the signature, the one before it the description comment), else from the world itself;
    (None, None) for a benchmark run."""
    if not isinstance((view.run.config or {}).get("world"), dict):
        return None, None
    for c in view.run.ckpts:
        prompt = (data.verdicts(view.root, c, view.version).get((task, lang)) or {}).get("prompt")
        if prompt:
            lines = prompt.rstrip("\n").splitlines()
            if len(lines) >= 2:
                desc = lines[-2].strip()
                for mark in ("#", "//", "--"):
                    if desc.startswith(mark):
                        desc = desc[len(mark):].strip()
                        break
                return desc, lines[-1]
    t = data.world_tasks(view.root, view.version).get(task)
    return (t.description, t.signature_line(lang)) if t is not None else (None, None)


def program_details(view: View, ckpt: str, also: str | None = None) -> None:
    progs = data.programs(view.root, ckpt, view.version)
    st.subheader("Selected program")
    selected = st.session_state.get("selected_rows") or []
    if len(selected) > 1:
        st.caption(f"{len(selected)} programs selected; showing the one below (change its row to see another): "
                   + ", ".join(map(str, selected[:30])) + (" ..." if len(selected) > 30 else ""))
    i = st.number_input("program (row)", min_value=0, max_value=len(progs) - 1, value=None, step=1, key="program",
                        placeholder="click a point on the map, or type a row number")
    if i is None:
        st.caption("Click or lasso points on the map to see their code, verdicts and neighbours.")
        return
    i = int(i)
    task, lang = str(progs.task_ids[i]), str(progs.langs[i])
    st.markdown(f"**{task}** · {lang} · {int(progs.n_tokens[i])} tokens · row {i}")
    desc, sig = task_text(view, task, lang)
    if desc or sig:
        box = st.container(key="task_text")
        if desc:
            box.markdown(f"**task:** {desc}")
        if sig:
            box.code(sig, language=CODE_LANG.get(lang))
    c1, c2 = st.columns(2)
    with c1:
        st.code(progs.code[i] or "(no code recorded)", language=CODE_LANG.get(lang))
        v = data.verdicts(view.root, ckpt, view.version).get((task, lang))
        if v:
            st.caption(f"{ckpt}'s own completion for this task in {lang} ({v.get('status')}):")
            st.code(v.get("completion") or "", language=CODE_LANG.get(lang))
    with c2:
        st.markdown("**test verdicts** (each checkpoint's completion for this task and language)")
        df = _verdicts(view, task, lang)
        st.dataframe(df, hide_index=True, key="verdicts") if not df.empty else st.caption("not evaluated")
    for c in [ckpt] + ([also] if also and also != ckpt else []):
        U = data.unit_vectors(view.root, c, view.pooling, view.layer, view.norm, view.version)
        ranks = translation_ranks(U, progs.task_ids, progs.langs, i)
        near = nearest(U, i, k=10)
        a, b = st.columns(2)
        with a:
            st.markdown(f"**rank of the true translation** ({c}, layer {view.layer}; 1 = nearest)")
            st.dataframe(pd.DataFrame([{"language": lg, "rank": r["rank"], "of": r["candidates"],
                                        "cosine": None if r["cosine"] is None else round(r["cosine"], 3)}
                                       for lg, r in ranks.items()]), hide_index=True, key=f"ranks_{c}")
        with b:
            st.markdown(f"**nearest neighbours** ({c})")
            st.dataframe(pd.DataFrame([{"row": j, "task": str(progs.task_ids[j]), "language": str(progs.langs[j]),
                                        "cosine": round(s, 3), "same task": bool(progs.task_ids[j] == task)}
                                       for j, s in near]), hide_index=True, key=f"near_{c}")
