"""APPS and TACO records as `IOProblem`s (codeparrot/apps, BAAI/TACO: the same layout).

The schema, one problem a record:
    problem_id      int (APPS; TACO has none: the record's 0-based position in the data is the id)
    question        str: the statement
    input_output    JSON text {"inputs": [...], "outputs": [...], "fn_name"?: str} (or that object itself;
                    '' when the problem has no tests)
    solutions       JSON text of a list of Python programs (or the list itself; '' for none)
    starter_code    str (call-based problems start from it)
    time_limit      TACO only: text such as "2 seconds" (kept when it names seconds)
    memory_limit    TACO only: text such as "256 megabytes"
An input or output given as a list of lines is joined with line breaks, as APPS' own harness does. All
tests go to `private_tests` (the data does not say which ones the statement shows).

Call-based problems (`fn_name` set, e.g. LeetCode-style `class Solution`) have tests that are function
arguments and return values, not standard input: they are loaded with `unavailable` saying so, counted
by `psft check-bench`, and never run (turning them into stdin programs would need a harness per
language). Solutions are Python (APPS mixes in some Python 2, which then fails: `check-bench` shows it).
"""
from __future__ import annotations

import json
import re

from evals.scoring.output_check import OutputRule

from .io_problem import IOProblem, IOSolution, IOTest
from .source import BenchmarkFormatError, Record

_SECONDS = re.compile(r"([\d.]+)\s*(?:s\b|sec|second)", re.IGNORECASE)
_MEGABYTES = re.compile(r"([\d.]+)\s*(?:mb\b|mib\b|megabyte)", re.IGNORECASE)


def _json_field(rec: Record, key: str, kind: type):
    value = rec.field(key, required=False)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise BenchmarkFormatError(f"{rec.origin}: {key} is not valid JSON ({e.msg})") from None
    if not isinstance(value, kind):
        raise BenchmarkFormatError(f"{rec.origin}: {key} should hold a JSON {kind.__name__}, "
                                   f"got {type(value).__name__}")
    return value


def _text(value, origin: str, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return "\n".join(value)
    raise BenchmarkFormatError(f"{origin}: {what} should be a string (or a list of lines), "
                               f"got {type(value).__name__}")


def _number(text, pattern: re.Pattern) -> float | None:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) or None
    m = pattern.search(text) if isinstance(text, str) else None
    return float(m.group(1)) if m else None


def from_record(rec: Record, index: int = 0) -> IOProblem:
    pid = rec.field("problem_id", required=False)
    task_id = str(pid) if pid is not None and str(pid).strip() else str(index)
    statement = rec.text("question")
    io = _json_field(rec, "input_output", dict) or {}
    fn_name = io.get("fn_name")
    ins, outs = io.get("inputs") or [], io.get("outputs") or []
    if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
        raise BenchmarkFormatError(f"{rec.origin}: input_output should have lists 'inputs' and 'outputs' "
                                   "of equal lengths")
    unavailable, tests = "", ()
    if fn_name:
        unavailable = (f"call-based (fn_name {fn_name!r}): its tests are function arguments and return "
                       "values, not standard input")
    else:
        tests = tuple(IOTest(_text(i, rec.origin, f"input {j}"), _text(o, rec.origin, f"output {j}"))
                      for j, (i, o) in enumerate(zip(ins, outs)))
        if not tests:
            unavailable = "no tests"
    codes = _json_field(rec, "solutions", list) or []
    if not all(isinstance(c, str) for c in codes):
        raise BenchmarkFormatError(f"{rec.origin}: solutions should be a list of strings")
    mem = _number(rec.field("memory_limit", required=False), _MEGABYTES)
    return IOProblem(
        id=task_id, statement=statement, benchmark="apps", private_tests=tests,
        time_limit_s=_number(rec.field("time_limit", required=False), _SECONDS),
        memory_mb=int(mem) if mem else None, solutions=tuple(IOSolution("python", c) for c in codes),
        rule=OutputRule.from_statement(statement), starter_code=rec.text("starter_code", required=False),
        unavailable=unavailable, origin=rec.origin)
