"""Benchmark: stdin/stdout judging throughput, in tests per second (programs x tests), against running one
fresh interpreter per test.

The problems are made here: each reads n integers and prints their sorted order and their sum, with
`TESTS` random tests. Every language judges the same tests with a correct program (so every test runs:
none is skipped). Ours: `io_judge.judge` on an `Executor` with the bubblewrap sandbox (one request per
program; one build; one run per test in a fresh copy of its folder; the fork servers for Python, Perl,
PHP and Ruby). The baseline: a thread pool of 2, one `subprocess.run` of the plain interpreter per test
with the input piped in, no sandbox, outputs compared with the same checker. Both in the same run, on the
same programs; results go to `artifacts/bench/io.json`. Target: Python, PHP and Ruby, whose fork servers
save a start-up of 10-40 ms, keep at least a 1.5x advantage. Perl and Lua start in 1-3 ms, less than
a sandboxed run costs, so the bare interpreter without a sandbox is faster there: reported, not asserted.
"""
from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evals.benchmarks.io_judge import JudgeConfig, judge
from evals.benchmarks.io_problem import IOProblem, IOTest
from evals.execution import Executor
from evals.languages import get_language
from evals.languages.base import find_runtime
from evals.scoring.output_check import check

from ..conftest import REPO

pytestmark = pytest.mark.bench
OUT = REPO / "artifacts" / "bench" / "io.json"
PROBLEMS, TESTS = 30, 10
FORK_SERVED = ("python", "php", "ruby")
PROGRAMS = {
    "python": "import sys\nxs = list(map(int, sys.stdin.read().split()))[1:]\nprint(*sorted(xs))\nprint(sum(xs))\n",
    "perl": "my @x = split ' ', do { local $/; <STDIN> };\nshift @x;\nmy $s = 0; $s += $_ for @x;\n"
            "print join(' ', sort { $a <=> $b } @x), \"\\n$s\\n\";\n",
    "ruby": "xs = $stdin.read.split.map(&:to_i).drop(1)\nputs xs.sort.join(' ')\nputs xs.sum\n",
    "php": "<?php\n$x = array_map('intval', preg_split('/\\s+/', trim(stream_get_contents(STDIN))));\narray_shift($x);\n"
           "sort($x);\necho implode(' ', $x), \"\\n\", array_sum($x), \"\\n\";\n",
    "lua": "local t = {}\nfor w in io.read('a'):gmatch('%S+') do t[#t + 1] = tonumber(w) end\ntable.remove(t, 1)\n"
           "table.sort(t)\nlocal s = 0\nfor _, v in ipairs(t) do s = s + v end\nprint(table.concat(t, ' '))\nprint(s)\n",
    "javascript": "const x = require('fs').readFileSync(0, 'utf8').split(/\\s+/).filter(Boolean).map(Number).slice(1);\n"
                  "x.sort((a, b) => a - b);\nconsole.log(x.join(' '));\nconsole.log(x.reduce((a, b) => a + b, 0));\n",
}
PLAIN = {"python": ["python3", "main.py"], "perl": ["perl", "main.pl"], "ruby": ["ruby", "main.rb"],
         "php": ["php", "main.php"], "lua": ["lua5.4", "main.lua"], "javascript": ["node", "main.js"]}


def problems(seed: int = 0) -> list[IOProblem]:
    rng = random.Random(seed)
    out = []
    for k in range(PROBLEMS):
        tests = []
        for _ in range(TESTS):
            xs = [rng.randint(-1000, 1000) for _ in range(rng.randint(1, 200))]
            tests.append(IOTest(f"{len(xs)}\n{' '.join(map(str, xs))}\n", f"{' '.join(map(str, sorted(xs)))}\n{sum(xs)}\n"))
        out.append(IOProblem(id=f"p{k}", statement="", benchmark="bench", private_tests=tuple(tests),
                             time_limit_s=5.0))
    return out


def plain_judge(lang: str, problem: IOProblem) -> bool:
    """One fresh interpreter per test, as a runner without fork servers or sandbox does."""
    argv = PLAIN[lang]
    argv = [find_runtime(argv[0]) or argv[0], *argv[1:]]
    with tempfile.TemporaryDirectory() as d:
        Path(d, get_language(lang).file_name()).write_text(PROGRAMS[lang])
        for t in problem.private_tests:
            r = subprocess.run(argv, cwd=d, input=t.input, capture_output=True, text=True, timeout=10, check=False)
            if r.returncode != 0 or not check(t.output, r.stdout).ok:
                return False
    return True


def test_io_throughput_against_one_interpreter_per_test():
    ps = problems()
    n_tests = PROBLEMS * TESTS
    rows = {}
    with Executor(workers=2) as ex:
        for lang, code in PROGRAMS.items():
            if get_language(lang).missing():
                continue
            # distinct programs (a comment per problem), so nothing is deduplicated
            items = [(p, lang, code + ("\n" if lang != "php" else "\n") + _comment(lang, p.id)) for p in ps]
            judge(ex, items[:2], JudgeConfig())  # warm the worker's helpers for this language
            t0 = time.perf_counter()
            ours = judge(ex, items, JudgeConfig())
            t_ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                base = list(pool.map(lambda p, lang=lang: plain_judge(lang, p), ps))
            t_base = time.perf_counter() - t0
            assert all(v.passed for v in ours), [v.detail for v in ours if not v.passed][:3]
            assert all(base)
            rows[lang] = {"tests": n_tests, "ours_tests_per_s": round(n_tests / t_ours, 1),
                          "baseline_tests_per_s": round(n_tests / t_base, 1), "speedup": round(t_base / t_ours, 2),
                          "ours_s": round(t_ours, 2), "baseline_s": round(t_base, 2), "level": ex.level}
            print(lang, rows[lang])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"problems": PROBLEMS, "tests_per_problem": TESTS, "cpus": os.cpu_count(),
                               "machine": platform.platform(), "results": rows}, indent=2) + "\n")
    for lang in FORK_SERVED:
        if lang in rows:
            assert rows[lang]["speedup"] >= 1.5, (lang, rows[lang])


def _comment(lang: str, tag: str) -> str:
    return {"python": "#", "perl": "#", "ruby": "#", "php": "//", "lua": "--", "javascript": "//"}[lang] + f" {tag}\n"
