"""The lexical control probe set: the same tasks with per-language identifiers, captured and measured like
the main set into metrics.json's "control" (real tiny checkpoints through `psft probe`); the model-free
overlap measure it answers (app/overlap.py); and the control's dashed curves in the alignment charts."""
from __future__ import annotations

import json
import shutil

import pytest

from app.cli import main
from tests import tiny_lm

from .test_probe_cli import FIELDS, check_layer, check_layout, make_run

LANGS = ["python", "javascript", "lua"]
CKPTS = ["sft-mono", "sft-parallel"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "tiny", ckpts=CKPTS)


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_the_control_block_has_the_main_layout_on_renamed_programs(run, capsys):
    code = main(["probe", str(run), "--n-tasks", "6", "--langs", ",".join(LANGS), "--n-boot", "30",
                 "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metrics = check_layout(run, CKPTS, LANGS, 6)
    assert metrics["meta"]["naming"] == "shared" and metrics["meta"]["config"]["lexical_control"] is True
    assert metrics["meta"]["control"]["naming"] == "per_language"
    control = metrics["control"]
    assert set(control) == set(metrics) - {"control"}
    assert control["meta"]["naming"] == "per_language" and "control" not in control["meta"]
    assert control["meta"]["layers"] == metrics["meta"]["layers"] and control["meta"]["n_tasks"] == 6
    assert metrics["meta"]["poolings"] == ["mean", "last"] and control["meta"]["poolings"] == ["mean"]   # the tests' pooling
    pairs = {f"{a}->{b}" for a in LANGS for b in LANGS if a != b}
    for c in CKPTS:
        for pooling in ("mean",):
            for norm in metrics["meta"]["norms"]:
                for hook in metrics["meta"]["layers"]:
                    m = control["checkpoints"][c][pooling][norm][hook]
                    assert list(m) == FIELDS + ["excess_over_bag_of_tokens"]
                    check_layer(m, pairs, LANGS, norm, 6)
    assert list(control["baselines"]) == ["bag_of_tokens"]
    assert {t["name"] for t in control["tests"]} == {t["name"] for t in metrics["tests"]}
    # the control rows: the main rows' tasks and languages in the same order, with per-language names
    from evals.world import World, WorldConfig
    from probe.programs import world_code
    own = World(WorldConfig(seed=0, n_tasks=200, naming="per_language"))
    for c in CKPTS:
        main_rows = _rows(run / "probes" / c / "rows.jsonl")
        rows = _rows(run / "probes" / "control" / c / "rows.jsonl")
        assert [(r["task_id"], r["lang"]) for r in rows] == [(r["task_id"], r["lang"]) for r in main_rows]
        assert all(r["code"] == world_code(own.get(r["task_id"]), r["lang"]) for r in rows)
        assert sum(r["code"] != m["code"] for r, m in zip(rows, main_rows)) == len(rows)
    assert sorted(p.name for p in (run / "probes").iterdir() if p.is_dir()) == sorted(CKPTS + ["control"])
    # its baseline is the bag of tokens of its own rows
    from transformers import AutoTokenizer

    from probe.baselines import bag_of_tokens_metrics
    from probe.config import ProbeConfig
    rows = _rows(run / "probes" / "control" / "sft-mono" / "rows.jsonl")
    tok = AutoTokenizer.from_pretrained(run / "checkpoints" / "sft-mono")
    again = bag_of_tokens_metrics([r["code"] for r in rows], [r["lang"] for r in rows], [r["task_id"] for r in rows],
                                  ProbeConfig(n_boot=30), tokenizer=tok, max_tokens=512)
    for norm in metrics["meta"]["norms"]:
        assert again[norm]["retrieval_mean"] == control["baselines"]["bag_of_tokens"][norm]["retrieval_mean"]
    # a run folder's report reads it through Run
    from app.rundata import open_run
    r = open_run(run)
    assert r.control and r.layer_metrics("sft-mono", "mean", "raw", control=True)["embed"] == \
        control["checkpoints"]["sft-mono"]["mean"]["raw"]["hook_embed"]
    assert r.probe_ckpts == CKPTS                                    # probes/control is not a checkpoint


def test_the_control_can_be_turned_off_and_is_refused_for_a_benchmark(run, tmp_path, capsys):
    out = tmp_path / "off"
    shutil.copytree(run, out, ignore=shutil.ignore_patterns("probes"))
    code = main(["probe", str(out), "--n-tasks", "4", "--langs", "python,lua", "--pooling", "mean", "--n-boot", "20",
                 "--threads", "1", "--no-lexical-control", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "probes" / "metrics.json").read_text())
    assert "control" not in metrics and "control" not in metrics["meta"] and not (out / "probes" / "control").exists()
    assert main(["probe", str(tmp_path / "mb"), "--model", str(run / "checkpoints" / "sft-mono"), "--data", "x",
                 "--lexical-control", "--quiet"]) == 2
    assert "none to rename" in capsys.readouterr().err
    from app.preflight import BadInput, probe_config
    from app.sources import source_for
    from train.recipe import load_recipe
    smol = load_recipe("smol", {"probe.lexical_control": "true"})
    with pytest.raises(BadInput, match="lexical_control"):
        probe_config(smol, source_for(smol))


def test_per_language_naming_lowers_the_lexical_overlap_of_translations():
    from app.overlap import overlap
    from evals.world import WorldConfig
    res = overlap(WorldConfig(seed=0, n_tasks=600), tiny_lm.tokenizer(), "test", 60, "body", n_boot=50)
    shared, own = res["shared"], res["per_language"]
    assert shared["n_tasks"] == own["n_tasks"] == 60
    for norm in ("raw", "centered"):
        assert own["bag_of_tokens"][norm]["top1"]["value"] < shared["bag_of_tokens"][norm]["top1"]["value"]
    assert own["token_jaccard"] < shared["token_jaccard"] and own["identifier_jaccard"] < 0.5 * shared["identifier_jaccard"]


def test_alignment_curves_draw_the_control_dashed_beside_each_checkpoint(tmp_path):
    from app import charts
    from app.rundata import open_run
    (tmp_path / "probes").mkdir()
    (tmp_path / "config.json").write_text("{}")

    def layer(v):
        return {"retrieval_mean": {"top1": {"value": v, "ci95": [v - 0.1, v + 0.1]}}}

    def block(a, b, bag):
        return {"checkpoints": {c: {"mean": {"centered": {"hook_embed": layer(a + i), "blocks.0.hook_resid_post": layer(b + i)}}}
                                for i, c in enumerate(CKPTS)},
                "baselines": {"bag_of_tokens": {"centered": {"retrieval_mean": {"top1": {"value": bag, "ci95": None}}}}}}
    metrics = {"meta": {"norms": ["centered"]}, **block(0.3, 0.2, 0.44), "control": block(0.1, 0.15, 0.05)}
    (tmp_path / "probes" / "metrics.json").write_text(json.dumps(metrics))
    fig = charts.layer_curves([open_run(tmp_path)], "retrieval_top1", "mean", "centered", ckpts=CKPTS)
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"sft-mono", "sft-parallel", "sft-mono · control", "sft-parallel · control"}
    for i, c in enumerate(CKPTS):
        main_t, ctrl = traces[c], traces[f"{c} · control"]
        assert main_t.line.dash == "solid" and ctrl.line.dash == "dash" and ctrl.line.color == main_t.line.color
        assert list(ctrl.y) == pytest.approx([0.1 + i, 0.15 + i]) and list(main_t.y) == pytest.approx([0.3 + i, 0.2 + i])
    assert sorted(s.y0 for s in fig.layout.shapes) == [0.05, 0.44]
    assert sorted(a.text for a in fig.layout.annotations) == ["bag of tokens", "bag of tokens · control"]
    # no control block: no dashed curves
    del metrics["control"]
    (tmp_path / "probes" / "metrics.json").write_text(json.dumps(metrics))
    fig = charts.layer_curves([open_run(tmp_path)], "retrieval_top1", "mean", "centered", ckpts=CKPTS)
    assert [t.name for t in fig.data] == CKPTS and len(fig.layout.shapes) == 1
