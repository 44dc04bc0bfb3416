"""The sidebar: which run, which page, and the view every page shares (checkpoint, pooling, layer,
normalisation). Returns a `View`, or None with a message when there is nothing to show.

The page comes from the `page` query parameter on a first visit (e.g. `?page=Interventions`), else Map.
The run comes from, in order: the `run` query parameter, `$PSFT_RUN` (how `psft app RUN` passes it),
the script's argument (`streamlit run main.py -- RUN`), else the newest run under artifacts/runs.
Not for: drawing pages.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import streamlit as st

from ..rundata import NotARun, Run
from . import loaders as data

PAGES = ("Map", "Compare", "Alignment", "CKA", "Interventions")


@dataclass(frozen=True)
class View:
    root: str
    run: Run
    page: str
    ckpt: str | None          # the checkpoint every page starts from
    pooling: str | None
    layer: str | None
    norm: str
    layers: tuple[str, ...]
    deferred: bool = False    # this run draws the map alone, its widgets come with the next (`controls_deferred`)

    @cached_property
    def version(self) -> tuple:
        """The run's stamp, read once per script run (every loader takes it)."""
        return data.stamp(self.root)

    @property
    def probed(self) -> bool:
        return bool(self.run.probe_ckpts) and self.ckpt in self.run.probe_ckpts and self.pooling is not None


def given_run() -> str | None:
    q = st.query_params.get("run")
    if q:
        return q
    if os.environ.get("PSFT_RUN"):
        return os.environ["PSFT_RUN"]
    args = [a for a in sys.argv[1:] if not a.startswith("-") and Path(a).is_dir()]
    return args[0] if args else None


def remembered(key: str, options: list, default=None):
    """The value the keyed widget `key` shows: its remembered value while that is still an option (another
    run may have other ones), else `default` when it is one, else the first option; None without options.
    A keyed widget's value is in the session state before the script reads it, so the view can be worked
    out before (or without) its widgets being drawn."""
    if not options:
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return st.session_state[key]


def _page() -> str:
    if st.session_state.get("page") not in PAGES:      # a link to a page on a first visit: ?page=Interventions
        q = st.query_params.get("page")
        st.session_state["page"] = q if q in PAGES else PAGES[0]
    return st.session_state["page"]


def controls_deferred(page: str, probed: bool) -> bool:
    """Whether this script run draws the map alone, without the sidebar's and the map's widgets: a session's
    first run, on the Map page of a probed checkpoint. The widgets come with the rerun that follows once
    the browser has drawn the map (`after_map.py`), so a first visitor's browser does not load and render a
    dozen widgets while the map's chart library is still on its way. Any later run, once widgets have been
    drawn in this session, draws them (switching pages must not hide them)."""
    from .after_map import FLAG
    first = page == "Map" and probed and not st.session_state.get(FLAG) and not st.session_state.get(_DRAWN)
    if not first:
        st.session_state[_DRAWN] = True
    return first


_DRAWN = "controls_drawn"


def _run_choice(choices: list[str], other: str) -> None:
    st.sidebar.text_input("run folder", value="", key="run_path", placeholder="path",
                          help="a run folder (from `psft run`); overrides the list below")
    if not other:
        st.sidebar.selectbox("run", choices, key="run", help="runs under artifacts/runs and the one given")


def sidebar() -> View | None:
    """The view (run, page, checkpoint, pooling, normalisation, layer), worked out from the widgets' remembered
    values, then the widgets that set it (unless `controls_deferred`)."""
    st.sidebar.title("Parallel-SFT explorer")
    given = given_run()
    choices = list(dict.fromkeys([*([given] if given else []), *data.run_folders()]))
    other = str(st.session_state.get("run_path") or "").strip()
    root = other or remembered("run", choices)
    try:
        run = data.get_run(str(Path(root))) if root else None
    except NotARun as e:
        _run_choice(choices, other)
        st.error(str(e))
        return None
    if run is None:
        _run_choice(choices, other)
        st.info("No run found. Make one with `psft run --recipe micro`, then `psft app RUN`.")
        return None
    root = str(Path(root))
    page = _page()
    ckpts = run.probe_ckpts or run.ckpts
    ckpt = remembered("ckpt", ckpts, default="sft-parallel")
    version = data.stamp(root)
    probed = ckpt in run.probe_ckpts
    poolings = list(data.poolings(root, ckpt, version)) if probed else []
    pooling = remembered("pooling", poolings)
    norms = run.norms()
    norm = remembered("norm", norms, default="centered")
    layers = list(data.layers(root, ckpt, pooling, version)) if probed and pooling else []
    layer = remembered("layer", layers, default=layers[-1] if layers else None)
    view = View(root=root, run=run, page=page, ckpt=ckpt, pooling=pooling, layer=layer, norm=norm or "raw",
                layers=tuple(layers))
    if controls_deferred(page, view.probed):
        return replace(view, deferred=True)
    _run_choice(choices, other)
    st.sidebar.radio("page", PAGES, key="page", horizontal=True)
    if ckpts:
        st.sidebar.selectbox("checkpoint", ckpts, key="ckpt")
    if poolings:
        st.sidebar.selectbox("pooling", poolings, key="pooling",
                             help="how a program's token vectors became one vector (probe stage)")
    if norms:
        st.sidebar.selectbox("normalisation", norms, key="norm",
                             help="raw; centered: each language's mean removed; standardized: also unit variance "
                                  "per dimension")
    if layers:
        st.sidebar.select_slider("layer", options=layers, key="layer",
                                 help="embed = the token embeddings; L = the residual stream after block L")
    st.sidebar.caption(f"{run.root} · {len(run.probe_ckpts)} probed checkpoints · {len(run.scores)} scored")
    return view
