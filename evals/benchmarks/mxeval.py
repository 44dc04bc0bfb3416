"""Loader for mxeval's JSONL (MBXP and Multi-HumanEval): one problem a line with `task_id, prompt,
entry_point, test, description, language, canonical_solution`.

A program is prompt + solution + test, and for Python also `check(<entry_point>)`, exactly as mxeval
runs it. Languages we have no runner for (kotlin, scala, swift, csharp) are loaded with their own name
and an `unavailable` reason. Not for: running anything.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .problem import Problem, normalize_langs, resolve_lang, task_number
from .source import BenchmarkFormatError, Record, files_in, hub_records, locate, read_file, select

HUB_IDS = {"mbxp": "mxeval/mbxp", "multi-humaneval": "mxeval/multi-humaneval"}
# mxeval's language names (also its hub configs).
LANGUAGES = ("python", "java", "javascript", "typescript", "kotlin", "ruby", "php", "cpp", "csharp", "go",
             "perl", "scala", "swift")
# Task-id prefix -> language, for records without a `language` field.
_PREFIX = {"MBPP": "python", "MBJP": "java", "MBJSP": "javascript", "MBTSP": "typescript", "MBKP": "kotlin",
           "MBRBP": "ruby", "MBPHP": "php", "MBCPP": "cpp", "MBCSP": "csharp", "MBGP": "go", "MBPLP": "perl",
           "MBSCP": "scala", "MBSWP": "swift", "HumanEval": "python"}


def load(path_or_id: str | Path, langs: Iterable[str] | str | None = None,
         benchmark: str = "mbxp") -> Iterator[Problem]:
    """Problems from a .jsonl file, a folder of them, or a hub id (mxeval/mbxp, mxeval/multi-humaneval)."""
    wanted = normalize_langs(langs)
    where = locate(path_or_id)
    if isinstance(where, str):
        configs = [c for c in LANGUAGES if wanted is None or resolve_lang(c)[0] in wanted]
        records: Iterable[Record] = hub_records(where, configs)
    elif where.is_dir():
        records = (r for f in files_in(where, ("*.jsonl", "*.jsonl.gz")) for r in read_file(f))
    else:
        records = read_file(where)
    yield from select(records, lambda rec: from_record(rec, benchmark), wanted)


def from_record(rec: Record, benchmark: str = "mbxp") -> Problem:
    task_id = rec.text("task_id")
    given = rec.field("language", required=False) or _PREFIX.get(task_id.split("/")[0].split("_")[0], "")
    if not given:
        raise BenchmarkFormatError(f"{rec.origin}: no `language` field and unknown task prefix "
                                   f"in {task_id!r}")
    lang, why = resolve_lang(str(given))
    try:
        number = task_number(task_id)
    except ValueError as e:
        raise BenchmarkFormatError(f"{rec.origin}: {e}") from None
    entry = rec.text("entry_point")
    solution = rec.field("canonical_solution", required=False)
    if solution is not None and not isinstance(solution, str):
        raise BenchmarkFormatError(f"{rec.origin}: field 'canonical_solution' should be a string")
    return Problem(
        id=task_id, number=number, lang=lang, prompt=rec.text("prompt"), tests=rec.text("test"),
        entry_point=entry, solution=solution, benchmark=benchmark,
        description=rec.text("description", required=False),
        suffix=f"\ncheck({entry})\n" if lang == "python" else "", unavailable=why)
