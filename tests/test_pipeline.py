"""One full micro run through `psft run`: the run-folder contract, resume, and refusing to overwrite."""
from __future__ import annotations

import json

import pytest

from app.cli import main

CKPTS = ["base", "sft-mono", "sft-multi", "sft-parallel", "rl-mono", "rl-multi", "rl-parallel", "oracle-lua"]


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    """The session's one micro run (tests/micro_run.py); resuming it changes nothing."""
    from .micro_run import shared_micro_run
    return shared_micro_run(tmp_path_factory).root


@pytest.mark.slow
def test_micro_run_writes_the_run_folder_contract(micro_run):
    cfg = json.loads((micro_run / "config.json").read_text())
    assert cfg["name"] == "micro" and "world" in cfg and "sft" in cfg
    for c in CKPTS:
        assert (micro_run / "checkpoints" / c / "config.json").exists(), c
        assert (micro_run / "checkpoints" / c / "tokenizer.json").exists(), c
        rows = [json.loads(x) for x in (micro_run / "evals" / f"{c}.jsonl").read_text().splitlines()]
        assert rows and {"task_id", "lang", "prompt", "completion", "status"} <= set(rows[0])
    scores = json.loads((micro_run / "scores.json").read_text())
    assert set(scores) == set(CKPTS)
    for per_lang in scores.values():
        assert set(per_lang) >= {"python", "javascript", "ruby", "php", "lua", "perl"}
        for s in per_lang.values():
            assert 0.0 <= s["pass@1"] <= 1.0 and len(s["ci95"]) == 2 and s["n"] > 0
    transfer = json.loads((micro_run / "transfer.json").read_text())
    assert {"mono", "multi", "parallel"} <= {k.removeprefix("rl-") for k in transfer} | set(transfer)
    assert "lua" not in transfer["oracle-lua"]["targets"]["langs"] and "python" in transfer["oracle-lua"]["targets"]["langs"]
    assert transfer["parallel"]["zero_shot"]["langs"] == ["lua", "perl"]
    assert [m["contrast"] for m in transfer["_family"]["members"]] == ["parallel - multi", "parallel - mono"]
    mixtures = json.loads((micro_run / "data" / "sft_mixtures.json").read_text())
    assert mixtures["budget_counts"] == "completion"                  # equal budgets of supervised tokens
    assert all(a["tokens"] == a["completion_tokens"] for a in mixtures["arms"].values())
    events = [json.loads(x) for x in (micro_run / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "run_end" for e in events)


@pytest.mark.slow
def test_resume_skips_finished_stages_and_existing_runs_are_not_overwritten(micro_run, capsys):
    before = (micro_run / "scores.json").read_text()
    assert main(["run", "--recipe", "micro", "--out", str(micro_run), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["run", "--recipe", "micro", "--out", str(micro_run), "--quiet", "--resume"]) == 0
    events = [json.loads(x) for x in (micro_run / "events.jsonl").read_text().splitlines()]
    last = [e for e in events if e["event"] == "run_end"][-1]
    assert last["ran"] == [] and len(last["skipped"]) > 10
    assert (micro_run / "scores.json").read_text() == before


def test_unknown_recipe_is_one_clear_error(capsys, tmp_path):
    assert main(["run", "--recipe", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_set_overrides_a_world_recipe_and_a_bad_value_is_one_clear_error(capsys, tmp_path):
    from train.recipe import load_recipe
    r = load_recipe("micro", {"runtime.bf16_autocast": "false", "eval.dtype": "float32"})
    assert (r.runtime.bf16_autocast, r.eval.dtype) == (False, "float32")
    for item, why in (("runtime.nope=1", "[runtime].nope: unknown key"),
                      ("runtime.bf16_autocast=maybe", "[runtime].bf16_autocast: expected bool"),
                      ("no-equals-sign", "expected KEY=VALUE")):
        assert main(["run", "--recipe", "micro", "--out", str(tmp_path / "x"), "--set", item]) == 2
        err = capsys.readouterr().err
        assert why in err and "Traceback" not in err, err
        assert not (tmp_path / "x").exists()
