"""`psft check-bench` and `psft score` on stdin/stdout benchmarks (code-contests, apps), on the fixtures
written here: every correct reference passes (Java with its own class name), every incorrect one fails;
whole programs in any language are scored; bad input is one message, exit 2, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

from app.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "io"
CC = str(FIXTURES / "code_contests.jsonl")


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_bench_code_contests_runs_correct_and_incorrect_references(capsys):
    code, out, _ = _run(capsys, "check-bench", "--bench", "code-contests", "--data", CC, "--json")
    assert code == 0
    r = json.loads(out)
    assert r["problems"] == {"total": 4, "judged": 3, "unavailable": {"uses a file, not stdin/stdout": 1}}
    assert {k: (v["checked"], v["passed"]) for k, v in r["correct"].items()} == {
        "python": (3, 3), "cpp": (2, 2), "java": (1, 1), "python2": (0, 0)}
    assert r["correct"]["python2"]["unavailable"].startswith("no runner for 'python2'")
    assert {k: (v["checked"], v["rejected"], v["accepted"]) for k, v in r["incorrect"].items()} == {
        "python": (3, 3, []), "cpp": (1, 1, [])}


def test_check_bench_reports_an_incorrect_reference_the_tests_accept(capsys, tmp_path):
    rows = [json.loads(line) for line in Path(CC).read_text().splitlines()]
    weak = dict(rows[0], private_tests={"input": [], "output": []}, generated_tests={"input": [], "output": []},
                public_tests={"input": ["1\n0 0\n"], "output": ["0\n"]})   # a - b == a + b here
    f = tmp_path / "weak.jsonl"
    f.write_text(json.dumps(weak) + "\n")
    code, out, _ = _run(capsys, "check-bench", "--bench", "code-contests", "--data", str(f), "--langs", "python")
    assert code == 0
    assert "accepted python (tests too weak): 1_A. Sum of pairs" in out
    assert "cpp" not in out


def test_check_bench_apps_counts_call_based_problems_without_running_them(capsys):
    code, out, _ = _run(capsys, "check-bench", "--bench", "apps", "--data", str(FIXTURES / "apps.jsonl"), "--json")
    r = json.loads(out)
    assert code == 0 and r["problems"]["unavailable"] == {"call-based": 1}
    assert r["correct"]["python"] == {"total": 2, "checked": 2, "passed": 2, "failed": []}


def _completions(tmp_path, rows) -> str:
    f = tmp_path / "gen.jsonl"
    f.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(f)


SUM = "1_A. Sum of pairs"


def test_score_judges_whole_programs_in_any_language(capsys, tmp_path):
    rows = [{"task_id": SUM, "lang": "lua", "completion": "local n = io.read('n')\nfor _ = 1, n do\n"
             "  local a, b = io.read('n', 'n')\n  print(string.format('%d', a + b))\nend\n"},
            {"task_id": SUM, "lang": "perl", "completion": "my $n = <STDIN>;\nfor (1 .. $n) { my ($a, $b) = "
             "split ' ', <STDIN>; print $a * $b, \"\\n\"; }\n"},
            {"task_id": "3_C. Even or odd", "lang": "ruby", "completion": "puts gets.to_i.even? ? 'Yes' : 'nO'\n"}]
    out_file = tmp_path / "v.jsonl"
    code, out, _ = _run(capsys, "score", "--bench", "code-contests", "--data", CC, "--completions",
                        _completions(tmp_path, rows), "--out", str(out_file), "--json")
    assert code == 0
    s = json.loads(out)
    assert {k: (v["n"], v["passed"]) for k, v in s.items()} == {"lua": (1, 1), "perl": (1, 0), "ruby": (1, 1)}
    v = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(x["task_id"], x["lang"], x["status"], x["n_passed"], x["n_tests"]) for x in v] == [
        (SUM, "lua", "passed", 5, 5), (SUM, "perl", "failed", 0, 5), ("3_C. Even or odd", "ruby", "passed", 3, 3)]
    assert v[1]["first_failure"]["set"] == "public" and len(v[1]["tests"]) == 5


def test_score_public_tests_only(capsys, tmp_path):
    # right on the public test, wrong on the hidden ones
    rows = [{"task_id": SUM, "lang": "python", "completion": "print(3)\nprint(7)\n"}]
    for sets, passed in (("public", 1), ("public,private", 0)):
        code, out, _ = _run(capsys, "score", "--bench", "code-contests", "--data", CC, "--completions",
                            _completions(tmp_path, rows), "--tests", sets, "--json")
        assert code == 0 and json.loads(out)["python"]["passed"] == passed


def test_score_bad_rows_are_one_error_and_nothing_is_written(capsys, tmp_path):
    out_file = tmp_path / "v.jsonl"
    cases = [
        ({"task_id": SUM, "completion": "print(1)"}, "missing field 'lang'"),
        ({"task_id": "nope", "lang": "python", "completion": "x"}, "unknown code-contests task 'nope'"),
        ({"task_id": SUM, "lang": "cobol", "completion": "x"}, "unknown language 'cobol'"),
        ({"task_id": "4_D. File problem", "lang": "python", "completion": "x"}, "cannot be judged here"),
        ({"task_id": SUM, "lang": "python", "completion": None}, "field 'completion' should be a string"),
        ("{not json", "malformed JSON"),
    ]
    for row, message in cases:
        path = _completions(tmp_path, [{"task_id": SUM, "lang": "python", "completion": "print(1)"}, row])
        code, out, err = _run(capsys, "score", "--bench", "code-contests", "--data", CC, "--completions", path,
                              "--out", str(out_file))
        assert code == 2 and "gen.jsonl:2: " in err and message in err, err
        assert not out_file.exists()
    code, _, err = _run(capsys, "score", "--bench", "code-contests", "--data", CC, "--completions",
                        _completions(tmp_path, [{"task_id": SUM, "lang": "python", "completion": "x"}]),
                        "--time-scale", "0")
    assert code == 2 and "--time-scale must be > 0" in err
