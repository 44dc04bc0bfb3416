"""The map first: on a visitor's first page the script draws the map and stops; a small component in the
page tells the server once the browser has drawn it, and the rest of the page (the tables beside the map,
the program panel below it) comes with the rerun that follows; on the Map page of a session's first run
the widgets wait for it too (`controls.controls_deferred`).

Why: a first visitor's browser does everything at once (Streamlit's front end, each element's code, the
chart library), and on shared cores the elements after the map held the map back by 1-1.5 s (a Chrome
trace and alternating rounds in docs/results/2026-12-07-explorer-speed.md): the server was still running
the rest of the script while the map's chart code downloaded, and the browser rendered the tables before
it could draw. The component is Streamlit's own (`st.components.v2`, inline JavaScript, nothing to
build); it reports the map drawn when ECharts has described its series on the canvas (or plotly has drawn
its traces), or after `TIMEOUT_MS` whatever happened, so the rest of the page never waits longer; it says
so again every `AGAIN_MS` while it is still on the page (a rerun asked for by another widget at the same
moment may have superseded the first). Later runs of the session draw everything at once.

Not for: drawing the map (`map_view.py`).
"""
from __future__ import annotations

import streamlit as st

FLAG = "map_drawn"                      # session state: the browser has drawn this session's first map
TIMEOUT_MS = 6000
MAPS = '[data-testid="stEChartsChart"], [data-testid="stPlotlyChart"] .js-plotly-plot'

JS = """
export default function (component) {
  const { data, setTriggerValue, parentElement } = component;
  const start = performance.now();
  let stopped = false;
  const gone = () => stopped || !parentElement || !parentElement.isConnected;
  const drawn = () => [...document.querySelectorAll(data.maps)].some(el =>
    (el.getAttribute("aria-label") || "").includes("series") || (el._fullData && el._fullData.length));
  const tell = () => { if (!gone()) setTriggerValue("drawn", true); };
  const poll = () => {
    if (gone()) return;
    if (drawn() || performance.now() - start > data.timeout_ms) {
      requestAnimationFrame(() => setTimeout(tell, 0));        // once that frame is on screen
      setTimeout(poll, data.again_ms);      // still mounted later: that rerun was lost to another one
    } else {
      setTimeout(poll, 100);
    }
  };
  poll();
  return () => { stopped = true; };
}
"""
AGAIN_MS = 2000

_component = None


def _mark() -> None:
    st.session_state[FLAG] = True


def map_drawn() -> bool:
    """Whether the rest of the page may be drawn: True once this session's browser has drawn a map;
    before that, mounts the component that will say so (and the caller stops after the map)."""
    global _component
    if st.session_state.get(FLAG):
        return True
    if _component is None:
        from streamlit.components.v2 import component
        _component = component("psft_map_drawn", js=JS)
    _component(key="map_drawn_signal", data={"maps": MAPS, "timeout_ms": TIMEOUT_MS, "again_ms": AGAIN_MS}, on_drawn_change=_mark)
    return False
