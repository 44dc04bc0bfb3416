"""Which problems of a benchmark are for training and which for evaluation, and which references pass.

MBXP keeps MBPP's numbering: 1-10 are prompt examples, 11-510 test, 511-600 validation, 601-974
train (Austin et al., 2021). Training data (SFT, RL) comes from train/validation numbers only; test
numbers are for evaluation. `check_disjoint` refuses a training range that touches the test numbers.
Multi-HumanEval (and HumanEval-X, MultiPL-E) are evaluation-only.

`passing_references(tasks, langs, executor)` runs every reference through the same assembly a model's
completion gets (`BenchTask.program(lang, BenchTask.solution(lang))`) and returns which pass: machine-made
references sometimes fail their own tests, and only passing ones may become training data.
Not for: building SFT arms (`train/bench_data.py`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

MBPP_SPLITS: dict[str, tuple[int, int]] = {"prompt": (1, 10), "test": (11, 510), "valid": (511, 600),
                                           "train": (601, 974)}
TRAINABLE = ("train", "valid")


def mbpp_split(number: int) -> str:
    """The MBPP split of a problem number ('' beyond 974)."""
    for name, (lo, hi) in MBPP_SPLITS.items():
        if lo <= number <= hi:
            return name
    return ""


def in_range(number: int, ranges: Sequence[Sequence[int]]) -> bool:
    """Whether `number` lies in one of the inclusive `[lo, hi]` ranges."""
    return any(lo <= number <= hi for lo, hi in ranges)


def check_disjoint(ranges: Sequence[Sequence[int]], what: str) -> None:
    """Raise ValueError when a training range overlaps MBPP's prompt-example or test numbers (1-510)."""
    lo_t, hi_t = MBPP_SPLITS["prompt"][0], MBPP_SPLITS["test"][1]
    for lo, hi in ranges:
        if lo > hi:
            raise ValueError(f"{what}: range [{lo}, {hi}] is empty")
        if lo <= hi_t and hi >= lo_t:
            raise ValueError(f"{what}: range [{lo}, {hi}] overlaps the MBPP test and prompt numbers "
                             f"{lo_t}-{hi_t}; training data must come from {MBPP_SPLITS['valid'][0]}-"
                             f"{MBPP_SPLITS['train'][1]}")


def passing_references(tasks: Iterable, langs: Sequence[str], executor, limits=None, progress: bool = False,
                       known: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """{task id: {lang: status}} for every task and language with a reference solution (status 'passed'
    when the reference, assembled as a completion, passes its tests). `known` (program hash -> status)
    supplies earlier verdicts and receives the new ones."""
    from evals.execution import Program
    known = {} if known is None else known
    todo = []
    out: dict[str, dict[str, str]] = {}
    for t in tasks:
        for la in langs:
            if la not in t.langs or not t.problem(la).has_solution or t.problem(la).unavailable:
                continue
            prog = Program(la, t.program(la, t.solution(la)), id=f"{t.id}/{la}", proof=t.problem(la).proof)
            if prog.key() in known:
                out.setdefault(t.id, {})[la] = known[prog.key()]
            else:
                todo.append((t, la, prog))
    kwargs = {"limits": limits} if limits is not None else {}
    results = executor.map([p for _, _, p in todo], progress=progress, **kwargs) if todo else []
    for (t, la, prog), r in zip(todo, results):
        out.setdefault(t.id, {})[la] = known[prog.key()] = r.status.value
    return out
