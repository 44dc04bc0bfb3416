"""`psft score`: completions from a JSONL file run through the real sandboxed executor against MBXP's own
tests; verdict rows in input order, pass@1 with a Wilson interval, and one clear error (exit 2, nothing
written, nothing run) for bad input. Also `wilson_interval` itself."""
from __future__ import annotations

import doctest
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evals.scoring.wilson as wilson_module
from app.cli import main
from evals.scoring import wilson_interval

from .conftest import REPO, SHARED_DATA, needs_shared_data

MBXP = SHARED_DATA / "mbxp"


def _references(file: str, n: int, first: int = 11) -> list[dict]:
    """The first `n` MBXP problems of a file, from number `first` on, that have a reference solution."""
    out = []
    with open(MBXP / file, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["canonical_solution"] and int(row["task_id"].split("/")[1]) >= first:
                out.append(row)
            if len(out) == n:
                break
    return out


def _as_completions(rows: list[dict]) -> list[dict]:
    return [{"task_id": r["task_id"], "completion": r["canonical_solution"]} for r in rows]


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _score(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["score", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


WRONG_PY = "    return None\n"   # any MBPP test asserting a value fails on it


# ---------------------------------------------------------------- verdicts

@pytest.mark.data
@needs_shared_data
def test_reference_solutions_as_completions_pass_in_python_and_ruby(tmp_path, capsys):
    rows = _as_completions(_references("mbpp_release_v1.jsonl", 8) + _references("mbrbp_release_v1.2.jsonl", 8))
    comp = _write(tmp_path / "refs.jsonl", rows)
    out = tmp_path / "verdicts.jsonl"
    code, stdout, _ = _score(capsys, "--bench", "mbxp", "--data", str(MBXP), "--completions", str(comp),
                             "--out", str(out), "--json", "--workers", "2", "--timeout", "20")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["python"]["n"] == summary["python"]["passed"] == 8, _read_rows(out)
    assert summary["ruby"]["n"] == summary["ruby"]["passed"] == 8, _read_rows(out)
    verdicts = _read_rows(out)
    assert [v["status"] for v in verdicts] == ["passed"] * 16
    assert all(v["passed"] is True for v in verdicts)


@pytest.mark.data
@needs_shared_data
def test_a_wrong_completion_fails_and_its_row_carries_the_tests_error(tmp_path, capsys):
    ref = _references("mbpp_release_v1.jsonl", 1)[0]
    comp = _write(tmp_path / "c.jsonl", [{"task_id": ref["task_id"], "completion": WRONG_PY}])
    out = tmp_path / "v.jsonl"
    code, stdout, _ = _score(capsys, "--bench", "mbxp", "--data", str(MBXP / "mbpp_release_v1.jsonl"),
                             "--completions", str(comp), "--out", str(out), "--json", "--timeout", "20")
    assert code == 0    # scoring worked; the completion did not
    assert json.loads(stdout)["python"]["passed"] == 0
    [row] = _read_rows(out)
    assert row["task_id"] == ref["task_id"] and row["lang"] == "python"
    assert row["status"] == "failed" and row["passed"] is False
    assert "AssertionError" in row["stderr"] and row["detail"]
    assert set(row) == {"task_id", "lang", "status", "passed", "stdout", "stderr", "detail"}


@pytest.mark.data
@needs_shared_data
def test_rows_keep_input_order_and_count_when_programs_repeat(tmp_path, capsys):
    a, b, c = _references("mbpp_release_v1.jsonl", 3)
    js = _references("mbjsp_release_v1.2.jsonl", 1)[0]
    # a, b, a (identical program), js, c, b wrong, a (identical again), b (identical to the first b)
    order = [(a, None), (b, None), (a, None), (js, None), (c, None), (b, WRONG_PY), (a, None), (b, None)]
    rows = [{"task_id": r["task_id"], "completion": wrong or r["canonical_solution"]} for r, wrong in order]
    comp = _write(tmp_path / "c.jsonl", rows)
    out = tmp_path / "v.jsonl"
    code, stdout, _ = _score(capsys, "--bench", "mbxp", "--data", str(MBXP), "--langs", "python,javascript",
                             "--completions", str(comp), "--out", str(out), "--json", "--timeout", "20")
    assert code == 0
    verdicts = _read_rows(out)
    assert [v["task_id"] for v in verdicts] == [r["task_id"] for r in rows]
    assert [v["lang"] for v in verdicts] == ["python"] * 3 + ["javascript"] + ["python"] * 4
    assert [v["passed"] for v in verdicts] == [True, True, True, True, True, False, True, True]
    assert verdicts[0] == verdicts[2] == verdicts[6]     # one run, the same verdict on every copy
    summary = json.loads(stdout)
    assert summary["python"]["n"] == 7 and summary["python"]["passed"] == 6
    assert (summary["javascript"]["n"], summary["javascript"]["passed"]) == (1, 1)


@pytest.mark.data
@needs_shared_data
def test_one_worker_runs_programs_one_at_a_time_in_input_order(tmp_path, capsys):
    refs = _references("mbpp_release_v1.jsonl", 5)
    stamp = "\nimport time as _t\nprint('start', _t.time_ns())\n_t.sleep(0.2)\nprint('end', _t.time_ns())\n"
    rows = [{"task_id": r["task_id"], "completion": r["canonical_solution"] + stamp} for r in reversed(refs)]
    comp = _write(tmp_path / "c.jsonl", rows)
    out = tmp_path / "v.jsonl"
    code, _, _ = _score(capsys, "--bench", "mbxp", "--data", str(MBXP / "mbpp_release_v1.jsonl"),
                        "--completions", str(comp), "--out", str(out), "--json", "--workers", "1")
    assert code == 0
    verdicts = _read_rows(out)
    assert [v["task_id"] for v in verdicts] == [r["task_id"] for r in rows]
    spans = []
    for v in verdicts:
        assert v["passed"], v
        stamps = dict(line.split() for line in v["stdout"].splitlines() if line.startswith(("start", "end")))
        spans.append((int(stamps["start"]), int(stamps["end"])))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end < start     # each program ended before the next one (the next input row) started


# ---------------------------------------------------------------- output formats

@pytest.mark.data
@needs_shared_data
def test_json_is_one_object_of_n_passed_pass_at_1_and_a_wilson_interval(tmp_path):
    rows = _as_completions(_references("mbrbp_release_v1.2.jsonl", 4))
    rows[1]["completion"] = "  return nil\nend\n"
    comp = _write(tmp_path / "c.jsonl", rows)
    proc = subprocess.run([sys.executable, "-m", "app.cli", "score", "--bench", "mbxp", "--data",
                           str(MBXP / "mbrbp_release_v1.2.jsonl"), "--completions", str(comp), "--json",
                           "--timeout", "20"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)           # exactly one JSON document on stdout
    assert list(summary) == ["ruby"]
    ruby = summary["ruby"]
    assert set(ruby) == {"n", "passed", "pass@1", "ci95"}
    assert ruby["n"] == 4 and ruby["passed"] == 3 and ruby["pass@1"] == pytest.approx(0.75)
    lo, hi = ruby["ci95"]
    assert (lo, hi) == pytest.approx(wilson_interval(3, 4))
    assert 0 <= lo < ruby["pass@1"] < hi <= 1


@pytest.mark.data
@needs_shared_data
def test_table_names_each_language_with_its_counts(tmp_path, capsys):
    rows = _as_completions(_references("mbpp_release_v1.jsonl", 2))
    rows.append({"task_id": rows[0]["task_id"], "completion": WRONG_PY})
    comp = _write(tmp_path / "c.jsonl", rows)
    code, stdout, _ = _score(capsys, "--bench", "mbxp", "--data", str(MBXP), "--langs", "python",
                             "--completions", str(comp), "--timeout", "20")
    assert code == 0
    assert "pass@1" in stdout and "95% CI" in stdout
    line = next(x for x in stdout.splitlines() if x.startswith("python "))
    assert line.split()[1:4] == ["3", "2", "66.7"]
    assert "not passed python: failed 1" in stdout


def test_a_task_id_in_several_languages_needs_its_lang(tmp_path, capsys):
    data = _write(tmp_path / "tiny_multipl_e.jsonl", [
        {"name": "HumanEval_0_double", "language": "py", "prompt": "def double(x):\n", "stop_tokens": [],
         "tests": "\nassert double(2) == 4\n"},
        {"name": "HumanEval_0_double", "language": "rb", "prompt": "def double(x)\n", "stop_tokens": [],
         "tests": "\nraise 'wrong' unless double(2) == 4\n"}])
    ambiguous = _write(tmp_path / "a.jsonl", [{"task_id": "HumanEval_0_double", "completion": "    return 2 * x\n"}])
    code, _, err = _score(capsys, "--bench", "multipl-e", "--data", str(data), "--completions", str(ambiguous))
    assert code == 2
    assert "a.jsonl:1: task 'HumanEval_0_double' is in several languages (python, ruby)" in err
    given = _write(tmp_path / "g.jsonl", [
        {"task_id": "HumanEval_0_double", "lang": "rb", "completion": "  2 * x\nend\n"},
        {"task_id": "HumanEval_0_double", "lang": "python", "completion": "    return 2 * x\n"},
        {"task_id": "HumanEval_0_double", "lang": "py", "completion": "    return x\n"}])
    out = tmp_path / "v.jsonl"
    code, stdout, err = _score(capsys, "--bench", "multipl-e", "--data", str(data), "--completions", str(given),
                               "--out", str(out), "--json")
    assert code == 0, err
    assert [(v["lang"], v["passed"]) for v in _read_rows(out)] == [("ruby", True), ("python", True),
                                                                    ("python", False)]
    assert list(json.loads(stdout)) == ["ruby", "python"]


# ---------------------------------------------------------------- bad input

GOOD = {"task_id": "MBPP/11", "completion": "    return s\n"}
SLOW = {"task_id": "MBPP/12", "completion": "    import time\n    time.sleep(30)\n"}


@pytest.mark.parametrize("lines,extra,message", [
    ([GOOD, "{not json"], [], "c.jsonl:3: malformed JSON"),
    ([GOOD, "[1, 2]"], [], "c.jsonl:3: expected a JSON object"),
    ([GOOD, {"completion": "x"}], [], "c.jsonl:3: missing field 'task_id'"),
    ([GOOD, {"task_id": "MBPP/13"}], [], "c.jsonl:3: missing field 'completion'"),
    ([GOOD, {"task_id": "MBPP/13", "completion": 3}], [], "c.jsonl:3: field 'completion' should be a string"),
    ([GOOD, {"task_id": "MBPP/13", "completion": None}], [], "c.jsonl:3: field 'completion' should be a string, got null"),
    ([GOOD, {"task_id": "MBPP/99999", "completion": "x"}], [], "c.jsonl:3: unknown mbxp task 'MBPP/99999'"),
    ([GOOD, {"task_id": "MBPP/13", "completion": "x", "lang": "klingon"}], [],
     "c.jsonl:3: unknown language 'klingon'"),
    ([GOOD, {"task_id": "MBPP/13", "completion": "x", "lang": "ruby"}], [],
     "c.jsonl:3: no mbxp task 'MBPP/13' in ruby (it is in python)"),
    ([GOOD, {"task_id": "MBJSP/13", "completion": "x"}], ["--langs", "python"],
     "c.jsonl:3: unknown mbxp task 'MBJSP/13'; only python loaded (--langs)"),
    ([], [], "c.jsonl: no completions"),
    ([GOOD], ["--timeout", "0"], "--timeout must be > 0"),
    ([GOOD], ["--workers", "0"], "--workers must be >= 1"),
])
@pytest.mark.data
@needs_shared_data
def test_bad_completions_are_one_message_exit_2_and_nothing_written_or_run(tmp_path, capsys, lines, extra,
                                                                            message):
    comp = _write(tmp_path / "c.jsonl", [SLOW, *lines] if lines else [])   # a valid slow row first: never run
    out = tmp_path / "v.jsonl"
    t0 = time.monotonic()
    code, stdout, err = _score(capsys, "--bench", "mbxp", "--data", str(MBXP), "--completions", str(comp),
                               "--out", str(out), "--timeout", "60", *extra)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert stdout == "" and not out.exists() and list(tmp_path.iterdir()) == [comp]
    assert time.monotonic() - t0 < 15     # the 30 s program never ran


@pytest.mark.data
@needs_shared_data
def test_missing_data_or_completions_file_is_named(tmp_path, capsys):
    comp = _write(tmp_path / "c.jsonl", [GOOD])
    code, _, err = _score(capsys, "--bench", "mbxp", "--data", str(tmp_path / "nope"), "--completions", str(comp))
    assert code == 2 and f"{tmp_path / 'nope'}: no such file" in err and err.count("\n") == 1
    code, _, err = _score(capsys, "--bench", "mbxp", "--data", str(MBXP), "--completions", str(tmp_path / "x.jsonl"))
    assert code == 2 and f"{tmp_path / 'x.jsonl'}: no such file" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [comp]


@pytest.mark.data
@needs_shared_data
def test_an_existing_out_file_is_kept_unless_force(tmp_path, capsys):
    comp = _write(tmp_path / "c.jsonl", _as_completions(_references("mbpp_release_v1.jsonl", 1)))
    out = tmp_path / "v.jsonl"
    out.write_text("earlier verdicts\n")
    argv = ["--bench", "mbxp", "--data", str(MBXP / "mbpp_release_v1.jsonl"), "--completions", str(comp),
            "--out", str(out), "--json", "--timeout", "20"]
    code, stdout, err = _score(capsys, *argv)
    assert code == 2 and f"--out {out}: already exists (pass --force to overwrite)" in err and stdout == ""
    assert out.read_text() == "earlier verdicts\n"
    code, _, err = _score(capsys, *argv, "--force")
    assert code == 0, err
    [row] = _read_rows(out)
    assert row["passed"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "v.jsonl"]   # no temporary file left


@pytest.mark.data
@needs_shared_data
def test_a_language_without_a_runner_is_refused_before_running(tmp_path, capsys):
    comp = _write(tmp_path / "c.jsonl", [{"task_id": "HumanEval/0", "completion": "    return False\n"},
                                         {"task_id": "HumanEval_kotlin/0", "completion": "false\n}\n"}])
    code, _, err = _score(capsys, "--bench", "multi-humaneval", "--data", str(SHARED_DATA / "multilingual_humaneval"),
                          "--completions", str(comp))
    assert code == 2
    assert "c.jsonl:2: HumanEval_kotlin/0 (kotlin) cannot run here: no runner for 'kotlin'" in err
    assert err.count("\n") == 1


# ---------------------------------------------------------------- the Wilson interval

def test_wilson_interval_examples_in_its_docstring_hold():
    result = doctest.testmod(wilson_module)
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("n,p", [(20, 0.5), (50, 0.3), (100, 0.9)])
def test_wilson_interval_covers_the_true_rate_about_95_percent_of_the_time(n, p):
    # exact coverage: the binomial probability of the counts whose interval holds p
    coverage = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k)
                   for k in range(n + 1) if wilson_interval(k, n)[0] <= p <= wilson_interval(k, n)[1])
    assert 0.92 <= coverage <= 0.98, coverage


def test_wilson_interval_refuses_impossible_counts():
    for args in [(1, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError):
            wilson_interval(*args)
