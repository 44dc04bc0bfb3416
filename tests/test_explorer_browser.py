"""The explorer in a real browser: `psft app`'s Streamlit server on a free port, Debian's chromium headless
driven by playwright. Select a layer on the slider, click a point of the map (ECharts, on a canvas), box-select
programs, and check that the charts render, the clicked program's code and neighbours appear, the selection is
summarised, and no exception is shown. Saves a screenshot
under artifacts/screenshots/ for people to look at.
"""
from __future__ import annotations

import pytest

from .browser import EXCEPTION, MAP, MAP_BOX_ICON, MAP_DRAWN, MAP_POINT, chromium, need_chromium, served_explorer
from .conftest import REPO
from .synthetic_run import write_synthetic_run

SHOT = REPO / "artifacts" / "screenshots" / "explorer.png"
LANGS = {"python", "javascript", "ruby", "php", "lua", "perl"}


def pick(page, label: str, option: str) -> None:
    """Choose `option` in the Streamlit selectbox labelled `label`."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def chart_titled(page, text: str):
    page.wait_for_function(
        "t => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes(t))",
        arg=text, timeout=60_000)
    return page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=text)).first


def ticks(plot, axis: str) -> list[str]:
    """The tick labels plotly drew on an axis, in order along it (top to bottom for y)."""
    return plot.evaluate("""(el, axis) => [...el.querySelectorAll(`.${axis}axislayer-above .${axis}tick text`)]
        .map(t => [t.getBoundingClientRect()[axis], t.textContent]).sort((a, b) => a[0] - b[0]).map(p => p[1])""",
                         axis)


def map_title(page) -> str:
    return page.locator(".st-key-map_title").first.text_content()


def wait_title(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('.st-key-map_title')?.textContent.includes(t)", arg=text,
                           timeout=90_000)


def series_names(page) -> set[str]:
    """The map's series, from ECharts' accessible description of it (aria: "... representing NAME. ...")."""
    import re
    return set(re.findall(r"representing ([^.]+)\.", page.locator(MAP).first.get_attribute("aria-label") or ""))


@pytest.mark.slow
def test_select_a_layer_and_a_point_in_chromium(tmp_path):
    need_chromium()
    run = write_synthetic_run(tmp_path / "run", n_tasks=12, n_layers=3, d=24)
    with served_explorer(run) as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_function(MAP_DRAWN, arg=[MAP, 50], timeout=90_000)
        assert "layer 2" in map_title(page)
        assert set(LANGS) <= series_names(page)
        page.locator(MAP).first.evaluate("el => { el.querySelector('canvas').psftFirstDraw = true; }")
        # The rest of the first page follows the map (the page's component reports it drawn): the widgets, the
        # tables beside it, the program panel below (the intervals once their expander is opened: below).
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stTable\"]').length >= 2 && "
                               "document.querySelector('[data-testid=\"stNumberInputField\"]')", timeout=60_000)
        # ... without building the chart again: the map kept its place in the page, so its canvas is the same
        assert page.locator(MAP).first.evaluate("el => el.querySelector('canvas').psftFirstDraw === true")
        assert page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').count() >= 3
        assert page.locator('.st-key-selection_summary').count() == 1
        assert page.locator('[data-testid="stDataFrame"]').count() == 0

        # Select a layer: the slider's thumb is a range input; one step left is layer 1.
        slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
        slider.focus()
        page.keyboard.press("ArrowLeft")
        wait_title(page, "layer 1 ")

        # Click a point: the map is one canvas; find a drawn point by its colour and click its centre.
        page.wait_for_function(MAP_DRAWN, arg=[MAP, 50], timeout=90_000)
        page.wait_for_timeout(500)                       # let the chart settle after the redraw
        x, y = page.locator(MAP).first.evaluate(MAP_POINT)
        page.mouse.click(x, y)
        page.wait_for_selector('[data-testid="stCode"]', timeout=90_000)
        code = page.locator('[data-testid="stCode"]').first.text_content()
        assert "def t0" in code
        assert page.locator('[data-testid="stNumberInputField"]').first.input_value() != ""
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)
        assert page.locator(EXCEPTION).count() == 0
        assert not errors, errors
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOT), full_page=True)

        # Colour by what RL did, then box-select the whole plotting area (the toolbox's box brush, drawn on
        # the canvas at its top right): the series are the transitions and the summary counts every program.
        pick(page, "colour by", "RL transition")
        wait_title(page, "sft-parallel → rl-parallel")
        page.wait_for_function("() => /representing (fixed|broken|both)/.test(document.querySelector("
                               "'[data-testid=\"stEChartsChart\"]')?.getAttribute('aria-label') || '')", timeout=90_000)
        page.wait_for_function(MAP_DRAWN, arg=[MAP, 50], timeout=90_000)
        page.wait_for_timeout(500)
        names = series_names(page)
        assert names & {"fixed", "broken"} and not names & set(LANGS), names
        box = page.locator(f"{MAP} canvas").first.bounding_box()
        page.mouse.click(*page.locator(MAP).first.evaluate(MAP_BOX_ICON))      # the box brush's icon
        page.mouse.move(box["x"] + 10, box["y"] + 32)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
        page.mouse.move(box["x"] + box["width"] - 152, box["y"] + box["height"] - 10, steps=8)
        page.mouse.up()
        summary = page.locator(".st-key-selection_summary")
        page.wait_for_function("n => document.querySelector('.st-key-selection_summary')?.textContent"
                               ".includes(`Selection: ${n} programs`)", arg=12 * len(LANGS), timeout=90_000)
        text = summary.text_content()
        n = int(text.split("Selection: ")[1].split(" programs")[0])
        assert n == 12 * len(LANGS) and "sft-parallel" in text and "→ rl-parallel" in text, text
        assert page.locator(EXCEPTION).count() == 0
        frames = page.locator('[data-testid="stDataFrame"]').count()        # the program panel's
        page.locator('[data-testid="stExpander"] summary').filter(has_text="95% confidence").first.click()
        page.wait_for_function("n => document.querySelectorAll('[data-testid=\"stDataFrame\"]').length > n",
                               arg=frames, timeout=60_000)

        # The other pages render in the browser too (each waits for a chart title only it draws), and every
        # layer axis draws every layer, embed included.
        layers = ["embed", "0", "1", "2"]
        page.locator('[data-testid="stSidebar"] label').filter(has_text="Compare").first.click()
        page.wait_for_function("() => document.querySelector('.st-key-map_b_title')?.textContent.includes('rl-parallel ·')",
                               timeout=90_000)
        page.wait_for_function(MAP_DRAWN, arg=['[class*="st-key-map_b-"] [data-testid="stEChartsChart"]', 50],
                               timeout=90_000)
        for name, title_part in (("Alignment", "vs RL gain"), ("CKA", "checkpoint × checkpoint")):
            page.locator('[data-testid="stSidebar"] label').filter(has_text=name).first.click()
            page.wait_for_function(
                "t => [...document.querySelectorAll('.gtitle')].some(e => e.textContent.includes(t))",
                arg=title_part, timeout=90_000)
            assert page.locator(EXCEPTION).count() == 0, name
            if name == "Alignment":
                plot = chart_titled(page, "retrieval top-1")
                assert ticks(plot, "x") == layers
                assert plot.locator(".xaxislayer-above .xtick").count() == len(layers)
            if name == "CKA":
                plot = chart_titled(page, "layer × layer")
                assert ticks(plot, "x") == layers and ticks(plot, "y") == layers
        assert not errors, errors


@pytest.mark.slow
def test_psft_app_serves_the_run_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from .browser import free_port
    run = write_synthetic_run(tmp_path / "run", n_tasks=4, n_layers=1, d=8)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())",
                             "app", str(run), "--port", str(port)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        t0 = time.time()
        while True:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert proc.poll() is None and time.time() - t0 < 60, proc.stdout.read() if proc.poll() else "slow"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)          # psft became the server (exec): the signal reaches it
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert f"explorer: http://localhost:{port}" in proc.stdout.read()
