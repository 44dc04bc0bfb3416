"""The parallel program sets: code only by default (no comments, docstrings or description), the
description variant only on request, every task in every language, MBXP references filtered."""
from __future__ import annotations

import pytest

from probe.programs import benchmark_programs, passing_from_report, strip_comments, world_code, world_programs
from tests import tiny_lm


@pytest.mark.parametrize("lang, code, kept, gone", [
    ("python", 'def f(s):\n    """Count # signs."""\n    # a comment\n    return s.count("#")  # trailing\n',
     ['return s.count("#")'], ["Count", "a comment", "trailing"]),
    ("javascript", '/**\n * Add.\n */\nfunction f(a) {\n  // note\n  return a + "//x"; /* end */\n}\n',
     ['return a + "//x";'], ["Add.", "note", "end"]),
    ("ruby", "# You are an expert\ndef f(s)\n  s.count('#') # why\nend\n", ["s.count('#')", "end"], ["expert", "why"]),
    ("php", "<?php\n/** Doc */\nfunction f($x) {\n    # hash\n    return $x . '#';\n}\n", ["<?php", "return $x . '#';"],
     ["Doc", "hash"]),
    ("lua", "-- describe\nlocal function f(x)\n  --[[ block ]]\n  return x .. '--'\nend\n", ["return x .. '--'"],
     ["describe", "block"]),
    ("perl", "# describe\nsub f {\n    my ($s) = @_; # why\n    return $s;\n}\n", ["my ($s) = @_;"], ["describe", "why"]),
    ("cpp", "#include <vector>\n// describe\nint f(int x) { return x; }\n", ["#include <vector>", "int f(int x)"],
     ["describe"]),
])
def test_strip_comments_removes_comments_not_code(lang, code, kept, gone):
    out = strip_comments(lang, code)
    for k in kept:
        assert k in out, (lang, out)
    for g in gone:
        assert g not in out, (lang, out)
    assert "\n\n" not in out and out.endswith("\n")


def test_world_code_is_the_function_only_and_description_is_a_labelled_variant():
    w = tiny_lm.world()
    task = w.split("test")[0]
    for lang in ("python", "lua", "perl", "php"):
        code = world_code(task, lang)
        assert task.description not in code and "language:" not in code
        assert code.endswith(task.solution(lang)) and task.signature.fn_name(lang) in code
        assert "use strict" not in code and "<?php" not in code
        full = world_code(task, lang, "description")
        assert task.description in full and full == task.document(lang)
        body = world_code(task, lang, "body")
        assert task.signature.name not in body and body.strip() in task.solution(lang)
    with pytest.raises(ValueError):
        world_code(task, "python", "docstring")


def test_world_programs_are_language_major_and_parallel():
    w = tiny_lm.world()
    rows = world_programs(w, "test", ["python", "ruby", "lua"], n_tasks=5)
    assert len(rows) == 15
    ids = [t.id for t in w.split("test")[:5]]
    assert [r.task_id for r in rows] == ids * 3
    assert [r.lang for r in rows] == ["python"] * 5 + ["ruby"] * 5 + ["lua"] * 5
    with pytest.raises(ValueError, match="unknown world language"):
        world_programs(w, "test", ["python", "cobol"])


@pytest.mark.data
def test_mbxp_code_rows_carry_no_description(shared_data):
    from evals.benchmarks import load_benchmark
    langs = ["python", "javascript", "ruby"]
    problems = load_benchmark("mbxp", shared_data / "mbxp", langs)
    rows = benchmark_programs(problems, langs, n_tasks=30)
    assert len(rows) == 90 and [r.lang for r in rows[::30]] == langs
    by_id = {(p.lang, p.number): p for p in problems}
    for r in rows:
        p = by_id[(r.lang, int(r.task_id.split("/")[1]))]
        sentence = p.description.strip().splitlines()[0][:40] if p.description.strip() else None
        if sentence:
            assert sentence not in r.code, (r.task_id, r.lang)
        assert p.entry_point in r.code
    with_desc = benchmark_programs(problems, langs, n_tasks=3, text="description")
    assert any("Write a" in r.code for r in with_desc)
    # a check-bench report removes failing references, from every language of that task
    first = rows[0].task_id
    failing = next(p for p in problems if p.lang == "ruby" and f"mbxp/{p.number}" == first)
    report = {lang: {"total": 1, "checked": 1, "passed": 0, "failed": [failing.id] if lang == "ruby" else []}
              for lang in langs}
    kept = benchmark_programs(problems, langs, n_tasks=30, passing=passing_from_report(report, problems))
    assert first not in {r.task_id for r in kept} and len(kept) == 90
