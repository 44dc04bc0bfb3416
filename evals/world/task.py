"""A task of the world: one composition with its description, signature, tests and renderings.

`Task` is a small frozen dataclass (picklable, hashable); code is rendered on demand (tens of
microseconds). See `render.py` for the prompt / completion / stop contract. Not for: generating
tasks (`world.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import render
from .grammar import Pipeline
from .tests_gen import TestCase


@dataclass(frozen=True)
class Signature:
    name: str                              # snake_case (JavaScript uses camelCase: `fn_name(lang)`)
    params: tuple[tuple[str, str], ...]    # (name, type) with types "int", "list[int]", "str"
    returns: str

    def fn_name(self, lang: str) -> str:
        return render.fn_name(lang, self.name)


TYPE_NAMES = {"int": "int", "list": "list[int]", "str": "str"}


@dataclass(frozen=True)
class Task:
    id: str
    split: str
    description: str
    signature: Signature
    tests: tuple[TestCase, ...]
    pipeline: Pipeline
    naming: str = "shared"                 # identifiers: "shared" or "per_language" (see render.py)

    @property
    def depth(self) -> int:
        return self.pipeline.depth

    @property
    def canonical(self) -> str:
        return self.pipeline.canonical

    @property
    def templates(self) -> tuple[str, ...]:
        return self.pipeline.templates

    def prompt(self, lang: str, describe: bool = True) -> str:
        """Tag line, description comment (unless not `describe`) and signature; no trailing newline."""
        return render.prompt(lang, self.description, self.signature.name, self.pipeline.params, self.naming,
                             describe)

    def solution(self, lang: str) -> str:
        """The reference completion: "\\n" + body + closing line + "\\n"."""
        return render.solution(lang, self.pipeline, self.naming)

    def signature_line(self, lang: str) -> str:
        """The prompt's signature line (Perl's includes `my (...) = @_;`), under this task's naming."""
        return render.named_signature_line(lang, self.signature.name, self.pipeline.params, self.naming)

    def document(self, lang: str) -> str:
        """prompt + solution: the text of this task in a pretraining or SFT corpus."""
        return self.prompt(lang) + self.solution(lang)

    def harness(self, lang: str) -> str:
        return render.harness(lang, self.signature.name, self.tests)

    def program(self, lang: str, completion: str) -> str:
        """A runnable, sealed program (`Language.seal`): the strict checks, prompt + truncate(completion), the
        tests; it exits 0 and prints its proof token iff every test passes: run it with `proof=True`."""
        return render.program(lang, self.prompt(lang), completion, self.harness(lang))

    def judged(self, lang: str, completion: str, id: str | None = None):
        """(the sealed `Program` of `program(lang, completion)`, run with `proof=True` where the language seals,
        the function from its `Result` to the verdict: the `Result` itself). Rewards and evaluation judge
        every task through `judged`, whatever its form (`io_task.IOTask` judges by outputs)."""
        from evals.execution import Program
        from evals.languages import sealable
        return Program(lang, self.program(lang, completion), id=id, proof=sealable(lang)), _as_is

    def stop(self, lang: str) -> tuple[str, ...]:
        return render.stop(lang)

    def truncate(self, lang: str, text: str) -> str:
        return render.truncate(lang, text)


def _as_is(result):
    """The verdict of a sealed program: its `Result` (it passed iff every test passed and the proof came)."""
    return result
