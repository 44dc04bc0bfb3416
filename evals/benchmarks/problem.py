"""One benchmark problem in one language, and how it becomes a complete runnable program.

A `Problem` is data: the prompt a model continues, the tests that judge it, and the reference
solution when the benchmark has one. `program(completion)` glues prompt + completion + tests into the
text the executor runs (exit 0 means the tests passed), sealed (`seal`) when the language can prove
that its tests ran to their end: run it as `Program(..., proof=problem.proof)`. Formats whose tests need a harness beyond
concatenation (HumanEval-X's Go and Rust tests, MultiPL-E's Java, Go, Lua and Ruby) name an assembler
module in `format`. Not for: reading files (the loaders) or running programs (`evals.execution`).
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field

# format -> module with `parts(problem, code) -> (code, tests)`; "plain" is prompt + code, tests + suffix.
_ASSEMBLERS = {"humaneval-x": "evals.benchmarks.humaneval_x", "multipl-e": "evals.benchmarks.multipl_e"}


@dataclass(frozen=True)
class Problem:
    id: str = field(metadata={"help": "Task id as the benchmark spells it, e.g. 'MBPP/21'."})
    number: int = field(metadata={"help": "The number in the id; problems align across languages by it."})
    lang: str = field(metadata={"help": "Canonical language name (evals.languages), or the benchmark's "
                                        "own name when we have no runner for it (see `unavailable`)."})
    prompt: str = field(metadata={"help": "What a model continues: signature and docstring."})
    tests: str = field(metadata={"help": "Test code appended after the completion."})
    entry_point: str = field(metadata={"help": "Name of the function under test."})
    solution: str | None = field(metadata={"help": "Reference completion; None when the benchmark has none."})
    benchmark: str = field(metadata={"help": "mbxp | multi-humaneval | humaneval-x | multipl-e."})
    description: str = field(default="", metadata={"help": "Natural-language task statement, if given."})
    suffix: str = field(default="", metadata={"help": "Appended after the tests (e.g. '\\ncheck(f)\\n')."})
    format: str = field(default="plain", metadata={"help": "How `program` assembles: plain or a format."})
    stop_tokens: tuple[str, ...] = field(default=(), metadata={"help": "Where generation should stop."})
    extra: tuple[tuple[str, str], ...] = field(
        default=(), metadata={"help": "Format-specific fields the assembler needs, as (key, value) pairs."})
    unavailable: str = field(default="", metadata={"help": "Why it cannot run here ('' if it can)."})

    @property
    def has_solution(self) -> bool:
        return self.solution is not None and self.solution.strip() != ""

    def get(self, key: str, default: str = "") -> str:
        """A format-specific field from `extra`."""
        return dict(self.extra).get(key, default)

    def program(self, completion: str | None = None) -> str:
        """The complete program: prompt + completion (default: the reference solution) + tests, sealed
        where the completion ends (`seal`)."""
        return seal(self.lang, *self.parts(completion))

    def parts(self, completion: str | None = None) -> tuple[str, str]:
        """(prompt + completion with their setup, tests with their harness): the program before sealing."""
        code = self.solution if completion is None else completion
        if code is None:
            raise ValueError(f"{self.id} has no reference solution: pass a completion")
        module = _ASSEMBLERS.get(self.format)
        if module is None:
            sep = "" if code.endswith("\n") or self.tests.startswith("\n") or not code else "\n"
            return self.prompt + code, sep + self.tests + self.suffix
        return importlib.import_module(module).parts(self, code)

    @property
    def proof(self) -> bool:
        """Whether `program` is sealed: the `proof` its `Program` should ask for."""
        return sealable(self.lang)


def concat(prompt: str, code: str, tests: str, suffix: str = "") -> str:
    """prompt + code + tests + suffix, with a line break between code and tests when neither has one
    (unsealed: `Problem.program` seals)."""
    sep = "" if code.endswith("\n") or tests.startswith("\n") or not code else "\n"
    return prompt + code + sep + tests + suffix


def sealable(lang: str) -> bool:
    """Whether `lang` has a `Language.seal` (its benchmark programs are then run with `proof=True`)."""
    from evals.languages import sealable as has_seal
    return has_seal(lang)


def seal(lang: str, code: str, tests: str) -> str:
    """`Language.seal(code, tests)` for a language that has one (code: prompt + completion, untrusted;
    tests: the benchmark's tests and harness), else code + tests."""
    if not sealable(lang):
        return code + tests
    from evals.languages import get_language
    return get_language(lang).seal(code, tests)


_NUMBER = re.compile(r"(\d+)")


def task_number(task_id: str) -> int:
    """The problem number: the first integer after the last '/', else the first in the id.

    >>> task_number("MBPP/21"), task_number("HumanEval_go/0"), task_number("HumanEval_12_foo")
    (21, 0, 12)
    """
    tail = task_id.rsplit("/", 1)[-1]
    m = _NUMBER.search(tail) or _NUMBER.search(task_id)
    if m is None:
        raise ValueError(f"no problem number in task id {task_id!r}")
    return int(m.group(1))


def resolve_lang(name: str, table: dict[str, str] | None = None) -> tuple[str, str]:
    """(canonical name, why unavailable) for a benchmark's language name; a language we have no runner
    for keeps its given name and gets a reason, so it is loaded and reported rather than dropped."""
    from evals.languages import UnknownLanguage, get_language

    key = name.strip().lower()
    key = (table or {}).get(key, key)
    try:
        return get_language(key).name, ""
    except UnknownLanguage:
        return key, f"no runner for {key!r} in evals.languages"


def normalize_langs(langs) -> set[str] | None:
    """Requested languages (names or aliases, a list or 'a,b') as canonical names; None means all."""
    if not langs:
        return None
    if isinstance(langs, str):
        langs = langs.split(",")
    return {resolve_lang(x)[0] for x in langs if x.strip()} or None
