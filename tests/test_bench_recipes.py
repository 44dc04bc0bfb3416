"""Bench recipes (smol-micro, smol, paper): they load, keep MBXP's test numbers out of training, and the
paper recipe's dry run checks the whole GPU plan on a CPU without importing torch or writing anything."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from train.bench_recipe import BENCH_BUILTIN, is_bench_recipe, load_bench_recipe
from train.recipe import RecipeError


@pytest.mark.parametrize("name", [n for n in BENCH_BUILTIN if not load_bench_recipe(n).io.layout])   # MBXP ones
def test_bench_recipes_load_and_train_only_on_train_and_validation_numbers(name):
    r = load_bench_recipe(name)
    assert is_bench_recipe(name) and r.kind == "bench" and r.rl.lang == "python"
    for lo, hi in r.data.sft_ids + r.data.rl_ids:
        assert 511 <= lo <= hi <= 974
    assert r.sft.lora and r.rl.lora
    if name != "smol-micro":
        assert set(r.sft.parallel_langs) == {"python", "javascript", "typescript", "ruby", "php", "cpp", "java"}
        assert "go" in r.eval.humaneval_langs and "perl" in r.eval.langs   # targets no SFT arm sees
    if name == "paper":
        assert r.rl.use_vllm and r.launch.num_processes == 8 and r.accelerate_config().is_file()


def test_world_recipes_are_not_bench_recipes(tmp_path):
    assert not is_bench_recipe("micro")
    path = tmp_path / "x.toml"
    path.write_text('kind = "bench"\n[sft]\nlrr = 1\n')
    assert is_bench_recipe(path)
    with pytest.raises(RecipeError, match=r"^\[sft\]\.lrr: unknown key"):
        load_bench_recipe(path)
    with pytest.raises(RecipeError, match=r"^\[rl\]\.lang: 'lua' is in no SFT arm"):
        load_bench_recipe("smol", {"rl.lang": "lua"})


def _dry_run(*extra: str) -> subprocess.CompletedProcess:
    code = ("import sys; from app.cli import main; rc = main(sys.argv[1:]); "
            "print('IMPORTED', [m for m in ('torch', 'transformers', 'trl', 'vllm') if m in sys.modules], "
            "file=sys.stderr); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, "run", "--recipe", "paper", "--dry-run", *extra],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.data
def test_paper_dry_run_validates_the_plan_without_loading_anything(shared_data, tmp_path):
    out = tmp_path / "paper"
    p = _dry_run("--data", str(shared_data / "mbxp"), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "IMPORTED []" in p.stderr and not out.exists()
    plan = json.loads(p.stdout)
    assert plan["errors"] == [] and len(plan["runs"]) == 3
    assert plan["model"]["params"] > 8e9 and "hub id" in plan["model"]["source"]
    assert plan["data"]["sft_candidates_in_all_langs"] > 100 and plan["data"]["rl_candidates"] == 90
    assert plan["data"]["eval"]["multi-humaneval"]["problems"] > 150   # found beside the MBXP folder
    stages = {s["stage"]: s["command"] for s in plan["stages"]}
    assert stages["sft-parallel"].startswith("accelerate launch --config_file ")
    assert "paper_accelerate.yaml --num_processes 8 -m app.cli run --recipe paper" in stages["sft-parallel"]
    assert stages["rl-mono"].endswith("--stage rl-mono") and stages["eval-base"].startswith("psft run")
    est = plan["estimates"]
    assert 16 < est["sft_per_gpu_gb"] < 80 and 16 < est["rl_per_gpu_gb"] < 80


@pytest.mark.data
def test_dry_run_names_what_is_wrong(shared_data, tmp_path):
    p = _dry_run("--data", str(shared_data / "mbxp"), "--out", str(tmp_path / "p"),
                 "--set", "launch.num_processes=3", "--set", "model.name=no such model",
                 "--set", "rl.per_device_train_batch_size=64")
    assert p.returncode == 2
    assert "num_processes: 3 but paper_accelerate.yaml says num_processes: 8" in p.stderr
    assert "[model].name: 'no such model' is neither" in p.stderr
    assert "estimated rl_per_gpu_gb" in p.stderr and "exceeds [launch].gpu_memory_gb = 80.0" in p.stderr
    p = _dry_run("--data", str(tmp_path / "nowhere"))
    assert p.returncode == 2 and "[data].mbxp" in p.stderr and "Traceback" not in p.stderr
