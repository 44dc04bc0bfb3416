"""Checking a benchmark: run every reference solution against its own tests and count, per language,
how many pass. Machine-made references (MBXP) sometimes fail; this is how to find out which.

Not for: scoring model completions (run them with the executor, score with `evals.scoring`).
"""
from __future__ import annotations

from collections.abc import Iterable

from .problem import Problem


def run_solutions(problems: Iterable[Problem], executor, limits=None, progress: bool = False) -> dict:
    """{(lang, id): Result} for every problem with a reference solution that can run here (sealed
    programs of languages with a `Language.seal` must also print their completion proof)."""
    from evals.execution import Program

    todo = [p for p in problems if p.has_solution and not p.unavailable]
    programs = [Program(lang=p.lang, source=p.program(), id=p.id, proof=p.proof) for p in todo]
    kwargs = {"limits": limits} if limits is not None else {}
    results = executor.map(programs, progress=progress, **kwargs)
    return {(p.lang, p.id): r for p, r in zip(todo, results)}


def summarize(problems: Iterable[Problem], results: dict) -> dict[str, dict]:
    """{lang: {"total", "checked", "passed", "failed": [ids]}} (+ "unavailable": reason when the
    language cannot run here). Problems without a solution count in total only."""
    from evals.execution import Status

    report: dict[str, dict] = {}
    for p in problems:
        row = report.setdefault(p.lang, {"total": 0, "checked": 0, "passed": 0, "failed": []})
        row["total"] += 1
        if p.unavailable:
            row["unavailable"] = p.unavailable
            continue
        r = results.get((p.lang, p.id))
        if r is None:
            continue
        if r.status is Status.UNAVAILABLE:
            row["unavailable"] = r.detail or "runtime not available"
            continue
        row["checked"] += 1
        if r.passed:
            row["passed"] += 1
        else:
            row["failed"].append(p.id)
    return report


def check_benchmark(problems: Iterable[Problem], executor, limits=None, progress: bool = False
                    ) -> dict[str, dict]:
    """Run each reference solution through `executor` (an `evals.execution.Executor`) and summarize."""
    problems = list(problems)
    return summarize(problems, run_solutions(problems, executor, limits=limits, progress=progress))
