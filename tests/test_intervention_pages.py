"""What `psft intervene` wrote, shown: the report's Interventions section and the explorer's Interventions
page, on the real outputs of `tests/fixtures/interventions/` (written by `python -m tests.intervention_fixture`:
transplant on two arms, patch and erase, tiny checkpoints, 12 tasks, python / javascript / lua) copied into
a synthetic run. Every number shown is checked against the JSON, formatted here independently; a run without
interventions gets no section and a page that says so; a real chromium selects a task and shows both
completions."""
from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import REPO
from .synthetic_run import write_synthetic_run
from .test_report import figures_of

FIXTURE = Path(__file__).parent / "fixtures" / "interventions"
NAMES = ("transplant-mono", "transplant-parallel", "patch-parallel", "erase-parallel")
SCRIPT = str(REPO / "app" / "explorer" / "main.py")


def with_interventions(root: Path) -> Path:
    """A synthetic run (its world: the one the fixture's tasks come from) with the fixture's interventions."""
    run = write_synthetic_run(root, n_tasks=4, n_layers=1, d=8)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "world": {"seed": 0, "n_tasks": 200}}))
    shutil.copytree(FIXTURE, run / "interventions")
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return with_interventions(tmp_path_factory.mktemp("iv") / "run")


@pytest.fixture(scope="module")
def page(run):
    from app.report import build_report
    from app.rundata import open_run
    return build_report(open_run(run))


def result(name: str) -> dict:
    return json.loads((FIXTURE / f"{name}.json").read_text())


def points(x: float) -> str:
    return f"{100 * x:+.1f}"


def interval(ci) -> str:
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def section(page: str) -> str:
    return page[page.index('<h2 id="interventions">'):page.index('<h2 id="config">')]


def table_rows(block: str) -> dict[str, list[str]]:
    """{key cell: [the other cells' text]} of the first table in `block`."""
    body = block[block.index("<tbody>"):block.index("</tbody>")]
    out = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        out[" ".join(cells[0])] = [" ".join(c) for c in cells[1:]]
    return out


def after(block: str, heading: str) -> str:
    return block[block.index(heading):]


def test_the_fixture_is_real_intervene_output():
    """What the pages read is what `psft intervene` writes: every file with its rows, every condition scored."""
    for name in NAMES:
        r = result(name)
        rows = [json.loads(x) for x in (FIXTURE / f"{name}.rows.jsonl").read_text().splitlines()]
        assert r["name"] == name and r["layers"] == [0, 1] and r["tasks"]["n"] == 12
        assert {x["condition"] for x in rows} == set(r["conditions"])
        assert len(rows) == len(r["conditions"]) * 12 * 3


def test_report_section_shows_each_intervention_with_the_numbers_of_its_json(page):
    sec = section(page)
    assert '<a href="#interventions">' in page
    assert page.index('id="tests"') < page.index('id="interventions"') < page.index('id="config"')
    r = result("transplant-parallel")
    # the finding first: the declared family's outcome under Holm, with the largest effect
    m = r["family"]["members"][0]
    assert "None of the 2 declared contrasts" in html.unescape(sec)
    assert f"transplant Δ · layer 0 {points(m['diff'])} {interval(m['ci95'])} points (Holm p={m['p_holm']:.3f})" \
        in html.unescape(sec)
    block = after(sec, "<h4>transplant-parallel")
    # the confirmatory family: difference [CI], p, Holm p, verdict
    fam = table_rows(after(block, "<h5>Confirmatory"))
    for m in r["family"]["members"]:
        layer = r["conditions"][m["condition"]]["layer"]
        cells = fam[f"transplant Δ · layer {layer}"]
        assert cells[0] == f"{points(m['diff'])} {interval(m['ci95'])}"
        assert cells[1] == f"{m['p_value']:.3f}" and cells[2] == f"{m['p_holm']:.3f}"
        assert cells[3] == "no detectable effect" and not m["significant"]
    # every contrast, every language and group; controls beside the transplant; exploratory labelled
    heading = "<h5>Effect per layer"
    assert "exploratory, unadjusted p" in after(block, heading)[:300]
    eff = table_rows(after(block, heading))
    columns = [*r["langs"], *r["groups"]]
    for edit, label in (("transplant", "transplant Δ"), ("random", "random direction (control)"),
                        ("target", "own-language Δ (control)")):
        for layer in (0, 1):
            cond = r["conditions"][f"{edit}.L{layer}.a1"]
            cells = eff[f"{label} · layer {layer}"]
            for col, text in zip(columns, cells):
                c = cond["vs_vs"][col]
                assert text.startswith(f"{points(c['diff'])} {interval(c['ci95'])} p={c['p_value']:.3f}"), (col, text)
                assert ("(confirmatory)" in text) == (c["role"] == "confirmatory") == (edit == "transplant" and
                                                                                        col == "zero_shot")
    # pass@1 per language with its Wilson interval, the unedited checkpoints first
    pas = table_rows(after(block, "<h5>pass@1"))
    assert list(pas)[:2] == ["sft-parallel (unedited)", "rl-parallel (unedited)"]
    for cond, key in (("vs", "sft-parallel (unedited)"), ("random.L0.a1", "random direction (control) · layer 0")):
        for lang, text in zip(r["langs"], pas[key]):
            s = r["conditions"][cond]["scores"][lang]
            assert text == f"{100 * s['pass@1']:.1f} {interval(s['ci95'])}"
    # Δ norms
    delta = table_rows(after(block, "<h5>Δ"))
    assert delta["lua"][1] == f"{r['delta']['lua']['L1']['norm']:.3f} / {r['delta']['lua']['L1']['resid_norm']:.3f}"
    text = html.unescape(re.sub(r"<script.*?</script>", "", sec, flags=re.S))
    assert not re.search(r"\b(nan|NaN|None|null)\b", re.sub(r"None of the", "", text))


