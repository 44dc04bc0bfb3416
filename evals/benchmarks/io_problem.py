"""One stdin/stdout problem: a statement, tests as (standard input, expected standard output) pairs, the
problem's limits, and reference programs in whatever languages the data has.

Such tests belong to no language: the same pairs judge a Python, a Lua or a Java program, which is what
cross-language transfer needs (a new target language needs only its runner). A completion is a whole
program that reads the input and prints the answer. The three test sets stay apart as contest data keeps
them: `public` (the statement's examples: a model may see them), `private` (the judge's hidden tests) and
`generated` (more inputs, with outputs from correct solutions, as code_contests adds).

Not for: reading files (`code_contests.py`, `apps.py`), running or judging programs (`io_judge.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from evals.scoring.output_check import OutputRule

TEST_SETS = ("public", "private", "generated")


@dataclass(frozen=True)
class IOTest:
    input: str = field(metadata={"help": "The program's standard input."})
    output: str = field(metadata={"help": "The expected standard output (compared token by token)."})


@dataclass(frozen=True)
class IOSolution:
    lang: str = field(metadata={"help": "Canonical language name, or the data's own name when no runner exists."})
    code: str = field(metadata={"help": "The whole program."})
    unavailable: str = field(default="", metadata={"help": "Why it cannot run here ('' if it can)."})


@dataclass(frozen=True)
class IOProblem:
    id: str = field(metadata={"help": "The data's name for the problem (code_contests' `name`, APPS' "
                                      "`problem_id`): completions name it as `task_id`."})
    statement: str = field(metadata={"help": "The problem statement, as the data gives it."})
    benchmark: str = field(metadata={"help": "code-contests | apps."})
    public_tests: tuple[IOTest, ...] = field(default=(), metadata={"help": "The statement's examples."})
    private_tests: tuple[IOTest, ...] = field(default=(), metadata={"help": "The judge's hidden tests."})
    generated_tests: tuple[IOTest, ...] = field(default=(), metadata={"help": "Extra inputs, outputs from "
                                                                              "correct solutions."})
    time_limit_s: float | None = field(default=None, metadata={"help": "Per test, seconds; None: not given."})
    memory_mb: int | None = field(default=None, metadata={"help": "Per test, MiB; None: not given."})
    solutions: tuple[IOSolution, ...] = field(default=(), metadata={"help": "Correct reference programs."})
    incorrect_solutions: tuple[IOSolution, ...] = field(default=(), metadata={
        "help": "Programs known to be wrong (code_contests): each must fail the tests."})
    rule: OutputRule = field(default=OutputRule(), metadata={"help": "How outputs compare (from the statement)."})
    starter_code: str = field(default="", metadata={"help": "Code the statement starts from (APPS), if any."})
    unavailable: str = field(default="", metadata={
        "help": "Why the problem cannot be judged as stdin/stdout ('' if it can): call-based tests, a file "
                "instead of stdin, no tests."})
    origin: str = field(default="", metadata={"help": "Where it was read: 'file:line' or 'hub-id#index'."})

    def tests(self, sets: tuple[str, ...] | str = TEST_SETS) -> tuple[tuple[str, int, IOTest], ...]:
        """(set, index in that set, test) for the sets asked for, in the order asked."""
        if isinstance(sets, str):
            sets = tuple(s.strip() for s in sets.split(",") if s.strip())
        unknown = [s for s in sets if s not in TEST_SETS]
        if unknown:
            raise ValueError(f"unknown test set(s) {', '.join(unknown)}; known: {', '.join(TEST_SETS)}")
        return tuple((s, i, t) for s in sets for i, t in enumerate(getattr(self, f"{s}_tests")))

    @property
    def langs(self) -> tuple[str, ...]:
        """Languages the correct references are in, in order of first appearance."""
        return tuple(dict.fromkeys(s.lang for s in self.solutions))
