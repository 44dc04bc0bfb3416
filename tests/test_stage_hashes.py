"""Stage hashes depend on their inputs only, and precision has one knob. Each test here failed before
its fix: an [rl] change re-ran eval-base and eval-sft-* (their hash chained [rl]); [eval].n_boot did not
reach the transfer table; `--set runtime.bf16_autocast=false` left the study's RL in bf16."""
from __future__ import annotations

import json
import shutil

import pytest

from app.cli import main


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    from .micro_run import shared_micro_run
    return shared_micro_run(tmp_path_factory).root


def _last_run_end(root):
    events = [json.loads(x) for x in (root / "events.jsonl").read_text().splitlines()]
    return [e for e in events if e["event"] == "run_end"][-1]


@pytest.mark.slow
def test_an_rl_change_reruns_rl_and_what_reads_it_not_the_other_evaluations(micro_run, tmp_path):
    root = tmp_path / "micro"
    shutil.copytree(micro_run, root)
    base_rows = (root / "evals" / "base.jsonl").read_text()
    assert main(["run", "--recipe", "micro", "--out", str(root), "--quiet", "--resume",
                 "--set", "rl.lr=2e-5", "--set", "eval.n_boot=300"]) == 0
    end = _last_run_end(root)
    ran, skipped = set(end["ran"]), set(end["skipped"])
    assert {"eval-base", "eval-sft-mono", "eval-sft-multi", "eval-sft-parallel"} <= skipped
    assert {"rl-mono", "rl-multi", "rl-parallel", "oracle-lua", "eval-rl-mono", "tables"} <= ran
    assert (root / "evals" / "base.jsonl").read_text() == base_rows
    cfg = json.loads((root / "config.json").read_text())
    assert cfg["rl"]["lr"] == 2e-5 and cfg["eval"]["n_boot"] == 300
    methods = [cell["method"] for arm, per in json.loads((root / "transfer.json").read_text()).items()
               if isinstance(per, dict) and not arm.startswith("_")
               for cell in per.values() if "paired bootstrap" in str(cell.get("method"))]
    assert methods and all("B=300" in m for m in methods)


def test_rl_and_eval_precision_follow_the_runtime_knob_unless_set():
    from train.bench_recipe import load_bench_recipe
    from train.recipe import load_recipe
    study = load_recipe("study", {"runtime.bf16_autocast": "true"})
    assert (study.runtime.bf16_autocast, study.rl.bf16, study.eval.dtype) == (True, True, "bfloat16")
    fp32 = load_recipe("study")
    assert (fp32.rl.bf16, fp32.eval.dtype) == (False, "float32")
    exception = load_recipe("toy", {"runtime.bf16_autocast": "false", "rl.bf16": "true", "eval.dtype": "bfloat16"})
    assert (exception.rl.bf16, exception.eval.dtype) == (True, "bfloat16")
    # the resolved values are what config.json records and the hashes cover
    assert fp32.to_dict()["rl"]["bf16"] is False and fp32.stage_hashes()["rl"] != study.stage_hashes()["rl"]
    assert load_bench_recipe("smol").rl.bf16 is False            # smol: runtime.bf16_autocast = false
    assert load_bench_recipe("paper").rl.bf16 is True             # paper: set in [rl]


def test_bf16_on_a_cpu_that_emulates_it_gets_one_note(tmp_path):
    from app.preflight import cpu_has_native_bf16, precision_note
    from train.recipe import load_recipe
    info = tmp_path / "cpuinfo"
    info.write_text("flags\t\t: fpu sse2 avx2 avx512f\n")
    assert cpu_has_native_bf16(info) is False
    info.write_text("flags\t\t: fpu avx512f avx512_bf16\n")
    assert cpu_has_native_bf16(info) is True
    assert cpu_has_native_bf16(tmp_path / "absent") is None
    note = precision_note(load_recipe("study", {"runtime.bf16_autocast": "true"}), native=False)
    assert note and "runtime.bf16_autocast, rl.bf16, eval.dtype" in note and "--set runtime.bf16_autocast=false" in note
    assert precision_note(load_recipe("study", {"runtime.bf16_autocast": "true"}), native=True) is None
    assert precision_note(load_recipe("study"), native=False) is None
