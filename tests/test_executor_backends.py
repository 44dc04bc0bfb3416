"""Choosing the executor backend: `[runtime].executor` names one and enters no stage hash, `--executor` is on
`psft score`, `psft eval` and `psft check-bench`, and a Ray backend that cannot start (Ray missing, no
cluster at the address) is one message and exit 2, with nothing written. The Ray backend itself runs on a
real local cluster in `test_ray_executor.py`."""
from __future__ import annotations

import sys

import pytest

from app.cli import build_parser, main
from evals.execution import BACKENDS, open_executor
from evals.execution.sandbox import SandboxUnavailable
from train.bench_recipe import BENCH_BUILTIN, load_bench_recipe
from train.recipe import RecipeError, load_recipe

from .conftest import SHARED_DATA, needs_shared_data


def test_runtime_executor_names_a_backend_and_moves_no_stage_hash():
    assert load_recipe("micro").runtime.executor == "local" and BACKENDS == ("local", "ray")
    assert load_recipe("micro", {"runtime.executor": "ray"}).stage_hashes() == load_recipe("micro").stage_hashes()
    bench = next(iter(BENCH_BUILTIN))
    assert (load_bench_recipe(bench, {"runtime.executor": "ray"}).stage_hashes()
            == load_bench_recipe(bench).stage_hashes())
    with pytest.raises(RecipeError, match=r"^\[runtime\]\.executor: must be one of local, ray"):
        load_recipe("micro", {"runtime.executor": "slurm"})


def test_open_executor_refuses_an_unknown_backend():
    with pytest.raises(ValueError, match="unknown executor backend 'slurm'"):
        open_executor("slurm")


@pytest.mark.parametrize("command", [["score", "--bench", "mbxp", "--data", "d", "--completions", "c"],
                                     ["eval", "--model", "m", "--bench", "mbxp"],
                                     ["check-bench", "--bench", "mbxp", "--data", "d"]])
def test_score_eval_and_check_bench_take_the_executor_backend(command, capsys):
    parser = build_parser()
    assert parser.parse_args(command).executor == "local"
    assert parser.parse_args([*command, "--executor", "ray"]).executor == "ray"
    with pytest.raises(SystemExit):
        parser.parse_args([*command, "--executor", "slurm"])
    assert "invalid choice: 'slurm'" in capsys.readouterr().err


def test_the_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # what `import ray` meets where Ray is not installed
    with pytest.raises(SandboxUnavailable, match=r"needs Ray: pip install 'parallel-sft-lab\[dist\]'"):
        open_executor("ray")


@pytest.mark.data
@needs_shared_data
def test_score_on_ray_with_no_cluster_is_one_message_exit_2_nothing_written(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (the [dist] extra); its absence has its own test")
    import ray
    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")   # nothing listens on port 1
    comp = tmp_path / "c.jsonl"
    comp.write_text('{"task_id": "MBPP/11", "completion": "    return 1\\n"}\n')
    out = tmp_path / "verdicts.jsonl"
    code = main(["score", "--bench", "mbxp", "--data", str(SHARED_DATA / "mbxp"), "--langs", "python",
                 "--completions", str(comp), "--out", str(out), "--executor", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "no Ray cluster answers at 127.0.0.1:1" in err and "ray start --head" in err
    assert "Traceback" not in err and not out.exists()


def test_the_ray_backend_refuses_to_run_programs_outside_bubblewrap():
    pytest.importorskip("ray", reason="Ray is not installed (the [dist] extra); its absence has its own test")
    # Ray's ports take work from anyone who reaches them: a program with the network could use the cluster.
    with pytest.raises(SandboxUnavailable, match="only in bubblewrap"):
        open_executor("ray", sandbox_level="process")


def test_a_run_on_ray_with_no_cluster_stops_before_writing_anything(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray", reason="Ray is not installed (the [dist] extra); its absence has its own test")
    import ray
    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    out = tmp_path / "run"
    code = main(["run", "--recipe", "micro", "--set", "runtime.executor=ray", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "[runtime].executor = 'ray': no Ray cluster answers at 127.0.0.1:1" in err, err
    assert not out.exists()