def test_report_effect_figures_draw_every_arm_and_layer_with_intervals(page):
    figs = figures_of(page)
    fig = figs["iv-effects-transplant"]
    assert fig["layout"]["xaxis"]["type"] == "category" and fig["layout"]["xaxis"]["categoryarray"] == ["0", "1"]
    traces = {t["name"]: t for t in fig["data"]}
    for arm in ("mono", "parallel"):                      # both arms, each with its controls
        r = result(f"transplant-{arm}")
        for edit, label, dash in (("transplant", "transplant Δ", "solid"), ("random", "random direction (control)", "dash"),
                                  ("target", "own-language Δ (control)", "dot")):
            t = traces[f"{arm} · {label}"]
            cells = [r["conditions"][f"{edit}.L{L}.a1"]["vs_vs"]["zero_shot"] for L in (0, 1)]
            assert t["x"] == ["0", "1"] and t["line"]["dash"] == dash
            assert t["y"] == pytest.approx([100 * c["diff"] for c in cells])
            assert t["error_y"]["array"] == pytest.approx([100 * (c["ci95"][1] - c["diff"]) for c in cells])
            assert t["error_y"]["arrayminus"] == pytest.approx([100 * (c["diff"] - c["ci95"][0]) for c in cells])
            assert t["marker"]["symbol"] == ["diamond" if edit == "transplant" else "circle"] * 2
    patch = {t["name"]: t for t in figs["iv-effects-patch"]["data"]}
    r = result("patch-parallel")
    assert set(patch) == {"rl-parallel residual into sft-parallel", "sft-parallel residual into rl-parallel"}
    back = patch["sft-parallel residual into rl-parallel"]           # the other direction: against the model
    assert back["y"] == pytest.approx([100 * r["conditions"][f"patch.vs_into_model.L{L}"]["vs_model"]["zero_shot"]["diff"]
                                       for L in (0, 1)])
    gain = r["conditions"]["model"]["vs_vs"]["zero_shot"]
    lines = [s for s in figs["iv-effects-patch"]["layout"]["shapes"] if s["type"] == "line" and s["y0"] != 0]
    assert [s["y0"] for s in lines] == pytest.approx([100 * gain["diff"]])     # the RL gain, for scale
    assert "iv-effects-erase" in figs


