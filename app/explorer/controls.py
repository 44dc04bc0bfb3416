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
from dataclasses import dataclass
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


def _pick(label: str, options: list, key: str, default=None, **kw):
    """A selectbox whose remembered value survives the options changing (another run)."""
    if not options:
        return None
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    return st.sidebar.selectbox(label, options, key=key, **kw)


def sidebar() -> View | None:
    st.sidebar.title("Parallel-SFT explorer")
    found = data.run_folders()
    given = given_run()
    choices = list(dict.fromkeys([*([given] if given else []), *found]))
    other = st.sidebar.text_input("run folder", value="", key="run_path",
                                  help="a run folder (from `psft run`); overrides the list below", placeholder="path")
    root = other.strip() or _pick("run", choices, key="run", help="runs under artifacts/runs and the one given")
    if not root:
        st.info("No run found. Make one with `psft run --recipe micro`, then `psft app RUN`.")
        return None
    try:
        run = data.get_run(str(Path(root)))
    except NotARun as e:
        st.error(str(e))
        return None
    if "page" not in st.session_state and st.query_params.get("page") in PAGES:
        st.session_state["page"] = st.query_params["page"]          # a link to a page: ?page=Interventions
    page = st.sidebar.radio("page", PAGES, key="page", horizontal=True)
    ckpts = run.probe_ckpts or run.ckpts
    ckpt = _pick("checkpoint", ckpts, key="ckpt", default="sft-parallel" if "sft-parallel" in ckpts else None)
    version = data.stamp(str(Path(root)))
    probed = ckpt in run.probe_ckpts
    pooling = _pick("pooling", list(data.poolings(str(Path(root)), ckpt, version)) if probed else [], key="pooling",
                    help="how a program's token vectors became one vector (probe stage)")
    norm = _pick("normalisation", run.norms(), key="norm", default="centered",
                 help="raw; centered: each language's mean removed; standardized: also unit variance per dimension")
    layers = list(data.layers(str(Path(root)), ckpt, pooling, version)) if probed else []
    layer = None
    if layers:
        if st.session_state.get("layer") not in layers:
            st.session_state["layer"] = layers[-1]
        layer = st.sidebar.select_slider("layer", options=layers, key="layer",
                                         help="embed = the token embeddings; L = the residual stream after block L")
    st.sidebar.caption(f"{run.root} · {len(run.probe_ckpts)} probed checkpoints · {len(run.scores)} scored")
    return View(root=str(Path(root)), run=run, page=page, ckpt=ckpt, pooling=pooling, layer=layer,
                norm=norm or "raw", layers=tuple(layers))
