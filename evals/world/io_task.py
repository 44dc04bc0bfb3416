"""A world task in I/O form (`WorldConfig.form = "io"`): the same task (id, description, signature, tests,
pipeline) rendered as a whole stdin/stdout program and judged by its outputs (see `io_form.py`).

`IOTask` has every method of `Task` that training, evaluation and probes call, with the I/O contract:
`prompt` is the statement, `solution` the whole program, `stop` / `truncate` end it at the call of
`main`; `signature_line` is "" (the signature is part of the completion, so a probe's "code" text,
signature line + solution, is the whole program); `problem()` is the task as an `IOProblem` whose one
test set (private: nothing of it is shown in the prompt) judges every language; `judged(lang,
completion)` gives the executor `Program` (the whole program, run once per test input) and the verdict
function that compares its outputs on the host (`io_judge.verdict`).
Not for: the function form (`task.py`), rendering (`io_form.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

from . import io_form
from .task import Task


@dataclass(frozen=True)
class IOTask(Task):
    @classmethod
    def of(cls, task: Task) -> IOTask:
        """`task` in I/O form (the same fields)."""
        return cls(**{f.name: getattr(task, f.name) for f in fields(Task)})

    form = "io"

    def prompt(self, lang: str, describe: bool = True) -> str:
        """Tag line, preamble, description and I/O statement (`describe` False: tag line and preamble);
        no trailing newline."""
        return io_form.prompt(lang, self.description, self.pipeline, self.naming, describe)

    def solution(self, lang: str) -> str:
        """The reference completion: "\\n" + the whole program + "\\n"."""
        return io_form.io_solution(lang, self.signature.name, self.pipeline, self.naming)

    def signature_line(self, lang: str) -> str:
        """Nothing: the prompt ends with the statement and the completion holds the whole program."""
        return ""

    def harness(self, lang: str) -> str:
        raise TypeError(f"{self.id}: a world task in I/O form has no harness: its tests are stdin/stdout pairs "
                        "(problem())")

    def program(self, lang: str, completion: str) -> str:
        """The whole program: prompt + truncate(completion) (comments, then the code; no harness, no seal)."""
        return self.prompt(lang) + io_form.truncate(lang, completion)

    def stop(self, lang: str) -> tuple[str, ...]:
        return io_form.stop(lang)

    def truncate(self, lang: str, text: str) -> str:
        return io_form.truncate(lang, text)

    @cached_property
    def _problem(self):
        from evals.benchmarks.io_problem import IOProblem, IOTest
        params = self.pipeline.params
        tests = tuple(IOTest(io_form.write_input(params, t.args), io_form.write_value(self.pipeline.out_type,
                                                                                      t.expected))
                      for t in self.tests)
        return IOProblem(id=self.id, statement=self.description, benchmark="world", private_tests=tests,
                         origin=f"world task {self.id}")

    def problem(self):
        """This task as an `IOProblem`: one private test per test case, the same for every language."""
        return self._problem

    def judged(self, lang: str, completion: str, id: str | None = None):
        """(the `Program` that runs the whole program on every test's input, the function from its `Result`
        to an `IOVerdict`: the outputs compared with the expected ones here, on the host)."""
        from evals.benchmarks.io_judge import OutputVerdict
        from evals.execution import Program
        problem = self.problem()
        inputs = tuple(t.input for t in problem.private_tests)
        return Program(lang, self.program(lang, completion), id=id, inputs=inputs), OutputVerdict(problem, lang)
