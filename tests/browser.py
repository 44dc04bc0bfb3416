"""The served explorer and a real headless browser, for the browser test and the explorer benchmark:
`psft app`'s own Streamlit command on a free port, and Debian's chromium driven by Python playwright
(never a downloaded browser; headless, no sandbox, no GPU). Not a fixture file: tests call these helpers.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PSFT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
MAP = '[data-testid="stEChartsChart"]'          # the explorer's map (st.echarts_chart: one canvas)
PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'   # the other pages' charts (plotly)
# JavaScript: (map element, minimum) -> whether its canvas shows at least `minimum` coloured pixels (points,
# not the grey translation lines or the white background): the map is drawn. Every second pixel of every
# second row is read (a point is 6 px wide), and only once ECharts has described its series (aria), so that
# polling costs the page little.
MAP_DRAWN = """([sel, minimum]) => { const el = document.querySelector(sel); const c = el && el.querySelector('canvas');
  if (!c || !c.width || !(el.getAttribute('aria-label') || '').includes('series')) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let y = 0; y < c.height; y += 2) for (let i = y * c.width * 4; i < (y + 1) * c.width * 4; i += 8) {
    const hi = Math.max(d[i], d[i+1], d[i+2]), lo = Math.min(d[i], d[i+1], d[i+2]);
    if (d[i+3] > 200 && hi - lo > 90 && ++n >= minimum) return true; } return false; }"""
# JavaScript: map element -> page coordinates [x, y] of a point's centre (the first coloured pixel in the
# plotting area, then half the coloured run below it: 6 px circles and the 3 px squares of dense maps), or null.
MAP_POINT = """el => { const c = el.querySelector('canvas'); const r = c.getBoundingClientRect();
  const sx = c.width / r.width, sy = c.height / r.height; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const coloured = (x, y) => { const i = (y * c.width + x) * 4, hi = Math.max(d[i], d[i+1], d[i+2]), lo = Math.min(d[i], d[i+1], d[i+2]);
    return d[i+3] > 200 && hi - lo > 90; };
  for (let y = Math.ceil(40 * sy); y < c.height - 12 * sy; y++) for (let x = Math.ceil(12 * sx); x < c.width - 160 * sx; x++) {
    if (coloured(x, y)) { let h = 1; while (y + h < c.height && coloured(x, y + h)) h++;
      return [r.x + (x + 0.5) / sx, r.y + (y + h / 2) / sy]; } } return null; }"""
# JavaScript: map element -> page coordinates of the centre of the toolbox's first icon (the box brush; the
# toolbox is drawn on the canvas at its top right, above the legend and the plotting area): the leftmost
# grey pixels in the top 25 px of the canvas's right half.
MAP_BOX_ICON = """el => { const c = el.querySelector('canvas'); const r = c.getBoundingClientRect(); const s = c.width / r.width;
  const h = Math.ceil(25 * s), x0 = Math.floor(c.width / 2); const d = c.getContext('2d').getImageData(x0, 0, c.width - x0, h).data;
  let minX = Infinity, ys = []; for (let y = 0; y < h; y++) for (let x = 0; x < c.width - x0; x++) {
    const i = (y * (c.width - x0) + x) * 4; if (d[i+3] > 100 && d[i] < 200 && Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) < 40) { if (x < minX) minX = x; ys.push(y); } }
  if (!ys.length) return null; return [r.x + (x0 + minX) / s + 7, r.y + (Math.min(...ys) + Math.max(...ys)) / 2 / s]; }"""
EXCEPTION = '[data-testid="stException"]'


def need_chromium() -> None:
    """Skip where chromium cannot be installed (not root); as root (CI) a missing chromium is a failure:
    `make setup` installs it."""
    if not os.access(CHROMIUM, os.X_OK):
        msg = f"no chromium at {CHROMIUM}: `make setup` installs Debian's chromium (needs root or sudo)"
        if os.geteuid() == 0:
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("python playwright is not installed (the [dev] extra)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_explorer(run: Path, timeout: float = 60.0, env: dict | None = None):
    """Serve the explorer on `run` with `psft app`'s command (`env`: more environment variables); yield
    (url, seconds until healthy)."""
    from app.commands.app import explorer_env, streamlit_argv
    port = free_port()
    log = open(run.parent / f".streamlit-{port}.log", "w") if run.parent.is_dir() else subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen(streamlit_argv(port), stdout=log, stderr=subprocess.STDOUT,
                            env={**explorer_env(run), "PYTHONUNBUFFERED": "1", **(env or {})})
    try:
        url = f"http://localhost:{port}"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the explorer exited with code {proc.returncode} before serving")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"the explorer did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.1)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def settle(browser, seconds: float = 3.0) -> None:
    """Let a freshly launched chromium finish starting (new headless chromium loads its own omnibox web UI
    in the first seconds, measured here in a trace), so that a timed page is timed alone: as in a visitor's
    browser that is already running."""
    page = browser.new_page()
    page.goto("about:blank")
    page.wait_for_timeout(int(seconds * 1000))
    page.close()


def fresh_page(browser, viewport: dict | None = None, seconds: float = 3.0):
    """A page in a new browser context (nothing cached: a first visitor), on about:blank for `seconds`
    before it is used: a new context's window builds chromium's own omnibox web UI in another renderer
    (0.7-1.8 s of CPU in its first seconds, seen in traces here, and not in every context), which on
    shared cores would be timed with the page. A visitor's window is already up when they open a link."""
    page = browser.new_context(viewport=viewport or {"width": 1500, "height": 1000}).new_page()
    page.goto("about:blank")
    page.wait_for_timeout(int(seconds * 1000))
    return page


@contextmanager
def chromium():
    """A headless chromium (Debian's); playwright gives every launch a fresh temporary profile
    (its own --user-data-dir). Yields the playwright Browser."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
