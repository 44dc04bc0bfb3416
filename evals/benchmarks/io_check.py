"""Checking a stdin/stdout benchmark: every correct reference must pass its problem's tests, and every
incorrect one (code_contests keeps them) must fail them, or the tests are too weak to tell. Counted per
language. Problems that cannot be judged as stdin/stdout (call-based, file I/O, no tests) are counted by
reason and not run.

Not for: scoring model completions (`io_judge.judge`).
"""
from __future__ import annotations

from collections.abc import Iterable

from .io_judge import IOVerdict, JudgeConfig, judge
from .io_problem import IOProblem


def check_io_benchmark(problems: Iterable[IOProblem], executor, config: JudgeConfig | None = None,
                       langs: set[str] | None = None, progress: bool = False) -> dict:
    """{"problems": {"total", "judged", "unavailable": {reason: n}},
        "correct": {lang: {"total", "checked", "passed", "failed": [ids], "unavailable"?: reason}},
        "incorrect": {lang: {"total", "checked", "rejected", "accepted": [ids], ...}}}
    (`langs`: only references in these languages; None: all)."""
    problems = list(problems)
    report: dict = {"problems": {"total": len(problems), "judged": 0, "unavailable": {}},
                    "correct": {}, "incorrect": {}}
    todo: list[tuple[str, IOProblem, str, str]] = []
    for p in problems:
        if p.unavailable:
            reason = p.unavailable.split(" (")[0].split(":")[0]
            report["problems"]["unavailable"][reason] = report["problems"]["unavailable"].get(reason, 0) + 1
            continue
        report["problems"]["judged"] += 1
        for kind, sols in (("correct", p.solutions), ("incorrect", p.incorrect_solutions)):
            for s in sols:
                if langs is not None and s.lang not in langs:
                    continue
                row = report[kind].setdefault(s.lang, _row(kind))
                row["total"] += 1
                if s.unavailable:
                    row["unavailable"] = s.unavailable
                    continue
                todo.append((kind, p, s.lang, s.code))
    verdicts = judge(executor, [(p, lang, code) for _, p, lang, code in todo], config, progress=progress,
                     desc="references")
    for (kind, p, lang, _), v in zip(todo, verdicts):
        _count(report[kind][lang], kind, p, v)
    return report


def _row(kind: str) -> dict:
    if kind == "correct":
        return {"total": 0, "checked": 0, "passed": 0, "failed": []}
    return {"total": 0, "checked": 0, "rejected": 0, "accepted": []}


def _count(row: dict, kind: str, p: IOProblem, v: IOVerdict) -> None:
    from evals.execution import Status

    if v.status is Status.UNAVAILABLE:
        row["unavailable"] = v.detail or "runtime not available"
        return
    row["checked"] += 1
    if kind == "correct":
        if v.passed:
            row["passed"] += 1
        else:
            row["failed"].append(f"{p.id}: {v.status.value} ({v.detail})")
    elif v.passed:
        row["accepted"].append(p.id)
    else:
        row["rejected"] += 1
