"""Judging whole programs on stdin/stdout problems: build once, run once per test within the problem's
limits, compare each output with the expected one on the host.

The program is given each test's input and nothing else: expected outputs never enter the sandbox (the
request carries inputs only), and the comparison (`evals.scoring.output_check`) runs here, in the host
process, on the stdout the sandbox returns. So no completion proof is needed: a program that exits early,
forges an exit status or installs exit hooks only produces output, and output is judged against a text it
cannot see. Each test runs in a fresh process, in a fresh copy of the built folder, with the scratch
spaces wiped in between (`Program.inputs`), so tests stay independent. Callers should also pass the data
files to `Executor(hide=...)`: they hold the expected outputs, and the sandbox can read world-readable host
files.

The verdict of a program is the verdict over all its tests (`IOVerdict`): passed when every test ran,
exited 0 within the limits and printed the expected output; else the first failing test decides the
status: `failed` (wrong answer, or more output than `Limits.stdout_max_bytes`), `timeout`, `memory`,
`runtime_error` (a non-zero exit or a fatal signal), or `syntax_error` (the build failed, no test ran).
Runs after a timeout are `skipped`. Per-test verdicts are kept.

Not for: loading problems (the loaders) or choosing which problems (callers).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from evals.execution import Limits, Program, Result, Status
from evals.scoring.output_check import check

from .io_problem import TEST_SETS, IOProblem, IOTest

SKIPPED = "skipped"


@dataclass(frozen=True)
class JudgeConfig:
    """How programs are judged: which tests, and how the problem's limits become per-test limits."""

    tests: tuple[str, ...] = field(default=TEST_SETS, metadata={
        "help": "Test sets to run, in order: public, private, generated (contest judges use all)."})
    time_scale: float = field(default=1.0, metadata={
        "help": "Multiplies the problem's time limit (contest limits are set for C++; judges often give "
                "interpreted languages more)."})
    default_time_s: float = field(default=4.0, metadata={"help": "Per-test time limit when the data gives none."})
    min_time_s: float = field(default=1.0, metadata={"help": "No per-test limit is shorter than this."})
    default_memory_mb: int = field(default=1024, metadata={"help": "Memory limit when the data gives none, MiB."})
    min_memory_mb: int = field(default=256, metadata={
        "help": "No memory limit is lower than this, MiB (a runtime's own start-up needs some)."})
    max_tests: int | None = field(default=None, metadata={
        "help": "Run at most this many tests per problem (the first ones, in set order); None: all."})

    def limits(self, problem: IOProblem, base: Limits | None = None) -> Limits:
        base = base or Limits()
        t = problem.time_limit_s if problem.time_limit_s else self.default_time_s
        mem = problem.memory_mb if problem.memory_mb else self.default_memory_mb
        longest = max((len(x.output.encode()) for _, _, x in self.chosen(problem)), default=0)
        return Limits(timeout_s=max(t * self.time_scale, self.min_time_s), build_timeout_s=base.build_timeout_s,
                      memory_mb=max(int(mem), self.min_memory_mb), max_procs=base.max_procs,
                      max_file_mb=base.max_file_mb, max_open_files=base.max_open_files,
                      output_bytes=base.output_bytes, stdout_max_bytes=max(1 << 16, 2 * longest + 4096))

    def chosen(self, problem: IOProblem) -> tuple[tuple[str, int, IOTest], ...]:
        tests = problem.tests(self.tests)
        return tests if self.max_tests is None else tests[: self.max_tests]


@dataclass
class TestVerdict:
    set: str            # public | private | generated
    index: int          # index within its set
    status: str         # a Status value, or "skipped"
    detail: str = ""
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == Status.PASSED.value

    def to_dict(self) -> dict:
        return {"set": self.set, "index": self.index, "status": self.status, "detail": self.detail,
                "duration_s": self.duration_s}


@dataclass
class IOVerdict:
    """A program's verdict over all the tests it was judged on."""

    task_id: str
    lang: str
    status: Status
    detail: str = ""
    n_tests: int = 0
    n_passed: int = 0
    tests: list[TestVerdict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def first_failure(self) -> TestVerdict | None:
        return next((t for t in self.tests if not t.passed), None)

    def counts(self) -> dict[str, int]:
        """{status: number of tests} (tests never reached count as skipped)."""
        out: dict[str, int] = {}
        for t in self.tests:
            out[t.status] = out.get(t.status, 0) + 1
        if len(self.tests) < self.n_tests:
            out[SKIPPED] = out.get(SKIPPED, 0) + self.n_tests - len(self.tests)
        return out

    def to_dict(self) -> dict:
        first = self.first_failure
        return {"task_id": self.task_id, "lang": self.lang, "status": self.status.value, "passed": self.passed,
                "detail": self.detail, "n_tests": self.n_tests, "n_passed": self.n_passed, "counts": self.counts(),
                "first_failure": first.to_dict() if first else None, "tests": [t.to_dict() for t in self.tests]}


# -- whole programs ----------------------------------------------------------------------------------

_JAVA_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;", re.MULTILINE)
_JAVA_MAIN_CLASS = re.compile(r"^[ \t]*(?:public\s+|final\s+|abstract\s+|strictfp\s+)*class\s+Main\b", re.MULTILINE)
_JAVA_PUBLIC_TYPE = re.compile(r"^([ \t]*)public\s+((?:final\s+|abstract\s+|strictfp\s+)*)(class|interface|enum|record)"
                               r"\s+(\w+)", re.MULTILINE)
_JAVA_SCAN = re.compile(r"\b(?:class|interface|enum|record)\s+(\w+)[^{;]*\{|\{|\}")
_JAVA_NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.DOTALL)
_JAVA_MAIN = re.compile(r"\bstatic\s+(?:final\s+)?(?:public\s+)?void\s+main\s*\(")


