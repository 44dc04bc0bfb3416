"""The explorer through `streamlit.testing` (the real script, run headless): every page and every widget
path on a synthetic run with probes, a run without probes, a path that is not a run, and (slow) a real
micro run probed by `psft probe`. The browser test (`test_explorer_browser.py`) covers what AppTest
cannot: plotly selections and drawing in a real page.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import REPO
from .synthetic_run import LANGS, write_synthetic_run

SCRIPT = str(REPO / "app" / "explorer" / "main.py")


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    return write_synthetic_run(tmp_path_factory.mktemp("explorer") / "probed", n_tasks=8, n_layers=2, d=16)


@pytest.fixture(scope="module")
def unprobed(tmp_path_factory):
    return write_synthetic_run(tmp_path_factory.mktemp("explorer") / "unprobed", n_tasks=5, probes=False)


def open_app(run, monkeypatch, first_visit: bool = False) -> AppTest:
    """The explorer as its browser shows it once the first map is drawn (the page's component has said so:
    `app/explorer/after_map.py`), or, with `first_visit`, the first run of a session: the map alone."""
    from app.explorer.after_map import FLAG
    monkeypatch.setenv("PSFT_RUN", str(run))
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    if not first_visit:
        at.session_state[FLAG] = True
    return ok(at.run())


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def tables(at: AppTest) -> list:
    """The tables shown, interactive (st.dataframe) and static (st.table), as DataFrames (AppTest gives
    them no key: find them by their columns)."""
    return [d.value for d in at.dataframe] + [t.value for t in at.table]


def table(at: AppTest, *columns: str, index: str | None = None, rows: tuple = ()):
    """The tables with these columns, index name (interactive tables keep it) and row labels."""
    found = [t for t in tables(at) if set(columns) <= set(t.columns) and (index is None or t.index.name == index)
             and set(rows) <= set(t.index)]
    assert found, (columns, [list(t.columns) for t in tables(at)])
    return found


def values(v) -> list:
    """A trace's array as a list (plotly may send numbers as {"dtype", "bdata"}: base64 bytes)."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def maps(at: AppTest) -> list[dict]:
    """The maps shown (ECharts: `st.echarts_chart`), each as {"title", "traces": [{"name", "n" (points),
    "opacity", "rows"}]}, read from the option and its Arrow datasets as the browser gets them."""
    import pyarrow as pa
    out = []
    for el in at.get("echarts_chart"):
        spec = json.loads(el.proto.spec)
        frames = {d.name: pa.ipc.open_stream(d.data.data).read_all() for d in el.proto.datasets}
        traces = []
        for s in spec["series"]:
            if "datasetIndex" in s:
                frame = frames[spec["dataset"][s["datasetIndex"]]["source"]["name"]]
                n, rows = frame.num_rows, frame.column("row").to_pylist()
            else:
                n, rows = len([x for x in s.get("data", []) if x != "-"]), None
            traces.append({"name": s["name"], "n": n, "rows": rows,
                           "opacity": (s.get("itemStyle") or {}).get("opacity", 1.0)})
        out.append({"title": spec["title"]["text"], "traces": traces})
    return out


def map_traces(at: AppTest) -> list[dict]:
    return maps(at)[0]["traces"]


