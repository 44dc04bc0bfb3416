"""Multilingual code benchmarks as `Problem`s, and their alignment across languages.

>>> from evals.benchmarks import load_benchmark, parallel_set
>>> problems = load_benchmark("mbxp", "../shared/data/mbxp", langs="python,ruby")   # doctest: +SKIP
>>> aligned = parallel_set(problems, ["python", "ruby"], require_solution=True)     # doctest: +SKIP
>>> aligned[2]["ruby"].program()                                                    # doctest: +SKIP

Not for: running programs (`evals.execution`) or scoring (`evals.scoring`).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .problem import Problem, normalize_langs
from .source import BenchmarkError, BenchmarkFormatError

BENCHMARKS = ("mbxp", "multi-humaneval", "humaneval-x", "multipl-e")


def load_benchmark(name: str, path_or_id: str | Path, langs: Iterable[str] | str | None = None
                   ) -> list[Problem]:
    """All problems of a benchmark from a file, a folder, or a hub dataset id.

    `langs` (names or aliases; a list or "a,b") restricts the languages; each one asked for must be in
    the benchmark, else `BenchmarkError`.
    """
    key = name.strip().lower().replace("_", "-")
    if key == "mbxp" or key == "multi-humaneval":
        from . import mxeval
        problems = list(mxeval.load(path_or_id, langs, benchmark=key))
    elif key == "humaneval-x":
        from . import humaneval_x
        problems = list(humaneval_x.load(path_or_id, langs))
    elif key == "multipl-e":
        from . import multipl_e
        problems = list(multipl_e.load(path_or_id, langs))
    else:
        raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    wanted = normalize_langs(langs) or set()
    found = {p.lang for p in problems}
    missing = sorted(wanted - found)
    if missing:
        raise BenchmarkError(f"{path_or_id}: no {key} problems in {', '.join(missing)} "
                             f"(found: {', '.join(sorted(found)) or 'none'})")
    if not problems:
        raise BenchmarkError(f"{path_or_id}: no {key} problems found")
    return problems


def parallel_set(problems: Iterable[Problem], langs: Iterable[str] | str, require_solution: bool = False
                 ) -> dict[int, dict[str, Problem]]:
    """{number: {lang: Problem}} for the problem numbers present in every language asked for (with a
    reference solution in each, when `require_solution`), in increasing number order."""
    wanted = sorted(normalize_langs(langs) or ())
    if not wanted:
        raise ValueError("parallel_set needs at least one language")
    by_number: dict[int, dict[str, Problem]] = {}
    for p in problems:
        if p.lang not in wanted or (require_solution and not p.has_solution):
            continue
        slot = by_number.setdefault(p.number, {})
        if p.lang in slot:
            raise ValueError(f"two {p.lang} problems with number {p.number} ({slot[p.lang].id}, {p.id}): "
                             "load one benchmark at a time")
        slot[p.lang] = p
    return {n: {lang: slot[lang] for lang in wanted}
            for n, slot in sorted(by_number.items()) if len(slot) == len(wanted)}


__all__ = ["BENCHMARKS", "BenchmarkError", "BenchmarkFormatError", "Problem", "load_benchmark",
           "parallel_set"]
