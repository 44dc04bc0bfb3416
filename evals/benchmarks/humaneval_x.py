"""Loader and program assembly for HumanEval-X (CodeGeeX): gzipped JSONL `humaneval_<lang>.jsonl.gz` with
`task_id` (e.g. "CPP/0"), `prompt, declaration, canonical_solution, test, example_test`, and for Go
also `import, test_setup`. Languages: python, cpp, java, js, go, rust.

Programs follow CodeGeeX's evaluation (prompt + solution + test, with its helper imports), made
standalone where CodeGeeX relies on a test runner: Go's `go test` + testify tests and Rust's
`cargo test` module get a `main` (see `harness`), and JavaScript's `console.assert` is made to throw.
Not for: running anything.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import harness
from .problem import Problem, normalize_langs, resolve_lang, task_number
from .source import BenchmarkFormatError, Record, files_in, hub_records, locate, read_file, select

HUB_ID = "THUDM/humaneval-x"
# task-id prefix / file-name language -> our language; hub config per language.
_LANGS = {"python": "python", "cpp": "cpp", "java": "java", "javascript": "javascript", "js": "javascript",
          "go": "go", "rust": "rust"}
_HUB_CONFIGS = {"python": "python", "cpp": "cpp", "java": "java", "javascript": "js", "go": "go",
                "rust": "rust"}

# CodeGeeX's helper imports (numpy left out: not part of a bare Python).
_PY_IMPORTS = ("import math\nimport re\nimport sys\nimport copy\nimport datetime\nimport itertools\n"
               "import collections\nimport heapq\nimport statistics\nimport functools\nimport hashlib\n"
               "import string\nfrom typing import *\nfrom collections import *\n")
_CPP_INCLUDES = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
                 "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>",
                 "#include<iostream>", "#include<cassert>")
_GO_PACKAGES = ["math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand",
                "crypto/md5"]
# Crates HumanEval-X's Rust declarations `use` but that a bare rustc does not have.
_RUST_CRATES = {"use rand::Rng;": "rand", "use regex::Regex;": "Regex", "use md5;": "md5"}


def load(path_or_id: str | Path, langs: Iterable[str] | str | None = None) -> Iterator[Problem]:
    """Problems from a humaneval_<lang>.jsonl(.gz) file, a folder holding such files (searched
    recursively, as in the CodeGeeX repository), or the hub id THUDM/humaneval-x."""
    wanted = normalize_langs(langs)
    where = locate(path_or_id)
    if isinstance(where, str):
        configs = [c for lang, c in _HUB_CONFIGS.items() if wanted is None or lang in wanted]
        records: Iterable[Record] = hub_records(where, configs)
    elif where.is_dir():
        files = files_in(where, ("humaneval*.jsonl", "humaneval*.jsonl.gz"), recursive=True)
        records = (r for f in files for r in read_file(f))
    else:
        records = read_file(where)
    yield from select(records, from_record, wanted)


def from_record(rec: Record) -> Problem:
    task_id = rec.text("task_id")
    prefix = task_id.split("/")[0].lower()
    if prefix not in _LANGS:
        raise BenchmarkFormatError(f"{rec.origin}: unknown language prefix in task id {task_id!r}")
    lang, why = resolve_lang(_LANGS[prefix])
    try:
        number = task_number(task_id)
    except ValueError as e:
        raise BenchmarkFormatError(f"{rec.origin}: {e}") from None
    declaration = rec.text("declaration", required=False)
    prompt = rec.text("prompt")
    extra = {"declaration": declaration, "example_test": rec.text("example_test", required=False)}
    if lang == "go":
        extra["import"] = rec.text("import", required=False)
        extra["test_setup"] = rec.text("test_setup", required=False)
    solution = rec.field("canonical_solution", required=False)
    return Problem(
        id=task_id, number=number, lang=lang, prompt=prompt, tests=rec.text("test"),
        entry_point=rec.field("entry_point", required=False) or entry_point(declaration or prompt),
        solution=solution if isinstance(solution, str) else None, benchmark="humaneval-x",
        description=rec.text("text", required=False), format="humaneval-x",
        extra=tuple(extra.items()), unavailable=why)


def entry_point(declaration: str) -> str:
    """The declared function's name, best effort (HumanEval-X has no entry_point field)."""
    for pat in (r"^\s*def\s+(\w+)", r"^\s*func\s+(\w+)", r"^\s*fn\s+(\w+)", r"^\s*function\s+(\w+)",
                r"^\s*const\s+(\w+)\s*=", r"(\w+)\s*\([^()]*\)\s*(?:->\s*[^{]+)?\{?\s*$"):
        names = [n for n in re.findall(pat, declaration, re.MULTILINE) if n != "main"]
        if names:
            return names[-1]
    return ""


def parts(problem: Problem, code: str) -> tuple[str, str]:
    """(prompt + completion with their setup, tests with their harness), as CodeGeeX runs them."""
    lang, prompt, test = problem.lang, problem.prompt, problem.tests
    if lang == "python":
        if not re.search(r"^check\(", test, re.MULTILINE):
            test += f"\ncheck({problem.entry_point})\n"
        return _PY_IMPORTS + prompt + code, "\n" + test + "\n"
    if lang == "cpp":
        setup = "".join(inc + "\n" for inc in _CPP_INCLUDES if inc not in prompt)
        return setup + "\n" + prompt + code, "\n" + test
    if lang == "javascript":
        return prompt + code, "\n" + harness.js_strict_console_assert(test)
    if lang == "go":
        candidates = (harness.go_imports(prompt) + harness.go_imports(problem.get("import"))
                      + harness.go_imports(problem.get("test_setup")) + _GO_PACKAGES)
        return harness.go_test_parts(harness.strip_go_package_and_imports(prompt) + code,
                                     harness.strip_go_package_and_imports(test), candidates)
    if lang == "rust":
        head = prompt
        if "use std" not in prompt:
            uses = [ln for ln in problem.get("declaration").splitlines() if ln.startswith("use ")]
            head = "\n".join(uses) + "\n" + prompt
        for line, name in _RUST_CRATES.items():
            if not re.search(rf"\b{name}\b", code):
                head = head.replace(line, "")
        return harness.rust_tests_parts(head + code, "\n" + test)
    return prompt + code, "\n" + test  # java, and anything else