def test_report_shows_the_erasers_checks(page):
    r = result("erase-parallel")
    block = after(section(page), "<h4>erase-parallel")
    assert "language erased in sft-parallel · layer 0" in block
    checks = after(block, "What the eraser did")
    body = checks[checks.index("<tbody>"):checks.index("</tbody>")]
    rows = [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    e = r["erasure"]["vs"]["L0"]["layers"]["L0"]
    row = next(x for x in rows if x[:3] == ["sft-parallel", "layer 0", "layer 0"])
    assert row[3] == f"{e['retrieval_top1']['before']['raw']:.3f} → {e['retrieval_top1']['after']['raw']:.3f}"
    assert row[6] == f"{e['cka_debiased']['before']:.3f} → {e['cka_debiased']['after']:.3f}"
    assert row[7] == f"{e['language_probe_acc']['before']:.3f} → {e['language_probe_acc']['after']:.3f}"
    assert row[10] == ("yes" if r["erasure"]["vs"]["L0"]["retrieval_rose"] else "no")
    assert len(rows) == sum(len(e["layers"]) for per in r["erasure"].values() for e in per.values())
    # the finding says whether the erasers worked, from the same numbers
    finding = html.unescape(after(section(page), '<h3 id="interventions-erase"'))
    rose = sum(e["retrieval_rose"] for per in r["erasure"].values() for e in per.values())
    assert f"language probe sft-parallel layer 0 {e['language_probe_acc']['before']:.2f} → " \
           f"{e['language_probe_acc']['after']:.2f}" in finding
    assert f"cross-language retrieval rose for {rose} of 4." in finding
    assert "share of RL gain" not in after(block, "<h5>Confirmatory")[:1500]


def test_a_run_without_interventions_has_no_section(tmp_path):
    from app.report import build_report
    from app.rundata import open_run
    run = write_synthetic_run(tmp_path / "run", n_tasks=4, n_layers=1, d=8, probes=False)
    (run / "interventions").mkdir()
    (run / "interventions" / "notes.json").write_text('{"not": "an intervention"}')   # ignored, not a crash
    (run / "interventions" / ".patch-parallel.parts").mkdir()                          # an unfinished one
    page = build_report(open_run(run))
    assert open_run(run).interventions == {}
    assert 'id="interventions"' not in page and "#interventions" not in page and "psft intervene" not in page


# ---- the explorer's page ----------------------------------------------------------------------------

def open_page(run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app.explorer.after_map import FLAG

    from .test_explorer_app import ok
    monkeypatch.setenv("PSFT_RUN", str(run))
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.session_state[FLAG] = True       # the first page's map drawn: its widgets are there (after_map.py)
    ok(at.run())
    return ok(at.sidebar.radio(key="page").set_value("Interventions").run())


def rows_of(name: str) -> dict:
    return {(x["condition"], x["task_id"], x["lang"]): x
            for x in map(json.loads, (FIXTURE / f"{name}.rows.jsonl").read_text().splitlines())}


def test_explorer_page_shows_effects_and_a_task_with_and_without_the_edit(run, monkeypatch):
    from .test_explorer_app import figures, ok
    at = open_page(run, monkeypatch)
    assert at.selectbox(key="iv_name").value == "transplant-parallel"
    assert at.selectbox(key="iv_column").value == "zero_shot"          # the declared group first
    r = result("transplant-parallel")
    fig = figures(at)[0]
    assert fig["layout"]["xaxis"]["type"] == "category"
    traces = {t["name"]: t for t in fig["data"]}
    assert "mono · transplant Δ" in traces                               # the other arm beside it
    for L in (0, 1):
        cell = r["conditions"][f"transplant.L{L}.a1"]["vs_vs"]["zero_shot"]
        assert traces["parallel · transplant Δ"]["y"][L] == pytest.approx(100 * cell["diff"])
    ok(at.selectbox(key="iv_column").set_value("python").run())
    y = {t["name"]: t for t in figures(at)[0]["data"]}["parallel · random direction (control)"]["y"]
    assert y == pytest.approx([100 * r["conditions"][f"random.L{L}.a1"]["vs_vs"]["python"]["diff"] for L in (0, 1)])
    # a task whose verdict the edit changed: both completions and verdicts, side by side
    rows = rows_of("transplant-parallel")
    assert at.selectbox(key="iv_cond").value == "transplant.L0.a1" and at.selectbox(key="iv_lang").value == "lua"
    ok(at.selectbox(key="iv_lang").set_value("python").run())
    options = at.selectbox(key="iv_task").options
    changed = [t for t in r["per_task"]["task_ids"]
               if rows[("vs", t, "python")]["passed"] != rows[("transplant.L0.a1", t, "python")]["passed"]]
    assert len(options) == len(changed) >= 2 and all(" · ✓ → ✗" in o or " · ✗ → ✓" in o for o in options)
    task = changed[1]
    ok(at.selectbox(key="iv_task").set_value(task).run())
    codes = [c.value.strip() for c in at.code]                            # st.code drops the edge newlines
    without, edited = rows[("vs", task, "python")], rows[("transplant.L0.a1", task, "python")]
    assert without["completion"].strip() in codes and edited["completion"].strip() in codes
    assert codes.index(without["completion"].strip()) < codes.index(edited["completion"].strip())
    shown = [m.value for m in at.markdown]
    assert f"**sft-parallel, unedited** · {'passed' if without['passed'] else 'failed'} ({without['status']})" in shown
    assert f"**transplant Δ · layer 0** · {'passed' if edited['passed'] else 'failed'} ({edited['status']})" in shown
    assert any(c.startswith("# language: python") for c in codes)           # the task's prompt above them
    # every task, and the other file kinds
    ok(at.checkbox(key="iv_changed").uncheck().run())
    assert len(at.selectbox(key="iv_task").options) == 12
    ok(at.selectbox(key="iv_name").set_value("patch-parallel").run())
    assert at.selectbox(key="iv_cond").options == [f"{a} residual into {b} · layer {L}" for a, b in (
        ("rl-parallel", "sft-parallel"), ("sft-parallel", "rl-parallel")) for L in (0, 1)]      # both directions
    ok(at.selectbox(key="iv_cond").set_value("patch.vs_into_model.L1").run())
    assert any(m.value.startswith("**rl-parallel, unedited**") for m in at.markdown)   # the receiver, unedited
    ok(at.selectbox(key="iv_name").set_value("erase-parallel").run())
    erasure = [d.value for d in at.dataframe if "language probe" in d.value.columns][0]
    er = result("erase-parallel")["erasure"]
    assert len(erasure) == sum(len(e["layers"]) for per in er.values() for e in per.values()) and not at.exception


def test_explorer_page_without_interventions_says_how_to_make_them(tmp_path, monkeypatch):
    run = write_synthetic_run(tmp_path / "run", n_tasks=4, n_layers=1, d=8, probes=False)
    at = open_page(run, monkeypatch)
    assert any("psft intervene" in i.value for i in at.info) and not at.get("plotly_chart")


@pytest.mark.slow
def test_select_a_task_on_the_interventions_page_in_chromium(tmp_path):
    from .browser import EXCEPTION, chromium, need_chromium, served_explorer
    from .test_explorer_browser import pick
    need_chromium()
    run = with_interventions(tmp_path / "run")
    rows = rows_of("transplant-parallel")
    r = result("transplant-parallel")
    changed = [t for t in r["per_task"]["task_ids"]
               if rows[("vs", t, "lua")]["passed"] != rows[("transplant.L0.a1", t, "lua")]["passed"]]
    task = changed[-1]
    with served_explorer(run) as (url, _), chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 2300})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/?page=Interventions")                     # a link to the page
        page.wait_for_function("() => [...document.querySelectorAll('.gtitle')].some(e => "
                               "e.textContent.includes('effect on pass@1'))", timeout=180_000)   # a loaded machine
        page.wait_for_selector(".st-key-iv_with", timeout=90_000)
        label = f"{task} · {'✓' if rows[('vs', task, 'lua')]['passed'] else '✗'} → " \
                f"{'✓' if rows[('transplant.L0.a1', task, 'lua')]['passed'] else '✗'}"
        pick(page, "task (unedited", label)
        without, edited = rows[("vs", task, "lua")], rows[("transplant.L0.a1", task, "lua")]
        first = next(x for x in edited["completion"].splitlines() if x.strip())
        page.wait_for_function("t => document.querySelector('.st-key-iv_with')?.textContent.includes(t)",
                               arg=first.strip(), timeout=90_000)

        def text(key: str) -> str:
            return " ".join(page.locator(f".st-key-{key}").first.text_content().split())
        assert " ".join(without["completion"].split()) in text("iv_without")
        assert " ".join(edited["completion"].split()) in text("iv_with")
        assert ("passed" if without["passed"] else "failed") in text("iv_without")
        assert ("passed" if edited["passed"] else "failed") in text("iv_with")
        assert page.locator(EXCEPTION).count() == 0 and not errors, errors
        shot = REPO / "artifacts" / "screenshots" / "explorer-interventions.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)


