"""deepmind/code_contests records as `IOProblem`s (the AlphaCode data: Codeforces, AtCoder, CodeChef,
HackerEarth, Aizu problems with public, private and generated tests).

The schema (the dataset's card and its `contest_problem.proto`), one problem a record:
    name                      str: the problem's id here (e.g. "1548_E. Gregor and the Two Painters")
    description               str: the statement
    public_tests, private_tests, generated_tests
                              {"input": [str], "output": [str]} (a list of {"input", "output"} is read too)
    solutions, incorrect_solutions
                              {"language": [int], "solution": [str]}: 0 UNKNOWN_LANGUAGE, 1 PYTHON (Python 2),
                              2 CPP, 3 PYTHON3, 4 JAVA (the names are read too)
    time_limit                {"seconds": int, "nanos": int} or null
    memory_limit_bytes        int (0: not given)
    input_file, output_file   a file the program reads / writes instead of stdin / stdout ('' for none)
Other fields (source, difficulty, cf_*) are ignored. Python 2 references keep their language
("python2", with no runner here) and are reported as unavailable; so are problems that read a file.

Not for: finding files (`io_source.py`) or judging (`io_judge.py`).
"""
from __future__ import annotations

from evals.scoring.output_check import OutputRule

from .io_problem import IOProblem, IOSolution, IOTest
from .problem import resolve_lang
from .source import BenchmarkFormatError, Record

# The proto's Language enum, by number and by name.
LANGUAGE_CODES = {0: "unknown", 1: "python2", 2: "cpp", 3: "python", 4: "java"}
_LANGUAGE_NAMES = {"unknown_language": "unknown", "python": "python2", "cpp": "cpp", "python3": "python",
                   "java": "java"}


def _tests(rec: Record, key: str) -> tuple[IOTest, ...]:
    value = rec.field(key, required=False)
    if value is None:
        return ()
    if isinstance(value, list):  # a list of {"input", "output"}
        pairs = []
        for j, t in enumerate(value):
            if not isinstance(t, dict) or not isinstance(t.get("input"), str) or not isinstance(t.get("output"), str):
                raise BenchmarkFormatError(f"{rec.origin}: {key}[{j}] should be {{'input': str, 'output': str}}")
            pairs.append((t["input"], t["output"]))
    elif isinstance(value, dict):
        ins, outs = value.get("input") or [], value.get("output") or []
        if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
            raise BenchmarkFormatError(f"{rec.origin}: {key} should be {{'input': [...], 'output': [...]}} "
                                       "of equal lengths")
        pairs = list(zip(ins, outs))
    else:
        raise BenchmarkFormatError(f"{rec.origin}: {key} should be {{'input': [...], 'output': [...]}}, "
                                   f"got {type(value).__name__}")
    for j, (i, o) in enumerate(pairs):
        if not isinstance(i, str) or not isinstance(o, str):
            raise BenchmarkFormatError(f"{rec.origin}: {key} test {j}: input and output should be strings")
    return tuple(IOTest(i, o) for i, o in pairs)


def language(code, origin: str) -> str:
    """A code_contests language (number or enum name) as a language name of ours (or the data's own)."""
    if isinstance(code, bool) or not isinstance(code, (int, str)):
        raise BenchmarkFormatError(f"{origin}: language should be a number (0-4) or a name, got {code!r}")
    if isinstance(code, int):
        if code not in LANGUAGE_CODES:
            raise BenchmarkFormatError(f"{origin}: unknown language code {code} (known: 0-4)")
        return LANGUAGE_CODES[code]
    key = code.strip().lower()
    return _LANGUAGE_NAMES.get(key, key)


def _solutions(rec: Record, key: str) -> tuple[IOSolution, ...]:
    value = rec.field(key, required=False)
    if value is None:
        return ()
    if isinstance(value, list):  # a list of {"language", "solution"}
        value = {"language": [v.get("language") for v in value if isinstance(v, dict)],
                 "solution": [v.get("solution") for v in value if isinstance(v, dict)]}
    if not isinstance(value, dict):
        raise BenchmarkFormatError(f"{rec.origin}: {key} should be {{'language': [...], 'solution': [...]}}")
    langs, codes = value.get("language") or [], value.get("solution") or []
    if len(langs) != len(codes):
        raise BenchmarkFormatError(f"{rec.origin}: {key} has {len(langs)} languages for {len(codes)} solutions")
    out = []
    for code_lang, code in zip(langs, codes):
        if not isinstance(code, str):
            raise BenchmarkFormatError(f"{rec.origin}: {key}: a solution should be a string")
        name = language(code_lang, rec.origin)
        lang, why = resolve_lang(name)
        out.append(IOSolution(lang, code, why))
    return tuple(out)


def _time_limit(rec: Record) -> float | None:
    value = rec.field("time_limit", required=False)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) or None
    if isinstance(value, dict):
        try:
            t = float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
        except (TypeError, ValueError):
            t = -1
        if t >= 0:
            return t or None
    raise BenchmarkFormatError(f"{rec.origin}: time_limit should be {{'seconds': int, 'nanos': int}}, got {value!r}")


def from_record(rec: Record, index: int = 0) -> IOProblem:
    name = rec.text("name")
    if not name.strip():
        raise BenchmarkFormatError(f"{rec.origin}: empty 'name'")
    statement = rec.text("description", required=False)
    mem = rec.field("memory_limit_bytes", required=False)
    if mem is not None and (isinstance(mem, bool) or not isinstance(mem, int) or mem < 0):
        raise BenchmarkFormatError(f"{rec.origin}: memory_limit_bytes should be a non-negative integer")
    public, private, generated = (_tests(rec, k) for k in ("public_tests", "private_tests", "generated_tests"))
    unavailable = ""
    files = [f"{k} {rec.data[k]!r}" for k in ("input_file", "output_file") if rec.data.get(k)]
    if files:
        unavailable = f"uses a file, not stdin/stdout ({', '.join(files)})"
    elif not (public or private or generated):
        unavailable = "no tests"
    return IOProblem(
        id=name, statement=statement, benchmark="code-contests", public_tests=public, private_tests=private,
        generated_tests=generated, time_limit_s=_time_limit(rec),
        memory_mb=(mem >> 20) if mem else None,
        solutions=_solutions(rec, "solutions"), incorrect_solutions=_solutions(rec, "incorrect_solutions"),
        rule=OutputRule.from_statement(statement), unavailable=unavailable, origin=rec.origin)
