"""Loaders of stdin/stdout benchmarks on small fixtures written here: deepmind/code_contests (JSONL, and
the same rows as Parquet) and the APPS / TACO layout; malformed records get one message naming the
record."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.benchmarks import BenchmarkError, BenchmarkFormatError
from evals.benchmarks.io_source import data_files, load_io_benchmark

FIXTURES = Path(__file__).parent / "fixtures" / "io"
CODE_CONTESTS = FIXTURES / "code_contests.jsonl"


def _by_id(problems):
    return {p.id: p for p in problems}


def test_code_contests_fields_become_problems():
    ps = _by_id(load_io_benchmark("code-contests", CODE_CONTESTS))
    assert list(ps) == ["1_A. Sum of pairs", "2_B. Circle area", "3_C. Even or odd", "4_D. File problem"]
    s = ps["1_A. Sum of pairs"]
    assert (len(s.public_tests), len(s.private_tests), len(s.generated_tests)) == (1, 2, 2)
    assert s.public_tests[0].input == "2\n1 2\n3 4\n" and s.public_tests[0].output == "3\n7\n"
    assert [t[:2] for t in s.tests()] == [("public", 0), ("private", 0), ("private", 1), ("generated", 0),
                                           ("generated", 1)]
    assert [t[0] for t in s.tests("generated,public")] == ["generated", "generated", "public"]
    assert (s.time_limit_s, s.memory_mb) == (2.0, 256)
    # language codes 3 = PYTHON3, 2 = CPP, 4 = JAVA, 1 = PYTHON (2: no runner here)
    assert [(x.lang, bool(x.unavailable)) for x in s.solutions] == [
        ("python", False), ("cpp", False), ("java", False), ("python2", True)]
    assert [x.lang for x in s.incorrect_solutions] == ["python", "cpp"]
    c = ps["2_B. Circle area"]
    assert c.time_limit_s == 1.5 and c.rule.float_tol == 1e-6 and not c.rule.ignore_case
    e = ps["3_C. Even or odd"]
    assert e.rule.ignore_case and e.time_limit_s is None and e.memory_mb is None
    assert ps["4_D. File problem"].unavailable.startswith("uses a file, not stdin/stdout")


def test_code_contests_parquet_reads_as_the_jsonl(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    rows = [json.loads(line) for line in CODE_CONTESTS.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test-00000-of-00001.parquet")
    a = load_io_benchmark("code-contests", tmp_path)
    b = load_io_benchmark("code-contests", CODE_CONTESTS)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):   # all but `origin` (file#row against file:line)
        assert (x.id, x.statement, x.tests(), x.solutions, x.incorrect_solutions, x.time_limit_s, x.memory_mb,
                x.rule, x.unavailable) == (y.id, y.statement, y.tests(), y.solutions, y.incorrect_solutions,
                                           y.time_limit_s, y.memory_mb, y.rule, y.unavailable)
    assert data_files(tmp_path) == [tmp_path / "test-00000-of-00001.parquet"]


def test_code_contests_language_names_and_test_lists_are_read_too(tmp_path):
    row = {"name": "x", "description": "", "public_tests": [{"input": "1\n", "output": "1\n"}],
           "solutions": {"language": ["PYTHON3", "CPP"], "solution": ["print(1)", "int main(){}"]},
           "time_limit": {"seconds": 0, "nanos": 250000000}}
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps(row) + "\n")
    (p,) = load_io_benchmark("code_contests", f)
    assert [s.lang for s in p.solutions] == ["python", "cpp"] and p.time_limit_s == 0.25
    assert p.public_tests[0].output == "1\n" and p.private_tests == ()


def test_apps_layout_stdin_problems_call_based_and_missing_solutions():
    ps = _by_id(load_io_benchmark("apps", FIXTURES / "apps.jsonl"))
    a = ps["4001"]
    assert [(t.input, t.output) for t in a.private_tests] == [("2 3\n", "6\n"), ("-4 5", "-20"), ("0 9\n", "0\n")]
    assert a.public_tests == () and [s.lang for s in a.solutions] == ["python", "python"]
    assert ps["4002"].unavailable.startswith("call-based (fn_name 'total')") and ps["4002"].private_tests == ()
    assert ps["4002"].starter_code.startswith("class Solution")
    assert ps["4003"].solutions == () and not ps["4003"].unavailable


def test_taco_rows_take_their_position_as_id_and_read_limits():
    (p,) = load_io_benchmark("apps", FIXTURES / "taco.jsonl")
    assert p.id == "0" and (p.time_limit_s, p.memory_mb) == (1.0, 256) and len(p.private_tests) == 2


@pytest.mark.parametrize("bench, row, message", [
    ("code-contests", {"description": "d"}, "missing field 'name'"),
    ("code-contests", {"name": "x", "public_tests": {"input": ["1"], "output": []}}, "of equal lengths"),
    ("code-contests", {"name": "x", "solutions": {"language": [9], "solution": ["x"]}}, "unknown language code 9"),
    ("code-contests", {"name": "x", "time_limit": "fast"}, "time_limit should be"),
    ("apps", {"question": "q", "input_output": "{not json"}, "input_output is not valid JSON"),
    ("apps", {"question": "q", "solutions": "{}"}, "solutions should hold a JSON list"),
])
def test_a_malformed_record_is_named_by_file_and_line(tmp_path, bench, row, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps({"name": "ok", "question": "q"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(BenchmarkFormatError) as e:
        load_io_benchmark(bench, f)
    assert f"{f}:2: " in str(e.value) and message in str(e.value)


def test_duplicate_names_missing_paths_and_unknown_benchmarks_are_errors(tmp_path):
    f = tmp_path / "dup.jsonl"
    f.write_text(json.dumps({"name": "x"}) + "\n" + json.dumps({"name": "x"}) + "\n")
    with pytest.raises(BenchmarkFormatError, match="duplicate problem 'x'"):
        load_io_benchmark("code-contests", f)
    with pytest.raises(BenchmarkError, match="no such file"):
        load_io_benchmark("code-contests", tmp_path / "nope.jsonl")
    with pytest.raises(BenchmarkError, match="unknown stdin/stdout benchmark"):
        load_io_benchmark("mbxp", f)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkError, match="no .jsonl, .json or .parquet files"):
        load_io_benchmark("apps", tmp_path / "empty")
