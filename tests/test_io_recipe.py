"""The bench recipe over a stdin/stdout dataset (`io-smol`, `[io].layout`): its dry run lists the one graph and
checks the data without loading a model; the io-data stage keeps only problems whose references pass; the
tasks judge whole programs in any language, the data files hidden from them; MBXP recipes keep their hashes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.context import RunContext
from app.sources import source_for
from app.sources.io_bench import IOBenchSource, io_data_stage
from evals.benchmarks.io_source import load_io_benchmark
from evals.benchmarks.io_task import IOBenchTask
from train.recipe import load_recipe

from .conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "io"
CC = FIXTURES / "code_contests.jsonl"
LANGS = '["python", "lua", "perl"]'   # rust, in the recipe, may have no runtime here


def _recipe(**sets):
    return load_recipe("io-smol", {"data.mbxp": str(CC), "io.eval_problems": "1", "eval.langs": LANGS, **sets})


def test_the_dry_run_lists_the_graph_and_checks_the_data_without_a_model(tmp_path):
    assert isinstance(source_for(_recipe()), IOBenchSource)
    code = ("import sys; from app.cli import main; rc = main(sys.argv[1:]); "
            "print('IMPORTED', [m for m in ('torch', 'transformers', 'trl') if m in sys.modules], file=sys.stderr); "
            "sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, "run", "--recipe", "io-smol", "--data", str(CC), "--set",
                        "io.eval_problems=1", "--set", f"eval.langs={LANGS}", "--out", str(tmp_path / "out"),
                        "--dry-run"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert "IMPORTED []" in p.stderr
    report = json.loads(p.stdout)
    assert report["errors"] == [] and report["kind"] == "bench"
    names = [s["stage"] for s in report["stages"]]
    assert names[:3] == ["model", "io-data", "sft-data"] and names[-2:] == ["tables", "report"] and "probe" not in names
    data = report["data"]
    assert data["judgeable_problems"] == 3          # the fixture's file-based problem is left out
    assert data["eval"]["problems"] == 1 and data["eval"]["langs_without_references"] == ["lua", "perl"]
    assert (data["sft_candidates_in_all_langs"], data["rl_candidates"]) == (1, 2)
    assert not (tmp_path / "out").exists()


def test_the_dry_run_names_what_the_data_lacks(tmp_path, capsys):
    code = main(["run", "--recipe", "io-smol", "--data", str(FIXTURES / "apps.jsonl"), "--set", "io.layout=apps",
                 "--set", "io.eval_problems=1", "--set", f"eval.langs={LANGS}", "--out", str(tmp_path / "o"),
                 "--dry-run"])
    assert code != 0
    assert "no problem outside the evaluation set has references in all of python, cpp" in capsys.readouterr().err


def test_an_io_recipe_without_data_is_one_clear_error(tmp_path, capsys):
    assert main(["run", "--recipe", "io-smol", "--set", f"eval.langs={LANGS}", "--out", str(tmp_path / "o")]) != 0
    assert "no data: pass --data PATH" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_io_section_enters_the_data_hash_but_not_where_the_files_are(tmp_path):
    a, b = _recipe(), _recipe(**{"io.sft_problems": "7"})
    assert a.stage_hashes()["data"] != b.stage_hashes()["data"]
    moved = load_recipe("io-smol", {"data.mbxp": str(tmp_path / "elsewhere.jsonl"), "io.eval_problems": "1",
                                    "eval.langs": LANGS})
    assert moved.stage_hashes() == a.stage_hashes()


def test_io_data_keeps_problems_whose_references_pass(tmp_path):
    r = _recipe(**{"io.sft_problems": "1"})      # SFT languages: python and cpp
    ctx = RunContext(r, source_for(r), tmp_path)
    try:
        assert io_data_stage(ctx) == {"sft_pool": 1, "rl": 1, "eval": 1}
        from evals.execution import Program  # the run's executor (rewards, evaluation) hides the data files
        peek = ctx.executor().map([Program("python", f"print(open({str(CC.resolve())!r}).read()[:9])")])[0]
        assert not peek.passed and "Sum" not in peek.stdout
    finally:
        ctx.close()
    info = json.loads((tmp_path / "data" / "io_bench.json").read_text())
    assert info["eval"] == ["1_A. Sum of pairs"] and not set(info["eval"]) & set(info["sft_pool"] + info["rl"])
    assert info["sft_pool"] == ["2_B. Circle area"] and info["rl"] == ["3_C. Even or odd"]
    assert info["reference_check"] == {"python": {"checked": 2, "passed": 2}, "cpp": {"checked": 1, "passed": 1}}


def test_a_lua_program_is_judged_by_tests_written_for_no_language(executor):
    from train.rewards import TestReward
    problem = load_io_benchmark("code-contests", CC)[0]          # 1_A: sum of pairs, references in python/cpp/java
    task = IOBenchTask(problem)
    assert "lua" not in task.langs and task.prompt("lua").endswith("```lua\n")
    lua = ('local n = io.read("n")\nfor _ = 1, n do\n  local a, b = io.read("n", "n")\n'
           '  print(string.format("%d", a + b))\nend\n')
    wrong = lua.replace("a + b", "a - b")
    reward = TestReward(executor, [task], mode="fraction")
    got = reward(["", "", ""], [lua + "```\nprose after the fence", wrong + "```", task.solution("python")],
                 [task.id] * 3, ["lua", "lua", "python"])
    assert got[0] == 1.0 and got[1] < 1.0 and got[2] == 1.0
    with pytest.raises(ValueError, match="no lua reference"):
        task.solution("lua")