def test_map_page_shows_the_map_tables_and_controls(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    assert at.sidebar.selectbox(key="ckpt").value == "sft-parallel"
    assert at.sidebar.select_slider(key="layer").value == "1"          # the last layer first
    m = maps(at)[0]
    assert "sft-parallel · layer 1 · mean · centered · PCA" in m["title"]
    names = [t["name"] for t in m["traces"]]
    assert names[0] == "same task" and set(LANGS) <= set(names)
    assert list(table(at, *LANGS, rows=("base",))[0].index)[:2] == ["base", "sft-mono"]   # pass@1
    assert list(table(at, *LANGS, rows=("mono",))[0].index) == ["mono", "multi", "parallel", "oracle-lua"]   # RL gain
    assert at.number_input(key="program").value is None
    # the recipe's confirmatory family first (Holm), every other comparison labelled exploratory
    family = table(at, "difference", "p (Holm)", "verdict", index="contrast")[0]
    assert list(family.index) == ["parallel - multi", "parallel - mono"]
    shown = " ".join(m.value for m in at.markdown)
    assert "Holm over 2, on the zero-shot targets" in shown and "exploratory: no correction" in shown
    assert any("zero-shot" in c.value and "Interval unit" in c.value for c in at.caption)


def test_a_first_visit_draws_the_map_alone_then_the_rest(probed, monkeypatch):
    """A session's first run stops after the map and mounts the component that reports it drawn; once it
    has (its callback sets the flag), the tables, the selection summary and the program panel follow."""
    from app.explorer.after_map import FLAG
    at = open_app(probed, monkeypatch, first_visit=True)
    assert len(maps(at)) == 1 and not tables(at) and not at.number_input
    assert [c.key for c in at.get("bidi_component")] == ["map_drawn_signal"]
    # the widgets too wait for the map (controls.controls_deferred), and the map is the one they will show
    assert not at.selectbox and not at.radio and not at.select_slider and not at.checkbox and not at.text_input
    first = maps(at)[0]
    at.session_state[FLAG] = True
    ok(at.run())
    assert len(maps(at)) == 1 and table(at, *LANGS, rows=("base",)) and at.number_input(key="program")
    assert not at.get("bidi_component")
    assert maps(at)[0] == first
    assert at.sidebar.selectbox(key="ckpt").value == "sft-parallel" and at.sidebar.radio(key="page").value == "Map"
    assert at.selectbox(key="method") and at.checkbox(key="links")
    assert any("Select points" in c.value for c in at.caption)
    ok(at.sidebar.radio(key="page").set_value("Alignment").run())      # other pages never wait for a map
    assert figures(at)


def test_widgets_once_drawn_stay_when_the_map_comes_later(probed, monkeypatch):
    """A session that starts on another page has its widgets drawn; moving to the Map page keeps them (only
    the session's very first run, on the Map page, defers them)."""
    monkeypatch.setenv("PSFT_RUN", str(probed))
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.query_params["page"] = "Alignment"
    ok(at.run())
    assert at.sidebar.radio(key="page").value == "Alignment" and at.sidebar.selectbox(key="ckpt")
    ok(at.sidebar.radio(key="page").set_value("Map").run())
    assert len(maps(at)) == 1 and at.sidebar.selectbox(key="ckpt") and at.selectbox(key="method")
    assert not tables(at)          # the map alone still, until the browser says it is drawn


def test_the_intervals_are_built_only_once_their_expander_is_open(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    assert not at.dataframe and len(at.expander) == 1
    # AppTest cannot click an expander: open it the way its on_change does, through its state
    at.session_state["ci_tables"] = True
    ok(at.run())
    assert table(at, *LANGS, index="checkpoint") and table(at, *LANGS, index="arm")


@pytest.mark.parametrize("key, values", [
    ("ckpt", ["base", "rl-mono", "oracle-lua"]),
    ("pooling", ["last", "mean"]),
    ("norm", ["raw", "standardized", "centered"]),
])
def test_every_sidebar_choice_redraws_the_map(probed, monkeypatch, key, values):
    at = open_app(probed, monkeypatch)
    for v in values:
        ok(at.sidebar.selectbox(key=key).set_value(v).run())
        title = maps(at)[0]["title"]
        assert v in title, (v, title)


def test_every_layer_of_the_slider(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    assert at.sidebar.select_slider(key="layer").options == ["embed", "0", "1"]
    for layer in ("embed", "0", "1"):
        ok(at.sidebar.select_slider(key="layer").set_value(layer).run())
        assert f"layer {layer} ·" in maps(at)[0]["title"]


def test_projection_colour_links_and_highlight(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    for method in at.selectbox(key="method").options:          # PCA, t-SNE (and UMAP when installed)
        ok(at.selectbox(key="method").set_value(method).run())
        assert method in maps(at)[0]["title"]
    ok(at.selectbox(key="method").set_value("PCA").run())
    ok(at.selectbox(key="colour").set_value("pass/fail").run())
    assert {"passed", "failed"} <= {t["name"] for t in map_traces(at)}
    ok(at.selectbox(key="colour").set_value("task").run())
    assert [t["name"] for t in map_traces(at)] == ["same task", "task"]
    ok(at.checkbox(key="links").uncheck().run())
    assert "same task" not in [t["name"] for t in map_traces(at)]
    ok(at.selectbox(key="colour").set_value("language").run())
    for lang in LANGS:
        ok(at.selectbox(key="highlight").set_value(lang).run())
        traces = {t["name"]: t for t in map_traces(at)}
        assert traces[lang]["opacity"] > 0.5 and lang + " (dimmed)" not in traces
        others = [t for n, t in traces.items() if n.endswith("(dimmed)")]
        assert len(others) == len(LANGS) - 1 and all(t["opacity"] < 0.5 for t in others)
    ok(at.selectbox(key="highlight").set_value("(none)").run())
    assert not [t for t in map_traces(at) if t["name"].endswith("(dimmed)")]


def test_selecting_a_program_shows_code_verdicts_ranks_and_neighbours(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.number_input(key="program").set_value(7).run())
    assert any("def t00001" in c.value for c in at.code)        # row 7 = task 1 in the second language
    assert any("Return the list of task t00001" in m.value for m in at.markdown)     # its description
    assert any(c.value == "def t00001(xs):" for c in at.code)                         # and signature
    verdicts = table(at, "checkpoint", "status", "passed")[0]
    assert len(verdicts) == 8 and set(verdicts["status"]) <= {"passed", "failed"}
    ranks = table(at, "language", "rank", "of")[0]
    assert set(ranks["language"]) == set(LANGS) - {"javascript"} and (ranks["rank"] >= 1).all()
    near = table(at, "row", "task", "same task")[0]
    assert len(near) == 10 and 7 not in set(near["row"])
    assert any(t["name"] == "selected" for t in map_traces(at))


def test_every_program_is_one_point_and_a_selection_names_its_rows(probed, monkeypatch):
    from app.explorer.map_view import selected_rows
    at = open_app(probed, monkeypatch)
    traces = map_traces(at)
    points = [t for t in traces if t["rows"] is not None]
    drawn = sorted(r for t in points for r in t["rows"])
    assert drawn == list(range(8 * len(LANGS)))                 # every program once, whatever its series
    # ECharts reports series-local point indices; they name the rows the series was drawn with
    series_rows = [t["rows"] for t in traces]
    k = next(i for i, t in enumerate(traces) if t["rows"])
    sel = {"selected": [{"series_index": k, "data_indices": [0, 2]}, {"series_index": 0, "data_indices": [1]}]}
    assert selected_rows(sel, series_rows) == [traces[k]["rows"][0], traces[k]["rows"][2]]   # lines have no rows
    assert selected_rows({"points": [{"customdata": 5}, {"customdata": [7]}]}, []) == [5, 7]     # plotly's form
    assert selected_rows({"selected": [{"series_index": 99, "data_indices": [0]}]}, series_rows) == []


def test_a_dense_map_sends_no_label_per_point(probed, monkeypatch):
    """Above LABEL_POINTS the points carry x, y and row only (the tooltip names series and row) and are drawn
    as squares under ECharts' 4 px fast path; below it each point carries its task and language. Colour by
    task still reads its colour column."""
    import pyarrow as pa

    from app.explorer import map_view

    def columns(at):
        el = at.get("echarts_chart")[0]
        spec = json.loads(el.proto.spec)
        frames = [pa.ipc.open_stream(d.data.data).read_all() for d in el.proto.datasets]
        points = [x for x in spec["series"] if "datasetIndex" in x]
        return spec, {tuple(f.column_names) for f in frames}, points

    at = open_app(probed, monkeypatch)
    _, cols, points = columns(at)
    assert cols == {("x", "y", "row", "label")} and all(p["symbolSize"] >= 6 for p in points)
    assert all("{@label}" in p["tooltip"]["formatter"] for p in points)
    monkeypatch.setattr(map_view, "LABEL_POINTS", 8 * len(LANGS) - 1)
    ok(at.run())
    _, cols, points = columns(at)
    assert cols == {("x", "y", "row")} and all(p["symbolSize"] < 4 for p in points)
    assert all(p["tooltip"]["formatter"] == "{a}<br>row {@row}" for p in points)
    assert sorted(r for t in map_traces(at) if t["rows"] for r in t["rows"]) == list(range(8 * len(LANGS)))
    ok(at.selectbox(key="colour").set_value("task").run())
    spec, cols, _ = columns(at)
    assert cols == {("x", "y", "row", "code")} and spec["visualMap"]["dimension"] == 3


def test_the_plotly_map_remains_the_fallback(probed, monkeypatch):
    monkeypatch.setenv("PSFT_EXPLORER_MAP", "plotly")
    at = open_app(probed, monkeypatch)
    assert not at.get("echarts_chart")
    fig = figures(at)[0]
    assert "sft-parallel · layer 1" in fig["layout"]["title"]["text"]
    ok(at.selectbox(key="colour").set_value("RL transition").run())
    fig = figures(at)[0]
    shown = {t["name"]: len(values(t["x"])) for t in fig["data"] if t["name"] != "same task"}
    assert shown == dict(Counter(expected_transitions(probed, "parallel").values()))


def expected_transitions(run, arm: str, lang: str | None = None) -> dict:
    """(task, program language) -> what RL did, computed here from the run's evaluation files."""
    def verdicts(ckpt):
        rows = [json.loads(x) for x in (run / "evals" / f"{ckpt}.jsonl").read_text().splitlines()]
        return {(r["task_id"], r["lang"]): r["passed"] for r in rows}
    before, after = verdicts(f"sft-{arm}"), verdicts(f"rl-{arm}")
    out = {}
    for t, own in before:
        a, b = before[(t, lang or own)], after[(t, lang or own)]
        out[(t, own)] = "fixed" if b and not a else "broken" if a and not b else "both pass" if a else "both fail"
    return out


def test_map_colours_each_program_by_what_rl_did(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.selectbox(key="colour").set_value("RL transition").run())
    assert at.selectbox(key="rl_arm").value == "parallel"               # the arm of the checkpoint shown
    for arm, lang in (("parallel", None), ("mono", "lua")):
        ok(at.selectbox(key="rl_arm").set_value(arm).run())
        ok(at.selectbox(key="rl_lang").set_value(lang or "(each program's own)").run())
        m = maps(at)[0]
        assert f"sft-{arm} → rl-{arm}" in m["title"]
        shown = {t["name"]: t["n"] for t in m["traces"] if t["name"] != "same task"}
        assert set(shown) <= {"fixed", "broken", "both pass", "both fail"} and sum(shown.values()) == 8 * len(LANGS)
        assert shown == dict(Counter(expected_transitions(probed, arm, lang).values()))


def test_a_selection_is_summarised(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    rows = list(range(0, 24, 2))                                          # 12 programs: tasks 0-3, 3 languages each
    at.session_state["selected_rows"] = rows
    ok(at.run())
    text = " ".join(m.value for m in at.markdown if "Selection:" in m.value)
    assert "**Selection: 12 programs** (4 tasks)" in text and "javascript 4" not in text
    assert "python 4" in text and "ruby 4" in text and "lua 4" in text
    exp = expected_transitions(probed, "parallel")
    progs = [json.loads(x) for x in (probed / "probes" / "sft-parallel" / "rows.jsonl").read_text().splitlines()]
    def rate(ckpt):
        v = {(r["task_id"], r["lang"]): r["passed"] for r in map(json.loads, (probed / "evals" / f"{ckpt}.jsonl")
                                                                  .read_text().splitlines())}
        return 100 * sum(v[(progs[i]["task_id"], progs[i]["lang"])] for i in rows) / len(rows)
    assert f"sft-parallel {rate('sft-parallel'):.1f}% → rl-parallel {rate('rl-parallel'):.1f}%" in text
    fixed = sum(exp[(progs[i]["task_id"], progs[i]["lang"])] == "fixed" for i in rows)
    assert (f"fixed {fixed}" in text) == (fixed > 0) and "mean alignment" in text


def test_compare_page_shows_two_aligned_maps_side_by_side(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.sidebar.radio(key="page").set_value("Compare").run())
    assert at.selectbox(key="ckpt_b").value == "rl-parallel"           # the arm's SFT against its RL
    for other in ("base", "rl-parallel"):
        ok(at.selectbox(key="ckpt_b").set_value(other).run())
        a, b = maps(at)[:2]
        assert a["title"].startswith("sft-parallel") and b["title"].startswith(other)
    metrics = table(at, "sft-parallel", "rl-parallel", index="metric")[0]
    assert list(metrics.columns) == ["sft-parallel", "rl-parallel", "rl-parallel − sft-parallel", "intervals overlap"]
    diff = metrics["rl-parallel − sft-parallel"].dropna()
    assert len(diff) and ((metrics["rl-parallel"] - metrics["sft-parallel"]).loc[diff.index] - diff).abs().max() < 1e-9
    ok(at.number_input(key="program").set_value(0).run())
    assert len(table(at, "row", "task", "same task")) == 2          # neighbours in both checkpoints


def test_alignment_page_curves_and_alignment_vs_gain(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.sidebar.radio(key="page").set_value("Alignment").run())
    for curve in at.selectbox(key="curve").options:
        ok(at.selectbox(key="curve").set_value(curve).run())
        curves, gain, per_task = figures(at)[:3]
        lines = [t for t in curves["data"] if t["name"] != "selected layer"]
        assert len(lines) == 8 and all(t["x"] == ["embed", "0", "1"] for t in lines)
        assert curves["layout"]["xaxis"]["type"] == "category"
        mark = [t for t in curves["data"] if t["name"] == "selected layer"][0]      # on the curves' own points
        assert set(mark["x"]) == {"1"} and sorted(mark["y"]) == sorted(t["y"][2] for t in lines)
    assert {t["name"] for t in gain["data"]} == {"mono", "multi", "parallel"}
    assert "8 tasks: alignment of sft-parallel (layer 1) vs RL gain" in per_task["layout"]["title"]["text"]
    assert len(values(per_task["data"][0]["x"])) == 8
    ok(at.multiselect(key="curve_ckpts").set_value(["base", "sft-parallel"]).run())
    assert [t["name"] for t in figures(at)[0]["data"]] == ["base", "sft-parallel", "selected layer"]
    assert len(table(at, "pair", "top1", "top5", "mrr")[0]) == 5     # python -> each other language


def test_cka_page_heatmaps_for_both_estimators(probed, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.sidebar.radio(key="page").set_value("CKA").run())
    for kind in ("debiased", "linear"):
        ok(at.radio(key="cka_kind").set_value(kind).run())
        figs = figures(at)
        assert len(figs) == 4 and all(f["data"][0]["type"] == "heatmap" for f in figs)
        assert [len(f["data"][0]["z"]) for f in figs] == [3, 8, 6, 6]    # layers, checkpoints, languages, difference
        layers = figs[0]["layout"]
        for axis in ("xaxis", "yaxis"):                                    # every layer a row and a column
            assert layers[axis]["type"] == "category" and layers[axis]["categoryarray"] == ["embed", "0", "1"]
        assert figs[3]["layout"]["title"]["text"].startswith("rl-parallel − sft-parallel")


def test_a_run_without_probes_says_so_on_every_page(unprobed, monkeypatch):
    at = open_app(unprobed, monkeypatch)
    for page in ("Map", "Compare", "Alignment", "CKA"):
        ok(at.sidebar.radio(key="page").set_value(page).run())
        assert any("No probes yet" in i.value for i in at.info), page
    ok(at.sidebar.radio(key="page").set_value("Map").run())
    assert table(at, *LANGS, rows=("base",)) and table(at, *LANGS, rows=("mono",))


def test_switching_runs_and_a_path_that_is_not_a_run(probed, unprobed, tmp_path, monkeypatch):
    at = open_app(probed, monkeypatch)
    ok(at.sidebar.text_input(key="run_path").set_value(str(unprobed)).run())
    assert any("No probes yet" in i.value for i in at.info)
    ok(at.sidebar.text_input(key="run_path").set_value(str(tmp_path / "nothing")).run())
    assert any("no such run folder" in e.value for e in at.error)
    ok(at.sidebar.text_input(key="run_path").set_value("").run())
    assert maps(at)


def test_the_run_query_parameter_wins(probed, unprobed, monkeypatch):
    monkeypatch.setenv("PSFT_RUN", str(probed))
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.query_params["run"] = str(unprobed)
    ok(at.run())
    assert at.sidebar.selectbox(key="run").value == str(unprobed)


@pytest.mark.slow
def test_every_page_on_a_real_probed_micro_run(tmp_path_factory, monkeypatch):
    from .micro_run import shared_micro_run
    run = shared_micro_run(tmp_path_factory).root
    at = open_app(run, monkeypatch)
    assert maps(at) and at.sidebar.select_slider(key="layer").options[0] == "embed"
    ok(at.number_input(key="program").set_value(3).run())
    assert at.code and table(at, "language", "rank", "of")
    for page in ("Compare", "Alignment", "CKA"):
        ok(at.sidebar.radio(key="page").set_value(page).run())
        assert maps(at) or figures(at), page