def test_a_link_opens_the_interventions_page(run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from .test_explorer_app import ok
    monkeypatch.setenv("PSFT_RUN", str(run))
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.query_params["page"] = "Interventions"
    ok(at.run())
    assert at.sidebar.radio(key="page").value == "Interventions" and at.selectbox(key="iv_name").value


def test_without_a_world_the_prompt_comes_from_the_runs_own_evaluation(run, tmp_path, monkeypatch):
    """A benchmark run has no world to rebuild a task from: the prompt shown is the one its evaluation used."""
    bench = tmp_path / "bench"
    shutil.copytree(run, bench)
    config = json.loads((bench / "config.json").read_text())
    (bench / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "world"}))
    task = result("transplant-parallel")["per_task"]["task_ids"][0]
    prompt = "-- the benchmark's own prompt\nlocal function f(xs)"
    with open(bench / "evals" / "sft-parallel.jsonl", "a") as f:
        f.write(json.dumps({"task_id": task, "lang": "lua", "sample": -1, "prompt": prompt, "completion": "",
                            "status": "failed", "passed": False}) + "\n")
    at = open_page(bench, monkeypatch)
    from .test_explorer_app import ok
    ok(at.checkbox(key="iv_changed").uncheck().run())
    ok(at.selectbox(key="iv_task").set_value(task).run())
    assert prompt in [c.value for c in at.code]


def test_the_markdown_tables_carry_each_intervention_with_its_family(run):
    from app.markdown import run_markdown
    from app.rundata import open_run
    text = run_markdown(open_run(run))
    for name in NAMES:
        assert f"Intervention `{name}`." in text
        for m in result(name)["family"]["members"]:
            assert f"{points(m['diff'])} {interval(m['ci95'])}" in text, (name, m["condition"])
    assert "Greedy pass@1 (%) per condition" in text and "nan" not in text.lower()