def whole_program(lang: str, code: str) -> str:
    """The text to run for a whole program in `lang`. Only Java needs a change: its file is `Main.java`,
    while contest solutions name their class as they like (`public class Solution`). A `package` line is
    dropped, `public` is taken off top-level types (a public type must match its file's name), and when no
    class is called `Main`, one is appended whose `main` calls the main of the class that declares it."""
    if lang != "java":
        return code
    code = _JAVA_PACKAGE.sub("", code)
    if _JAVA_MAIN_CLASS.search(code):
        return _JAVA_PUBLIC_TYPE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)} {m.group(4)}", code)
    main = _JAVA_MAIN.search(_java_blank(code))
    owner = _java_enclosing_class(code, main.start()) if main else None
    code = _JAVA_PUBLIC_TYPE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)} {m.group(4)}", code)
    if owner is None:
        return code  # no main: javac or the JVM says so
    return (code + ("" if code.endswith("\n") else "\n")
            + f"class Main {{\n    public static void main(String[] args) throws Throwable {{ {owner}.main(args); }}\n}}\n")


def _java_blank(code: str) -> str:
    """`code` with comments and string and char literals blanked out (same length), for scanning."""
    return _JAVA_NOISE.sub(lambda m: " " * len(m.group(0)), code)


def _java_enclosing_class(code: str, pos: int) -> str | None:
    """The innermost type whose body contains offset `pos` (braces counted outside comments and strings)."""
    stack: list[str | None] = []
    for m in _JAVA_SCAN.finditer(_java_blank(code)[:pos]):
        if m.group(0) == "}":
            if stack:
                stack.pop()
        else:
            stack.append(m.group(1))  # None for a plain block
    return next((name for name in reversed(stack) if name), None)


def io_program(problem: IOProblem, lang: str, code: str, config: JudgeConfig | None = None,
               base: Limits | None = None) -> Program:
    """The `Program` that runs `code` on the chosen tests' inputs under the problem's limits."""
    config = config or JudgeConfig()
    inputs = tuple(t.input for _, _, t in config.chosen(problem))
    return Program(lang, whole_program(lang, code), id=problem.id, inputs=inputs, limits=config.limits(problem, base))


# -- verdicts ----------------------------------------------------------------------------------------

def _test_verdict(s: str, i: int, test: IOTest, run: Result, problem: IOProblem) -> TestVerdict:
    if run.status is Status.PASSED:
        if not run.stdout_complete:
            return TestVerdict(s, i, Status.FAILED.value, "output limit exceeded", run.duration_s)
        c = check(test.output, run.stdout, problem.rule)
        if c.ok:
            return TestVerdict(s, i, Status.PASSED.value, "", run.duration_s)
        return TestVerdict(s, i, Status.FAILED.value, f"wrong answer: {c.reason}", run.duration_s)
    if not run.stdout_complete:
        return TestVerdict(s, i, Status.FAILED.value, "output limit exceeded", run.duration_s)
    status = Status.RUNTIME_ERROR if run.status is Status.FAILED else run.status  # an assertion is a crash here
    return TestVerdict(s, i, status.value, run.detail, run.duration_s)


def verdict(problem: IOProblem, lang: str, result: Result, config: JudgeConfig | None = None) -> IOVerdict:
    """The verdict of one program's `Result` (from `io_program(...)`) over the chosen tests."""
    config = config or JudgeConfig()
    chosen = config.chosen(problem)
    v = IOVerdict(problem.id, lang, result.status, result.detail, n_tests=len(chosen))
    if not result.runs:  # the build failed, the runtime is missing, or the sandbox could not run it
        if result.status is Status.PASSED:
            v.status, v.detail = Status.SANDBOX_ERROR, "no test ran"
        if not chosen:
            v.status, v.detail = Status.SANDBOX_ERROR, f"{problem.id}: no tests to judge on"
        return v
    for (s, i, test), run in zip(chosen, result.runs):
        v.tests.append(_test_verdict(s, i, test, run, problem))
    for s, i, _ in chosen[len(result.runs):]:
        v.tests.append(TestVerdict(s, i, SKIPPED, "not run: an earlier test timed out"))
    v.n_passed = sum(t.passed for t in v.tests)
    first = v.first_failure
    if first is None:
        v.status, v.detail = Status.PASSED, ""
    else:
        v.status = Status(first.status) if first.status != SKIPPED else Status.TIMEOUT
        v.detail = f"{first.set} test {first.index}: {first.detail or first.status}"
    return v


@dataclass(frozen=True)
class OutputVerdict:
    """`verdict(problem, lang, result, config)` as a function of the `Result` alone: what a task's
    `judged(lang, completion)` hands back beside its `Program` (see `evals.world.io_task`)."""

    problem: IOProblem
    lang: str
    config: JudgeConfig = field(default_factory=JudgeConfig)

    def __call__(self, result: Result) -> IOVerdict:
        return verdict(self.problem, self.lang, result, self.config)


def judge(executor, items: Iterable[tuple[IOProblem, str, str]], config: JudgeConfig | None = None,
          progress: bool = False, desc: str = "judging") -> list[IOVerdict]:
    """Judge (problem, lang, code) triples on `executor` (an `evals.execution.Executor`, ideally made
    with `hide=` the data files); verdicts come back in input order."""
    items = list(items)
    config = config or JudgeConfig()
    programs = [io_program(p, lang, code, config, executor.limits) for p, lang, code in items]
    results: Sequence[Result] = executor.map(programs, progress=progress, desc=desc)
    return [verdict(p, lang, r, config) for (p, lang, _), r in zip(items, results)]
