"""`psft report`: one self-contained HTML file (plotly inline, nothing from the network) with the pass@1
and transfer tables, alignment curves, CKA heatmaps, hypothesis tests and config; `--vs` compares two
runs; a run without probes gets a clear "no probes yet" section."""
from __future__ import annotations

import html
import json
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


def in_figures(page: str, text: str) -> int:
    """How often `text` appears in the figures' JSON, escaped (json) or not (orjson) as plotly's encoder wrote it."""
    escaped = json.dumps(text)[1:-1]
    return page.count(text) + (page.count(escaped) if escaped != text else 0)


def key_cell(text: str) -> str:
    return f'<td class="key">{text}</td>'


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
        assert key_cell(ckpt) in html
    assert re.search(r'\d+\.\d<span class="ci">\[\d+\.\d, \d+\.\d\]</span>', html)   # pass@1 with its CI
    assert key_cell("mono") in html and key_cell("parallel") in html                # transfer rows
    # the finding first, then the declared family, then the exploratory tables with the seen / zero-shot split
    assert html.index('id="finding-text"') < html.index('id="pass"')
    assert "Confirmatory contrasts" in html and key_cell("parallel - multi") in html and "p (Holm)" in html
    assert "exploratory" in html and "<th>zero-shot (mean)</th>" in html and "<th>seen (mean)</th>" in html
    assert "the interval covers the tasks only" in html
    for title in ("retrieval top-1", "mean cross-language CKA", "silhouette by task"):
        assert title in html, title
    assert in_figures(html, "layer 1 · debiased") == len(CKPTS) + 1         # a lang x lang heatmap each
    assert in_figures(html, "sft-parallel − sft-mono · layer 1")            # and the difference map
    assert "parallel SFT aligns more than mono" in html and "0.0010" in html  # a test with its p-value
    assert "synthetic-0" in html                                             # the config
    assert "No probes yet" not in html


def test_report_without_probes_says_so(runs):
    assert psft("report", str(runs[1])).returncode == 0
    html = (runs[1] / "report.html").read_text()
    assert "No probes yet" in html and "psft probe" in html
    assert "no tests yet" in html and key_cell("sft-parallel") in html


def test_report_vs_compares_two_runs(runs):
    done = psft("report", str(runs[0]), "--vs", str(runs[1]))
    assert done.returncode == 0, done.stderr
    path = runs[0] / "report-vs-study-seed-1.html"
    assert done.stdout.strip() == str(path)
    html = path.read_text()
    assert "study/seed-0 vs study/seed-1" in html and "difference (study/seed-1 − study/seed-0, points)" in html
    assert html.count("<h3>study/seed-0</h3>") >= 2 and html.count("<h3>study/seed-1</h3>") >= 2
    assert key_cell("seed") in html and key_cell("name") in html                # config differences
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
        # the finding as a reader sees it states transfer.json's declared contrasts; the forest plot draws them
        shown = page.locator("#finding-text").inner_text()
        for sentence in expected_finding(json.loads((runs[0] / "transfer.json").read_text())):
            assert sentence in shown, (sentence, shown)
        labels = page.evaluate("() => [...document.querySelectorAll('#forest .ytick text')].map(t => t.textContent)")
        assert {"parallel − multi (zero-shot targets)", "parallel − mono (zero-shot targets)"} <= set(labels)


@pytest.mark.slow
def test_the_pipeline_writes_the_report_of_a_real_micro_run(tmp_path_factory):
    from .micro_run import shared_micro_run
    run = shared_micro_run(tmp_path_factory).root
    html = (run / "report.html").read_text()
    assert "No probes yet" not in html and "retrieval top-1" in html and "Hypothesis tests" in html
    # the checkpoint's row key in the pass@1 table (one header row, checkpoints as keyed cells)
    assert "sft-parallel vs sft-mono" in html and '<td class="key">oracle-lua</td>' in html


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


def figures_of(html: str) -> dict[str, dict]:
    """{div id: {"data", "layout"}} of every plotly figure in a report."""
    out = {}
    for m in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"displaylogo"', html, re.S):
        out[m.group(1)] = {"data": json.loads(m.group(2)), "layout": json.loads(m.group(3))}
    return out


def expected_finding(transfer: dict) -> list[str]:
    """The declared contrasts as the finding must state them, computed here from transfer.json."""
    from train.transfer import format_p
    out = []
    for m in transfer["_family"]["members"]:
        a, _, b = m["contrast"].partition(" - ")
        verdict = (f"{a} > {b}" if m["diff"] > 0 else f"{a} < {b}") if m["significant"] else "no detectable difference"
        lo, hi = m["ci95"]
        out.append(f"{a} − {b}: {100 * m['diff']:+.1f} points [{100 * lo:.1f}, {100 * hi:.1f}], Holm p = "
                   f"{format_p(m['p_holm'], m['p_holm_bound'])}: {verdict}")
    return out


def finding_text(html_text: str) -> str:
    m = re.search(r'<div class="finding" id="finding-text"><p>(.*?)</p></div>', html_text, re.S)
    assert m, "no finding"
    return html.unescape(m.group(1))


