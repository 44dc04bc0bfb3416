"""A recipe's `[interventions]` table: checked before anything is written (one line naming the key), printed by
`psft config`, listed by the dry run as one stage per (arm, kind) after the report, hashed so that changing
the table re-runs only the intervention stages it concerns (and the report, which shows them), and run by
`psft run --resume` on a finished run without redoing anything else."""
from __future__ import annotations

import json
import shutil

import pytest

from app.cli import main
from app.pipeline import build_graph, dry_run
from app.preflight import BadInput, interventions_config, probe_config
from app.sources import source_for
from app.stages import graph_hashes
from train.recipe import load_recipe

TABLE = {"interventions.arms": '["parallel"]', "interventions.layers": "[-1]"}


def _hashes(recipe) -> dict[str, str]:
    src = source_for(recipe)
    return graph_hashes(build_graph(recipe, src, None, probe_config(recipe, src), interventions_config(recipe, src)))


def _moved(overrides: dict) -> set[str]:
    base = _hashes(load_recipe("micro", TABLE))
    now = _hashes(load_recipe("micro", {**TABLE, **overrides}))
    assert set(now) == set(base)
    return {k for k in base if now[k] != base[k]}


KINDS = ("transplant", "patch", "erase")


def test_without_a_table_there_is_no_intervention_stage_and_no_hash_moves():
    plain = _hashes(load_recipe("micro"))
    with_table = _hashes(load_recipe("micro", TABLE))
    assert not any(k.startswith("interventions-") for k in plain)
    assert [k for k in with_table if k not in plain] == [f"interventions-{k}-parallel" for k in KINDS]
    assert list(with_table)[-4:] == [*(f"interventions-{k}-parallel" for k in KINDS), "report"]   # it shows them
    assert {k: with_table[k] for k in plain if k != "report"} == {k: v for k, v in plain.items() if k != "report"}


def test_a_kind_specific_field_moves_only_that_kinds_stages():
    assert _moved({"interventions.alphas": "[0.5, 1.0]"}) == {"interventions-transplant-parallel", "report"}
    assert _moved({"interventions.probe_tasks": "50"}) == {"interventions-erase-parallel", "report"}
    assert _moved({"interventions.layers": "[0]"}) == {*(f"interventions-{k}-parallel" for k in KINDS), "report"}
    assert _moved({"interventions.n_tasks": "5"}) == {*(f"interventions-{k}-parallel" for k in KINDS), "report"}
    # the probe set's text follows [probe].text unless the table sets it: erase reads it, nothing else does
    assert _moved({"probe.text": '"body"'}) == {"probe", "report", "interventions-erase-parallel"}


def test_an_upstream_change_moves_the_stages_of_the_arms_it_touches():
    assert {"interventions-patch-parallel", "eval-rl-parallel"} <= _moved({"rl.lr": "3e-6"})
    assert _moved({"eval.max_new_tokens": "50"}) >= {f"interventions-{k}-parallel" for k in KINDS}


def test_each_arm_and_kind_is_its_own_stage_reading_the_arms_checkpoints_and_evaluations():
    r = load_recipe("micro", {**TABLE, "interventions.arms": '["parallel", "oracle-lua"]',
                              "interventions.kinds": '["patch", "transplant"]'})
    stages = build_graph(r, source_for(r), None, probe_config(r, source_for(r)), interventions_config(r, source_for(r)))
    names = [s.name for s in stages]
    assert names[names.index("probe") + 1:] == ["interventions-patch-parallel", "interventions-transplant-parallel",
                                                "interventions-patch-oracle-lua", "interventions-transplant-oracle-lua",
                                                "report"]
    by = {s.name: s for s in stages}
    assert by["interventions-patch-oracle-lua"].after == ["sft-parallel", "oracle-lua", "eval-sft-parallel",
                                                          "eval-oracle-lua"]
    assert by["interventions-transplant-oracle-lua"].config["config"]["source_lang"] == "lua"   # its RL's language
    assert by["interventions-transplant-parallel"].config["config"]["group"] == r.analysis.group


