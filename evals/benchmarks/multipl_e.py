"""Loader and program assembly for MultiPL-E: records `name, language, prompt, tests, stop_tokens` (as in
the nuprl/MultiPL-E dataset or its prompt files, JSONL or a JSON array). No reference solutions.

A program is prompt + completion + "\\n" + tests, as MultiPL-E runs it. Where MultiPL-E's runner does
more than run the file, we make the program standalone: Java gets assertions enabled (MultiPL-E runs
`java -ea`) and an unused `org.javatuples` import dropped; Go's `go test` file gets a `main`; Lua's
`os.exit(lu.LuaUnit.run())` and Ruby's test/unit (which runs at exit) run the tests where they stand and
exit only on a failure, so that a seal's end of program comes after them.
Not for: running anything, or stopping generations at stop tokens.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import harness
from .problem import Problem, normalize_langs, resolve_lang, task_number
from .source import BenchmarkFormatError, Record, files_in, hub_records, locate, read_file, select

HUB_ID = "nuprl/MultiPL-E"
# MultiPL-E's language codes -> ours (others are loaded with their own code and flagged unavailable).
_LANGS = {"py": "python", "js": "javascript", "ts": "typescript", "rb": "ruby", "php": "php", "lua": "lua",
          "pl": "perl", "go_test.go": "go", "go": "go", "cpp": "cpp", "java": "java", "rs": "rust"}
_HUB_CODES = {"python": "py", "javascript": "js", "typescript": "ts", "ruby": "rb", "php": "php",
              "lua": "lua", "perl": "pl", "go": "go", "cpp": "cpp", "java": "java", "rust": "rs"}
_JAVATUPLES = re.compile(r"\b(Unit|Pair|Triplet|Quartet|Quintet|Sextet|Septet|Octet|Ennead|Decade|KeyValue|"
                         r"LabelValue)\s*<")


def load(path_or_id: str | Path, langs: Iterable[str] | str | None = None,
         subset: str = "humaneval") -> Iterator[Problem]:
    """Problems from a .jsonl/.json file, a folder of them, or the hub id nuprl/MultiPL-E (configs
    `<subset>-<code>`, e.g. humaneval-js)."""
    wanted = normalize_langs(langs)
    where = locate(path_or_id)
    if isinstance(where, str):
        configs = [f"{subset}-{code}" for lang, code in _HUB_CODES.items()
                   if wanted is None or lang in wanted]
        records: Iterable[Record] = hub_records(where, configs)
    elif where.is_dir():
        files = files_in(where, ("*.jsonl", "*.jsonl.gz", "*.json"))
        records = (r for f in files for r in read_file(f))
    else:
        records = read_file(where)
    yield from select(records, from_record, wanted)


def from_record(rec: Record) -> Problem:
    name = rec.text("name")
    code = rec.text("language").strip().lower()
    lang, why = resolve_lang(code, _LANGS)
    try:
        number = task_number(name)
    except ValueError as e:
        raise BenchmarkFormatError(f"{rec.origin}: {e}") from None
    stops = rec.field("stop_tokens", required=False, default=[])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise BenchmarkFormatError(f"{rec.origin}: field 'stop_tokens' should be a list of strings")
    m = re.match(r"^[A-Za-z]+_\d+_(\w+)$", name)
    return Problem(
        id=name, number=number, lang=lang, prompt=rec.text("prompt"), tests=rec.text("tests"),
        entry_point=m.group(1) if m else "", solution=None, benchmark="multipl-e", format="multipl-e",
        stop_tokens=tuple(stops), extra=(("language", code),), unavailable=why)


def parts(problem: Problem, code: str) -> tuple[str, str]:
    """(prompt + completion, "\\n" + tests), made standalone where MultiPL-E's runner does more."""
    head, tests = problem.prompt + code, "\n" + problem.tests
    if problem.lang == "java":
        if not _JAVATUPLES.search(code + problem.tests + problem.prompt):
            head = re.sub(r"^import\s+org\.javatuples\.\*;\s*\n", "", head, flags=re.MULTILINE)
        return harness.java_with_assertions(head, tests)
    if problem.lang == "go":
        return harness.go_test_parts(harness.strip_go_package_and_imports(head),
                                     harness.strip_go_package_and_imports(tests), harness.go_imports(problem.prompt))
    if problem.lang == "lua":
        return head, harness.lua_run_without_exit(tests)
    if problem.lang == "ruby":
        return head, harness.ruby_run_test_unit(tests)
    return head, tests
