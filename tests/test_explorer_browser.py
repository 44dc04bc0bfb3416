"""The explorer in a real browser: `psft app`'s Streamlit server on a free port, Debian's chromium headless
driven by playwright. Select a layer on the slider, click a point of the map, and check that the charts
render, the clicked program's code and neighbours appear, and no exception is shown. Saves a screenshot
under artifacts/screenshots/ for people to look at.
"""
from __future__ import annotations

import pytest

from .browser import EXCEPTION, MAP, chromium, need_chromium, served_explorer
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


@pytest.mark.slow
def test_select_a_layer_and_a_point_in_chromium(tmp_path):
    need_chromium()
    run = write_synthetic_run(tmp_path / "run", n_tasks=12, n_layers=3, d=24)
    with served_explorer(run) as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector(MAP, timeout=90_000)
        title = page.locator(f"{MAP} .gtitle").first
        assert "layer 2" in title.text_content()

        # Select a layer: the slider's thumb is a range input; one step left is layer 1.
        slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
        slider.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => document.querySelector('.gtitle')?.textContent.includes('layer 1 ')",
                               timeout=90_000)

        # Click a point: the map is SVG at this size, every program a path.point.
        point = page.locator(f"{MAP} g.points path.point").nth(5)
        page.wait_for_timeout(500)                       # let plotly settle after the redraw
        box = point.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector('[data-testid="stCode"]', timeout=90_000)
        code = page.locator('[data-testid="stCode"]').first.text_content()
        assert "def t0" in code
        assert page.locator('[data-testid="stNumberInputField"]').first.input_value() != ""
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=30_000)

        plots = page.locator(".js-plotly-plot")
        assert plots.count() >= 1 and page.locator(f"{MAP} .main-svg").count() >= 1
        assert page.locator(EXCEPTION).count() == 0
        assert not errors, errors
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOT), full_page=True)

        # Colour by what RL did, then box-select a region: the legend shows the transitions and the summary
        # counts the selected programs.
        pick(page, "colour by", "RL transition")
        page.wait_for_function("() => document.querySelector('.gtitle')?.textContent.includes('sft-parallel → rl-parallel')",
                               timeout=90_000)
        page.wait_for_timeout(500)
        legend = set(page.evaluate("s => [...document.querySelectorAll(s)].map(e => e.textContent)",
                                   f"{MAP} .legendtext"))
        assert legend & {"fixed", "broken", "both pass", "both fail"} and not legend & set(LANGS), legend
        page.wait_for_timeout(500)
        page.locator(f"{MAP} .modebar-btn[data-title='Box Select']").first.click()
        area = page.locator(f"{MAP} .nsewdrag").first.bounding_box()
        page.mouse.move(area["x"] + 2, area["y"] + 2)
        page.mouse.down()
        page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=8)
        page.mouse.move(area["x"] + area["width"] - 2, area["y"] + area["height"] - 2, steps=8)
        page.mouse.up()
        summary = page.locator(".st-key-selection_summary")
        page.wait_for_function("n => document.querySelector('.st-key-selection_summary')?.textContent"
                               ".includes(`Selection: ${n} programs`)", arg=12 * len(LANGS), timeout=90_000)
        text = summary.text_content()
        n = int(text.split("Selection: ")[1].split(" programs")[0])
        assert n == 12 * len(LANGS) and "sft-parallel" in text and "→ rl-parallel" in text, text
        assert page.locator(EXCEPTION).count() == 0

        # The other pages render in the browser too (each waits for a chart title only it draws), and every
        # layer axis draws every layer, embed included.
        layers = ["embed", "0", "1", "2"]
        for name, title_part in (("Compare", "rl-parallel ·"), ("Alignment", "vs RL gain"),
                                 ("CKA", "checkpoint × checkpoint")):
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