@pytest.mark.parametrize("overrides, message", [
    ({"interventions.bogus": "1"}, r"^\[interventions\]\.bogus: unknown key; known: alpha_level, alphas, arms"),
    ({"interventions.kinds": '["steer"]'}, r"^\[interventions\]\.kinds: each must be one of transplant, patch, erase"),
    ({"interventions.arms": '["translate"]'}, r"^\[interventions\]\.arms: 'translate' is not an RL arm of this recipe"),
    ({"interventions.layers": "[5]"}, r"^\[interventions\]: layer 5: the model has 2 decoder layers"),
    ({"interventions.alphas": "[]"}, r"^\[interventions\]\.alphas: must name at least one scale"),
    ({"interventions.n_tasks": "-1"}, r"^\[interventions\]\.n_tasks: must be >= 0"),
    ({"interventions.layers": '"1"'}, r"^\[interventions\]\.layers: expected"),
    ({"interventions.group": '"seen"', "eval.langs": '["python", "lua", "perl"]'},
     r"^\[interventions\]\.group: 'seen' has no language for arm 'parallel'"),
])
def test_a_bad_table_is_one_line_naming_the_key_and_nothing_is_written(overrides, message, tmp_path, capsys):
    r = load_recipe("micro", {**TABLE, **overrides})
    with pytest.raises(BadInput, match=message):
        interventions_config(r, source_for(r))
    sets = [x for k, v in {**TABLE, **overrides}.items() for x in ("--set", f"{k}={v}")]
    assert main(["run", "--recipe", "micro", "--out", str(tmp_path / "run"), *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[interventions]" in err
    assert not (tmp_path / "run").exists()


def test_the_dry_run_lists_the_stages_with_their_commands(tmp_path):
    r = load_recipe("micro", TABLE)
    report = dry_run(r, tmp_path / "out", [tmp_path / "out"], "micro", None, [f"{k}={v}" for k, v in TABLE.items()])
    listed = {s["stage"]: s for s in report["stages"]}
    assert {s: listed[s]["hash"] for s in listed} == _hashes(r) and not report["errors"]
    assert listed["interventions-erase-parallel"]["command"].endswith("--stage interventions-erase-parallel")
    bad = dry_run(load_recipe("micro", {"interventions.bogus": "1"}), tmp_path / "out", [tmp_path / "out"], "micro",
                  None, [])
    assert any(e.startswith("[interventions].bogus") for e in bad["errors"])


def test_psft_config_prints_the_table_resolved_with_help_and_it_loads_back(tmp_path, capsys):
    assert main(["config", "micro", "--set", "interventions.layers=[1]"]) == 0
    text = capsys.readouterr().out
    table = text.split("[interventions]\n", 1)[1]
    assert "\nlayers = [1]" in table and '\n# kinds = ["transplant", "patch", "erase"]' in table   # default: commented
    assert "# # Scales of the transplanted direction.\n# alphas = [1.0]" in table
    (tmp_path / "r.toml").write_text(text)
    again = load_recipe(tmp_path / "r.toml")
    assert interventions_config(again, source_for(again)).layers == (1,)
    assert main(["config", "micro"]) == 0
    assert "[interventions]" not in capsys.readouterr().out       # no table, nothing printed
    assert main(["config", "micro", "--set", "interventions.seed=x"]) == 2


@pytest.mark.slow
def test_resuming_a_finished_run_with_a_table_runs_only_the_intervention_stages(tmp_path_factory, tmp_path):
    pytest.importorskip("nnsight")
    from app.pipeline import run_pipeline

    from .micro_run import shared_micro_run
    run = tmp_path / "micro"
    shutil.copytree(shared_micro_run(tmp_path_factory).root, run)
    r = load_recipe("micro", {**TABLE, "interventions.kinds": '["erase"]', "interventions.n_tasks": "3",
                              "interventions.probe_tasks": "4", "interventions.n_boot": "100"})
    first = run_pipeline(r, run, quiet=True, resume=True)
    assert first.ran == ["interventions-erase-parallel", "report"]
    out = json.loads((run / "interventions" / "erase-parallel.json").read_text())
    assert set(out["conditions"]) == {"vs", "model", "erase.vs.L1", "erase.model.L1"} and out["tasks"]["n"] == 3
    marker = json.loads((run / "stages" / "interventions-erase-parallel.json").read_text())
    assert marker["output"] == "interventions/erase-parallel.json" and marker["seconds"] > 0
    assert run_pipeline(r, run, quiet=True, resume=True).ran == []


def test_the_unedited_pairs_rows_are_kept_by_content_not_by_path(tmp_path):
    """A stage that retrains a checkpoint writes it to the same folder: its kept rows must not be reused."""
    from types import SimpleNamespace

    from app.intervening import baseline_key
    tasks = [SimpleNamespace(id="t1"), SimpleNamespace(id="t2")]
    ecfg = SimpleNamespace(langs=("python", "lua"), max_new_tokens=10, batch_size=4, bf16=False, seed=0)
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "model.safetensors").write_bytes(b"weights")
    key = baseline_key(a, tasks, ecfg, "float32")
    assert baseline_key(b, tasks, ecfg, "float32") == key                       # same bytes elsewhere
    (a / "model.safetensors").write_bytes(b"retrained")
    assert baseline_key(a, tasks, ecfg, "float32") != key
    assert baseline_key(b, tasks[:1], ecfg, "float32") != key                   # other tasks
    assert baseline_key(b, tasks, SimpleNamespace(**{**vars(ecfg), "max_new_tokens": 11}), "float32") != key


def test_the_stage_never_overwrites_a_result_it_did_not_write(tmp_path):
    from app.context import RunContext
    from app.pipeline import RunExists, interventions_stage
    recipe = load_recipe("micro", TABLE)
    ctx = RunContext(recipe, source_for(recipe), tmp_path / "run")
    manual = ctx.root / "interventions" / "patch-parallel.json"
    manual.parent.mkdir(parents=True)
    manual.write_text('{"kind": "patch", "by": "psft intervene"}')
    try:
        with pytest.raises(RunExists, match="not written by the stage interventions-patch-parallel"):
            interventions_stage(ctx, "parallel", "patch", None, 2)
    finally:
        ctx.close()
    assert manual.read_text() == '{"kind": "patch", "by": "psft intervene"}'
