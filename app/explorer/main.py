"""The explorer's Streamlit script: `psft app [RUN]` serves it (`streamlit run app/explorer/main.py -- RUN`).

Pages: Map (programs in 2-D, tables beside, the selected program below), Compare (two checkpoints side
by side), Alignment (metrics along the layers, alignment vs RL gain), CKA (heatmaps), Interventions (what
`psft intervene` wrote: effects along the layers, a task's completion without and with an edit).
"""
from __future__ import annotations

import streamlit as st

from app.explorer.controls import sidebar
from app.explorer.interventions import interventions_page
from app.explorer.map_view import compare_page, map_page
from app.explorer.panels import alignment_page, cka_page

PAGES = {"Map": map_page, "Compare": compare_page, "Alignment": alignment_page, "CKA": cka_page,
         "Interventions": interventions_page}


def main() -> None:
    st.set_page_config(page_title="Parallel-SFT explorer", layout="wide")
    view = sidebar()
    if view is None:
        return
    PAGES[view.page](view)


main()
