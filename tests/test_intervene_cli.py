"""`psft intervene`: on a run folder and on any two checkpoints, it writes interventions/<name>.json with every
condition's pass@1 per language and its paired contrasts (greedy generation through the evaluation's loop,
programs through the sandbox); bad input is one message, exit code 2, nothing written."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from tests import tiny_lm

pytest.importorskip("nnsight")

RECIPE = """
[world]
seed = 0
n_tasks = 200
[runtime]
bf16_autocast = false
threads = 1
[sft]
arms = ["mono", "parallel"]
[eval]
langs = ["python", "lua"]
n_tasks = 12
max_new_tokens = 10
n_boot = 200
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(folder, recipe file, sft checkpoint, rl checkpoint): the RL stand-in is the SFT model with its decoder
    layers perturbed (same embeddings, final norm and head)."""
    import torch
    root = tmp_path_factory.mktemp("intervene")
    tok = tiny_lm.tokenizer()
    sft = tiny_lm.model(tok, layers=2)
    rl = copy.deepcopy(sft)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in rl.model.layers.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    for name, m in (("sft", sft), ("rl", rl)):
        m.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    recipe = root / "tiny.toml"
    recipe.write_text(RECIPE)
    return root, recipe, root / "sft", root / "rl"


@pytest.fixture(scope="module")
def run_folder(pair):
    """A run folder as `psft run` leaves it, as far as `psft intervene` reads it."""
    import shutil

    from train.recipe import load_recipe
    root, recipe, sft, rl = pair
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copytree(sft, run / "checkpoints" / "sft-parallel")
    shutil.copytree(rl, run / "checkpoints" / "rl-parallel")
    (run / "config.json").write_text(json.dumps({**load_recipe(recipe).to_dict(), "seed": 0}))
    return run


def _main(argv):
    from app.cli import main
    return main(["intervene", *argv])


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_intervene_on_a_run_writes_patch_json_with_paired_contrasts(run_folder, capsys):
    assert _main([str(run_folder), "--kind", "patch", "--layers", "-1", "--quiet"]) == 0
    out = run_folder / "interventions" / "patch-parallel.json"
    assert capsys.readouterr().out.strip() == str(out)
    res = json.loads(out.read_text())
    assert res["kind"] == "patch" and res["layers"] == [1] and res["hooks"] == ["blocks.1.hook_resid_post"]
    assert res["checkpoints"]["model"]["name"] == "rl-parallel" and res["checkpoints"]["vs"]["name"] == "sft-parallel"
    assert set(res["conditions"]) == {"vs", "model", "patch.model_into_vs.L1", "patch.vs_into_model.L1"}
    assert res["groups"] == {"targets": ["lua"], "zero_shot": ["lua"]}
    cond = res["conditions"]["patch.model_into_vs.L1"]
    for lang in ("python", "lua"):
        s = cond["scores"][lang]
        assert s["n"] == 12 and s["ci_method"] == "wilson" and s["ci95"][0] <= s["pass@1"] <= s["ci95"][1]
        for side in ("vs_vs", "vs_model"):
            cell = cond[side][lang]
            assert cell["n"] == 12 and cell["interval_unit"] == "tasks" and len(cell["ci95"]) == 2
    assert [m["condition"] for m in res["family"]["members"]] == ["patch.model_into_vs.L1", "patch.vs_into_model.L1"]
    assert cond["vs_vs"]["zero_shot"]["role"] == "confirmatory" and cond["vs_vs"]["python"]["role"] == "exploratory"
    assert len(res["per_task"]["task_ids"]) == 12
    # the last layer's residual carries everything the (shared) head reads: the patched SFT model writes
    # what the RL model writes, and the patched RL model what the SFT model writes, task by task
    rows = _rows(run_folder / "interventions" / "patch-parallel.rows.jsonl")
    by = {(r["condition"], r["task_id"], r["lang"]): r["completion"] for r in rows}
    keys = [(t, la) for c, t, la in by if c == "vs"]
    assert len(keys) == 24
    assert all(by[("patch.model_into_vs.L1", *k)] == by[("model", *k)] for k in keys)
    assert all(by[("patch.vs_into_model.L1", *k)] == by[("vs", *k)] for k in keys)
    assert any(by[("vs", *k)] != by[("model", *k)] for k in keys)
    assert not list((run_folder / "interventions").glob(".*parts"))
    # a second run does not overwrite it
    assert _main([str(run_folder), "--kind", "patch", "--layers", "-1", "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_intervene_transplant_on_two_checkpoints_writes_directions_and_controls(pair, tmp_path, capsys):
    root, recipe, sft, rl = pair
    out = tmp_path / "out"
    assert _main(["--model", str(rl), "--vs", str(sft), "--data", str(recipe), "--kind", "transplant",
                  "--layers", "0", "--alpha", "1", "--delta-tasks", "8", "--out", str(out), "--quiet"]) == 0
    res = json.loads((out / "transplant-rl-vs-sft.json").read_text())
    assert set(res["conditions"]) == {"vs", "model", "transplant.L0.a1", "random.L0.a1", "target.L0.a1"}
    assert res["conditions"]["random.L0.a1"]["role"] == "control"
    assert [m["condition"] for m in res["family"]["members"]] == ["transplant.L0.a1"]
    assert res["delta"]["python"]["L0"]["n_prompts"] == 8 and res["delta"]["python"]["L0"]["norm"] > 0
    assert set(res["delta"]) == {"python", "lua"}          # the target control's own Δ
    assert "share_of_gain" in res["conditions"]["transplant.L0.a1"]
    # the target control in the source language is the transplant itself
    rows = _rows(out / "transplant-rl-vs-sft.rows.jsonl")
    py = {(r["condition"], r["task_id"]): r["completion"] for r in rows if r["lang"] == "python"}
    assert all(py[("target.L0.a1", t)] == c for (cond, t), c in py.items() if cond == "transplant.L0.a1")


@pytest.mark.slow
def test_intervene_erase_reports_the_eraser_checks(pair, tmp_path):
    root, recipe, sft, rl = pair
    out = tmp_path / "out"
    assert _main(["--model", str(rl), "--vs", str(sft), "--data", str(recipe), "--kind", "erase", "--layers", "0",
                  "--probe-tasks", "12", "--out", str(out), "--quiet"]) == 0
    res = json.loads((out / "erase-rl-vs-sft.json").read_text())
    assert set(res["conditions"]) == {"vs", "model", "erase.vs.L0", "erase.model.L0"}
    for receiver in ("vs", "model"):
        e = res["erasure"][receiver]["L0"]
        layer = e["layers"]["L0"]
        assert layer["class_mean_gap_tokens"]["after"] < 1e-4 < layer["class_mean_gap_tokens"]["before"]
        assert layer["language_probe_acc"]["after"] < layer["language_probe_acc"]["before"]
        assert set(layer["retrieval_top1"]["after"]) == {"raw", "centered", "chance"}
        assert e["affine_check_max_abs"] < 1e-4
        assert "L1" in e["layers"]                          # the last layer, read with the eraser in place


@pytest.mark.slow
def test_intervene_on_a_study_pools_the_seeds(pair, run_folder, tmp_path, capsys):
    """Each seed's own JSON, then the pooled one: intervals over seeds and tasks, each seed's value beside."""
    import shutil
    study = tmp_path / "study"
    for s in (0, 1):
        shutil.copytree(run_folder, study / f"seed-{s}", ignore=shutil.ignore_patterns("interventions"))
    # the second seed's "RL" checkpoint is the SFT one itself: a different gain per seed
    shutil.rmtree(study / "seed-1" / "checkpoints" / "rl-parallel")
    shutil.copytree(pair[2], study / "seed-1" / "checkpoints" / "rl-parallel")
    assert _main([str(study), "--kind", "patch", "--layers", "-1", "--quiet"]) == 0
    pooled_path = study / "interventions" / "patch-parallel.json"
    assert capsys.readouterr().out.strip() == str(pooled_path)
    per_seed = [json.loads((study / f"seed-{s}" / "interventions" / "patch-parallel.json").read_text()) for s in (0, 1)]
    pooled = json.loads(pooled_path.read_text())
    assert pooled["seeds"] == [0, 1] and pooled["interval_unit"] == "seeds+tasks"
    cell = pooled["conditions"]["patch.model_into_vs.L1"]["vs_vs"]["python"]
    own = [r["conditions"]["patch.model_into_vs.L1"]["vs_vs"]["python"]["diff"] for r in per_seed]
    assert cell["per_seed"] == pytest.approx(own) and cell["diff"] == pytest.approx(sum(own) / 2)
    assert cell["interval_unit"] == "seeds+tasks" and "df" in cell
    assert pooled["conditions"]["model"]["scores"]["lua"]["method"].startswith("wilson")
    assert [m["condition"] for m in pooled["family"]["members"]] == ["patch.model_into_vs.L1", "patch.vs_into_model.L1"]


@pytest.mark.parametrize("argv, message", [
    ([], "give a run folder, or --model"),
    (["--model", "{rl}"], "compares two checkpoints: give --vs"),
    (["--model", "{rl}", "--vs", "{sft}"], "--model needs --data"),
    (["--model", "{rl}", "--vs", "{root}/nope", "--data", "{recipe}"], "not a model folder"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "no-such-recipe"], "--data no-such-recipe"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--alpha", "1"], "goes with --kind transplant"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--layers", "one"], "expected comma-separated integers"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--layers", "5"], "the model has 2 decoder layers"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--langs", "cobol"], "unknown language(s) cobol"),
    (["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--n-tasks", "-1"], "--n-tasks must be >= 0"),
    (["{root}/no-run"], "no run folder"),
    (["{root}", "--model", "{rl}"], "not both"),
    pytest.param(["--model", "{rl}", "--vs", "{sft}", "--data", "{recipe}", "--device", "cuda"],
                 "no CUDA device is visible here",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is visible here")),
])
def test_intervene_rejects_bad_input_with_one_message(pair, tmp_path, capsys, argv, message):
    root, recipe, sft, rl = pair
    out = tmp_path / "out"
    fill = {"rl": rl, "sft": sft, "root": root, "recipe": recipe}
    argv = [a.format(**fill) for a in argv]
    kind = [] if "--kind" in argv else ["--kind", "patch"]
    assert _main([*argv, *kind, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("psft intervene: error:") and message in err and "\n" not in err
    assert not out.exists() or not any(out.iterdir())
