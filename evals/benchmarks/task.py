"""Benchmark problems with the task interface that training and evaluation use (as the world's `Task`).

A `BenchTask` is one problem number of one benchmark in several languages (`parallel_set` aligns
them). Its methods are those `train/` calls on a world task:

    prompt(lang)      what the model is given: `fmt.prompt(problem, code)`, which must END with `code`,
                      the problem's prompt without its trailing whitespace (signature + docstring; for
                      Java also the class line). `fmt` is a `PromptFormat`: `CodePrefix` (plain
                      completion, for base models) here; train/ supplies a chat-template one.
    solution(lang)    the reference completion: the prompt's trailing whitespace (or "\\n" when it has
                      none, as MBXP Ruby) + the reference solution + `fmt.suffix` (e.g. a closing fence).
    program(lang, c)  prompt code + truncate(c) + the benchmark's tests: exits 0 iff the tests pass;
                      sealed (`problem.seal`; run it with `proof=problem(lang).proof`), `parts` unsealed.
                      prompt code + solution(lang) assembles the same program as the benchmark's own
                      prompt + canonical solution + tests.
    stop / truncate   `endings.py`: where the function ends (read from the prompt's code), and the
                      enclosing blocks `program` closes (Java's class).
    document(lang)    code + reference completion, code only (no chat template): for probes.

Not for: choosing which problems (`splits.py`), running programs (`evals.execution`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from . import endings
from .problem import Problem, seal


class PromptFormat(Protocol):
    suffix: str

    def prompt(self, problem: Problem, code: str) -> str:
        """The model's input for `problem`; it must end with `code` (the completion continues it)."""


@dataclass(frozen=True)
class CodePrefix:
    """The plain completion format: the prompt is the code."""

    suffix: str = ""

    def prompt(self, problem: Problem, code: str) -> str:
        return code


def split_prompt(prompt: str) -> tuple[str, str]:
    """(code, head): the prompt without its trailing whitespace, and that whitespace."""
    code = prompt.rstrip()
    return code, prompt[len(code):]


@dataclass(frozen=True)
class BenchTask:
    id: str = field(metadata={"help": "'<benchmark>/<number>', e.g. 'mbxp/700'."})
    number: int = field(metadata={"help": "Problem number, the same in every language."})
    benchmark: str = field(metadata={"help": "Benchmark name."})
    problems: tuple[tuple[str, Problem], ...] = field(metadata={"help": "(lang, Problem) pairs."})
    fmt: PromptFormat = field(default=CodePrefix(), compare=False, metadata={"help": "How prompts are written."})
    split: str = field(default="", metadata={"help": "Which part of the benchmark (train, valid, test)."})

    def problem(self, lang: str) -> Problem:
        for la, p in self.problems:
            if la == lang:
                return p
        raise KeyError(f"{self.id} has no {lang} problem (it has {', '.join(self.langs)})")

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(la for la, _ in self.problems)

    @property
    def description(self) -> str:
        return next((p.description for _, p in self.problems if p.description), "")

    def code(self, lang: str) -> str:
        return split_prompt(self.problem(lang).prompt)[0]

    def prompt(self, lang: str) -> str:
        p = self.problem(lang)
        code = self.code(lang)
        text = self.fmt.prompt(p, code)
        if not text.endswith(code):
            raise ValueError(f"{type(self.fmt).__name__}.prompt must end with the problem's code ({self.id}/{lang})")
        return text

    def reference(self, lang: str) -> str:
        """The reference completion without the format's suffix."""
        p = self.problem(lang)
        if not p.has_solution:
            raise ValueError(f"{self.id}/{lang} has no reference solution")
        head = split_prompt(p.prompt)[1]
        solution = p.solution or ""
        if "\n" not in head and not solution.startswith("\n"):
            head += "\n"
        return head + solution

    def solution(self, lang: str) -> str:
        ref = self.reference(lang)
        suffix = self.fmt.suffix
        if suffix and not ref.endswith("\n") and not suffix.startswith("\n"):
            ref += "\n"
        return ref + suffix

    def document(self, lang: str) -> str:
        return self.code(lang) + self.reference(lang)

    def ending(self, lang: str) -> endings.Ending:
        return endings.Ending.of(lang, self.code(lang))

    def program(self, lang: str, completion: str) -> str:
        return seal(lang, *self.parts(lang, completion))

    def parts(self, lang: str, completion: str) -> tuple[str, str]:
        """`program` before sealing: (prompt code + truncated completion, tests)."""
        p = self.problem(lang)
        ending = self.ending(lang)
        code = ending.close(ending.truncate(completion))
        return dataclasses.replace(p, prompt=self.code(lang)).parts(code)

    def stop(self, lang: str) -> tuple[str, ...]:
        return self.ending(lang).stop_strings()

    def truncate(self, lang: str, text: str) -> str:
        return self.ending(lang).truncate(text)


def bench_tasks(aligned: Mapping[int, Mapping[str, Problem]], benchmark: str, fmt: PromptFormat = CodePrefix(),
                split: str = "") -> list[BenchTask]:
    """One `BenchTask` per problem number of `parallel_set(...)`'s output, in number order."""
    return [BenchTask(f"{benchmark}/{n}", n, benchmark, tuple(by_lang.items()), fmt, split)
            for n, by_lang in sorted(aligned.items())]
