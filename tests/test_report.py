"""`psft report`: one self-contained HTML file (plotly inline, nothing from the network) with the pass@1
and transfer tables, alignment curves, CKA heatmaps, hypothesis tests and config; `--vs` compares two
runs; a run without probes gets a clear "no probes yet" section."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import REPO
from .synthetic_run import CKPTS, LANGS, write_synthetic_run

PSFT = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


def psft(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PSFT, *args], capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report") / "study"
    return (write_synthetic_run(base / "seed-0", n_tasks=6, n_layers=2, d=8, seed=0),
            write_synthetic_run(base / "seed-1", n_tasks=6, seed=1, probes=False))


def plotly_divs(html: str) -> int:
    return len(re.findall(r'class="plotly-graph-div"', html))


def test_report_is_self_contained_and_has_every_section(runs):
    done = psft("report", str(runs[0]))
    assert done.returncode == 0, done.stderr
    path = runs[0] / "report.html"
    assert done.stdout.strip() == str(path)
    html = path.read_text()
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)          # works offline
    assert "<script src=\"http" not in html and html.count("Plotly.newPlot") == plotly_divs(html)
    assert html.count("* plotly.js v") == 1                                  # the library, embedded once
    for ckpt in CKPTS:
        assert f"<th>{ckpt}</th>" in html
    assert re.search(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", html)               # pass@1 with its CI
    assert "<th>mono</th>" in html and "<th>parallel</th>" in html                # transfer rows
    # the declared family first, then the exploratory tables with the seen / zero-shot split
    assert "Confirmatory contrasts" in html and "<th>parallel - multi</th>" in html and "p (Holm)" in html
    assert "exploratory" in html and "<th>zero-shot (mean)</th>" in html and "<th>seen (mean)</th>" in html
    assert "the interval covers the tasks only" in html
    for title in ("retrieval top-1", "mean cross-language CKA", "silhouette by task"):
        assert title in html, title
    assert html.count(r"layer 1 \u00b7 debiased") == len(CKPTS)             # a lang x lang heatmap each
    assert "parallel SFT aligns more than mono" in html and "0.0010" in html  # a test with its p-value
    assert "synthetic-0" in html                                             # the config
    assert "No probes yet" not in html


def test_report_without_probes_says_so(runs):
    assert psft("report", str(runs[1])).returncode == 0
    html = (runs[1] / "report.html").read_text()
    assert "No probes yet" in html and "psft probe" in html
    assert "no tests yet" in html and "<th>sft-parallel</th>" in html


def test_report_vs_compares_two_runs(runs):
    done = psft("report", str(runs[0]), "--vs", str(runs[1]))
    assert done.returncode == 0, done.stderr
    path = runs[0] / "report-vs-study-seed-1.html"
    assert done.stdout.strip() == str(path)
    html = path.read_text()
    assert "study/seed-0 vs study/seed-1" in html and "difference (study/seed-1 − study/seed-0, points)" in html
    assert html.count("<h3>study/seed-0</h3>") >= 2 and html.count("<h3>study/seed-1</h3>") >= 2
    assert "<th>seed</th>" in html and "<th>name</th>" in html                # config differences
    for lang in LANGS:
        assert f"<th>{lang}</th>" in html


@pytest.mark.slow
def test_report_renders_offline_in_chromium(runs):
    from .browser import chromium, need_chromium
    need_chromium()
    path = runs[0] / "report.html"
    psft("report", str(runs[0]))
    html = path.read_text()
    with chromium() as browser:
        page = browser.new_page()
        asked: list[str] = []
        page.route("**/*", lambda route: (asked.append(route.request.url), route.abort())
                   if not route.request.url.startswith("file:") else route.continue_())
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_function("n => document.querySelectorAll('.js-plotly-plot').length >= n",
                               arg=plotly_divs(html), timeout=60_000)
        assert not asked and not errors, (asked, errors)


@pytest.mark.slow
def test_the_pipeline_writes_the_report_of_a_real_micro_run(tmp_path_factory):
    from .micro_run import shared_micro_run
    run = shared_micro_run(tmp_path_factory).root
    html = (run / "report.html").read_text()
    assert "No probes yet" not in html and "retrieval top-1" in html and "Hypothesis tests" in html
    assert "sft-parallel vs sft-mono" in html and "<th>oracle-lua</th>" in html


def test_report_markdown_prints_the_runs_tables_and_writes_nothing(runs):
    probed, unprobed = runs
    before = sorted(p.name for p in probed.iterdir())
    r = psft("report", str(probed), "--markdown")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert sorted(p.name for p in probed.iterdir()) == before           # nothing written
    heads = ["pass@1 (%), 6 tasks per language", "Confirmatory contrasts (declared before the run; Holm over 2",
             "RL gain in points [95% CI] (exploratory: no correction)", "Interval unit: tasks (one run",
             "Arms compared", "Cross-language top-1 retrieval", "bag of tokens (no model; every layer)"]
    assert all(h in text for h in heads), [h for h in heads if h not in text]
    table = [line for line in text.splitlines() if line.startswith("| base |")][0]
    assert table.count("|") == len(LANGS) + 2                           # the pass@1 row: every language
    assert "| parallel - multi |" in text and "| zero-shot (mean) " in text
    assert "Cross-language" not in psft("report", str(unprobed), "--markdown").stdout
    bad = psft("report", str(probed), "--markdown", "--vs", str(unprobed))
    assert bad.returncode == 2 and "--markdown" in bad.stderr