def test_report_finding_states_the_declared_contrasts_of_transfer_json(runs, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    transfer = json.loads((run / "transfer.json").read_text())
    # one declared contrast made significant (as Holm would mark it), so both verdicts are exercised
    m, other = transfer["_family"]["members"]
    m.update(diff=0.125, ci95=[0.02, 0.23], p_holm=0.004, p_holm_bound=False, significant=True)
    other.update(diff=-0.05, ci95=[-0.2, 0.1], p_holm=0.5, p_holm_bound=False, significant=False)
    (run / "transfer.json").write_text(json.dumps(transfer))
    assert psft("report", str(run)).returncode == 0
    page = (run / "report.html").read_text()
    text = finding_text(page)
    for sentence in expected_finding(transfer):
        assert sentence in text, (sentence, text)
    assert "parallel > multi" in text and "no detectable difference" in text
    assert "Holm-adjusted over 2 contrasts" in text and "zero-shot targets (lua, perl)" in text
    assert "resample the tasks only" in text
    # the family table's verdict says its interval covers one run's tasks only
    assert html.escape("parallel > multi (Holm; tasks only, one seed)") in page
    forest = figures_of(page)["forest"]
    confirmatory = forest["data"][0]
    assert confirmatory["name"] == "confirmatory (Holm)"
    assert [round(x, 6) for x in confirmatory["x"]] == [round(100 * m["diff"], 6) for m in transfer["_family"]["members"]]
    assert forest["layout"]["xaxis"]["title"]["text"] == "difference (points)"


def with_intervals(run, out):
    """A copy of a synthetic run whose retrieval means carry 95% intervals, as a real run's do."""
    import shutil
    shutil.copytree(run, out)
    path = out / "probes" / "metrics.json"
    metrics = json.loads(path.read_text())
    for per_pool in metrics["checkpoints"].values():
        for per_norm in per_pool.values():
            for layers in per_norm.values():
                for m in layers.values():
                    m["retrieval_mean"] = {k: {"value": v, "ci95": [v - 0.04, v + 0.04]}
                                           for k, v in m["retrieval_mean"].items()}
    path.write_text(json.dumps(metrics))
    return out


def test_report_figures_use_points_categorical_layers_and_fitted_scales(runs, tmp_path):
    from app.report import build_report
    from app.rundata import open_run
    page = build_report(open_run(with_intervals(runs[0], tmp_path / "run")))
    figs = figures_of(page)
    layer_figs = [f for f in figs.values() if "layer" in str((f["layout"].get("xaxis") or {}).get("title", ""))]
    assert len(layer_figs) >= 3
    for f in layer_figs:
        x = f["layout"]["xaxis"]
        assert x["type"] == "category" and x["categoryarray"][:2] == ["embed", "0"], x
        drawn = {v for t in f["data"] for v in (t.get("x") or [])}
        assert {"embed", "0", "1"} <= drawn
    curves = [f for f in layer_figs if f["layout"]["title"]["text"].startswith("retrieval top-1")][0]
    bars = [t["error_y"]["array"] for t in curves["data"] if (t.get("error_y") or {}).get("array")]
    assert bars and all(abs(b - 0.04) < 1e-9 for arr in bars for b in arr)    # the metric's intervals
    bars = [f for f in figs.values() if f["layout"]["title"]["text"].startswith("pass@1")][0]
    assert bars["layout"]["yaxis"]["range"] == [0, 100] and max(v for t in bars["data"] for v in t["y"] if v) > 1
    heat = [f for f in figs.values() if f["data"][0]["type"] == "heatmap" and f["layout"]["title"]["text"].startswith("sft-mono ·")][0]["data"][0]
    off = [v for i, row in enumerate(heat["z"]) for j, v in enumerate(row) if i != j]
    assert heat["zmin"] >= min(off) - 0.05 and heat["zmax"] <= max(off) + 0.05     # fitted, not 0-1
    # tables: one header row each, no index column of 0..n-1, no empty header cell
    assert all(head.count("<tr>") == 1 for head in re.findall(r"<thead>(.*?)</thead>", page, re.S))
    assert "<th></th>" not in page and '<td class="key">0</td>' not in page


def test_report_vs_uses_labels_and_paired_differences(runs, tmp_path):
    out = tmp_path / "vs.html"
    done = psft("report", str(runs[0]), "--vs", str(runs[0]), "--label", "before", "--label", "after", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "<title>Parallel-SFT report: before vs after</title>" in page
    assert "difference (after − before, points)" in page and "difference of RL gains (after − before" in page
    # a run against itself: every paired difference is 0 with a [0, 0] interval over its 6 tasks
    assert "+0.0<span class=\"ci\">[0.0, 0.0]</span><span class=\"p\">n=6</span>" in page
    assert in_figures(page, "retrieval top-1: after − before")
    bad = psft("report", str(runs[0]), "--label", "a", "--label", "b")
    assert bad.returncode == 2 and "--label" in bad.stderr
