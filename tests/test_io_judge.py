"""Whole programs judged on stdin/stdout tests: per-test limits and verdicts, tests kept independent,
the comparison on the host (no expected output reaches a program; the data file is hidden), and one test
set judging programs in languages nobody wrote tests for."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from evals.benchmarks.io_judge import JudgeConfig, io_program, judge, whole_program
from evals.benchmarks.io_problem import IOProblem, IOTest
from evals.benchmarks.io_source import load_io_benchmark
from evals.execution import Executor, Status

from .conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "io"
CODE_CONTESTS = FIXTURES / "code_contests.jsonl"


def _problem(tests, time_limit_s=None, memory_mb=None, **kw) -> IOProblem:
    return IOProblem(id="t", statement="", benchmark="test", private_tests=tuple(IOTest(i, o) for i, o in tests),
                     time_limit_s=time_limit_s, memory_mb=memory_mb, **kw)


def _one(executor, problem, lang, code, **config):
    return judge(executor, [(problem, lang, code)], JudgeConfig(**config))[0]


ECHO = [("a\n", "a\n"), ("b\n", "b\n"), ("c\n", "c\n")]


def test_a_program_too_slow_on_one_test_times_out_on_that_test(executor):
    slow = "import sys, time\nx = sys.stdin.read()\nif x == 'c\\n':\n    time.sleep(1.6)\nprint(x.strip())\n"
    v = _one(executor, _problem(ECHO, time_limit_s=1.0), "python", slow)
    assert v.status is Status.TIMEOUT
    assert [t.status for t in v.tests] == ["passed", "passed", "timeout"]
    assert (v.n_tests, v.n_passed, v.first_failure.index) == (3, 2, 2)
    assert v.detail.startswith("private test 2: ")
    # the problem's own limit decides: with 3 s per test the same program passes
    assert _one(executor, _problem(ECHO, time_limit_s=3.0), "python", slow).passed


def test_tests_after_a_timeout_are_skipped(executor):
    hang = "import sys\nx = sys.stdin.read()\nwhile x == 'a\\n':\n    pass\nprint(x)\n"
    v = _one(executor, _problem(ECHO, time_limit_s=1.0), "python", hang)
    assert [t.status for t in v.tests] == ["timeout", "skipped", "skipped"]
    assert v.counts() == {"timeout": 1, "skipped": 2}


def test_wrong_answers_runtime_errors_and_counts_are_kept_per_test(executor):
    code = ("import sys\nx = sys.stdin.read().strip()\n"
            "if x == 'b':\n    raise AssertionError('no')\nprint(x if x == 'a' else 'z')\n")
    v = _one(executor, _problem(ECHO), "python", code)
    assert [t.status for t in v.tests] == ["passed", "runtime_error", "failed"]   # an assertion is a crash here
    assert v.status is Status.RUNTIME_ERROR and v.first_failure.index == 1
    assert v.tests[2].detail == "wrong answer: token 1: expected 'c', got 'z'"
    assert v.counts() == {"passed": 1, "runtime_error": 1, "failed": 1}


def test_tests_are_independent(executor):
    """Nothing one run writes (its folder, /tmp, its home) is there for the next; each run sees one input."""
    code = ("import glob, os, sys\nsys.stdin.read()\n"
            "for p in ('seen', os.path.join(os.environ.get('TMPDIR', '.'), 'seen2'), '/tmp/seen3'):\n"
            "    try:\n        open(p, 'a').write('x')\n    except OSError:\n        pass\n"
            "print(len(open('seen').read()), len(glob.glob(os.path.join(os.path.dirname(os.getcwd()), '*.stdin'))))\n")
    v = _one(executor, _problem([(x, "1 1") for x in "abcd"]), "python", code)
    assert v.passed, v.detail


def test_stdout_past_the_cap_is_stopped_and_fails(executor):
    v = _one(executor, _problem([("x", "x")], time_limit_s=10.0), "python", "while True:\n    print('y' * 1000)\n")
    assert v.status is Status.FAILED and v.tests[0].detail == "output limit exceeded"
    assert v.tests[0].duration_s < 5


def test_a_build_error_runs_no_test(executor):
    v = _one(executor, _problem(ECHO), "cpp", "int main( {")
    assert v.status is Status.SYNTAX_ERROR and v.tests == [] and v.n_passed == 0 and v.n_tests == 3


def test_the_problems_memory_limit_applies(executor):
    hog = "import sys\nsys.stdin.read()\nx = bytearray(400 << 20)\nprint('a')\n"
    assert _one(executor, _problem([("", "a")], memory_mb=256), "python", hog).status is Status.MEMORY
    assert _one(executor, _problem([("", "a")], memory_mb=1024), "python", hog).passed


def test_an_early_exit_only_produces_output():
    """No proof is needed: an exit 0 before printing, or an exit hook, is judged by what was printed."""
    with Executor(workers=1) as ex:
        p = _problem([("2 3\n", "5\n")])
        early = "import os\nos._exit(0)\nprint(5)\n"
        hook = "import atexit, os\natexit.register(lambda: os._exit(0))\nprint(4)\n"
        right = "print(sum(map(int, input().split())))\n"
        v = judge(ex, [(p, "python", early), (p, "python", hook), (p, "python", right)])
    assert [x.status for x in v] == [Status.FAILED, Status.FAILED, Status.PASSED]


def test_expected_outputs_are_not_in_what_the_executor_gets():
    """A `Program` is all the executor sends to the sandbox: its source, inputs and limits."""
    p = _problem([("1\n", "SECRET-ONE\n"), ("2\n", "SECRET-TWO\n")], time_limit_s=2.0)
    prog = io_program(p, "python", "print(input())")
    assert prog.inputs == ("1\n", "2\n")
    assert "SECRET" not in repr(prog)


@pytest.mark.skipif(str(REPO).startswith(("/tmp", str(Path.home()))), reason="the checkout is hidden in the sandbox")
def test_a_program_cannot_read_the_expected_outputs_from_the_data_file():
    """The attack: find the data file on the (read-only, visible) host filesystem and print the output
    stored for this input. It works on an executor that does not hide the file, and fails on one that does."""
    folder = Path(tempfile.mkdtemp(prefix="io-hide-", dir=REPO / "artifacts"))
    try:
        data = folder / "problems.jsonl"
        shutil.copy(CODE_CONTESTS, data)
        data.chmod(0o644)
        folder.chmod(0o755)
        p = load_io_benchmark("code-contests", data)[0]
        cheat = (f"import json, sys\nx = sys.stdin.read()\nrows = [json.loads(l) for l in open({str(data)!r}) if l.strip()]\n"
                 "for r in rows:\n"
                 "    for k in ('public_tests', 'private_tests', 'generated_tests'):\n"
                 "        for i, o in zip(r[k]['input'], r[k]['output']):\n"
                 "            if i == x:\n                print(o)\n                sys.exit(0)\n")
        with Executor(workers=1) as ex:
            if ex.level != "bwrap":
                pytest.skip("hiding files needs the bubblewrap sandbox")
            assert judge(ex, [(p, "python", cheat)])[0].passed       # the attack works where nothing is hidden
        with Executor(workers=1, hide=[data]) as ex:
            v = judge(ex, [(p, "python", cheat)])[0]
        assert not v.passed and v.n_passed == 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


LUA_SUM = "local n = io.read('n')\nfor _ = 1, n do\n  local a, b = io.read('n', 'n')\n  print(string.format('%d', a + b))\nend\n"
PERL_SUM = "my $n = <STDIN>;\nfor (1 .. $n) { my ($a, $b) = split ' ', <STDIN>; print $a + $b, \"\\n\"; }\n"


def test_lua_and_perl_programs_are_judged_by_tests_written_for_no_language(executor):
    problems = {p.id: p for p in load_io_benchmark("code-contests", CODE_CONTESTS)}
    sums, circle = problems["1_A. Sum of pairs"], problems["2_B. Circle area"]
    assert {s.lang for s in sums.solutions} == {"python", "cpp", "java", "python2"}   # no Lua, no Perl
    items = [(sums, "lua", LUA_SUM), (sums, "perl", PERL_SUM),
             (sums, "lua", LUA_SUM.replace("a + b", "a * b")),
             (circle, "perl", "my $r = <STDIN>;\nprintf(\"%.8f\\n\", 4 * atan2(1, 1) * $r * $r);\n"),
             (circle, "lua", "local r = io.read('n')\nprint(string.format('%.3f', math.pi * r * r))\n")]
    v = judge(executor, items)
    assert [x.passed for x in v] == [True, True, False, True, False]
    assert v[0].n_passed == v[0].n_tests == 5
    assert v[2].first_failure.detail == "wrong answer: token 1: expected '3', got '2'"
    assert "token 1" in v[4].detail     # 3 decimals are outside the statement's 1e-6


def test_java_solutions_keep_their_own_class_name():
    src = whole_program("java", "package a.b;\npublic class Solution {\n  static class In {}\n"
                                "  public static void main(String[] x) {}\n}\n")
    assert "package" not in src and "public class Solution" not in src
    assert src.rstrip().endswith("Solution.main(args); }\n}")
    assert whole_program("python", "print(1)") == "print(1)"
    main = "public class Main { public static void main(String[] a) {} }"
    assert "Solution" not in whole_program("java", main) and whole_program("java", main).count("class Main") == 1
