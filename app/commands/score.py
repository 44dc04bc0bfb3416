"""`psft score`: run model completions against a benchmark's tests and print pass@1 per language
(generation and execution kept apart, as in bigcode-evaluation-harness: completions in, verdicts out).

The completions file is JSONL, one program a line: {"task_id": "MBPP/12", "completion": "..."}, with an
optional "lang" (needed when a task id names problems in several languages, as MultiPL-E's do). A
completion continues the benchmark's own prompt: the program run is prompt + completion + tests, as the
benchmark's harness assembles it. Several rows may name the same task (samples); identical programs run
once and every row gets its verdict.

`--out FILE` writes one JSON row per input row, in input order: task_id, lang, status, passed, and the
tails of stdout, stderr and detail. `--json` prints {lang: {"n", "passed", "pass@1", "ci95"}}, where
pass@1 is passed / n over the rows and ci95 its Wilson 95% interval; otherwise a short table.
Bad input (a malformed row, an unknown task or language, a missing file, an existing --out without
--force) is reported with its file and line before anything runs, and nothing is written.

Stdin/stdout benchmarks (`code-contests`, `apps`): a completion is a whole program, and "lang" is
required: {"task_id": <problem name>, "lang": "lua", "completion": "<program>"}, in any language the
executor has (the tests are input/output pairs, the same for every language). A row's verdict is over all
the chosen tests (`--tests`); `--out` rows add n_tests, n_passed, counts (tests by status),
first_failure and the per-test verdicts (tests).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

BENCHES = ("mbxp", "multi-humaneval", "humaneval-x", "multipl-e", "code-contests", "apps")


def add_parser(sub):
    p = sub.add_parser("score", description=__doc__, formatter_class=_raw_help(),
                       help="run completions (JSONL) against a benchmark's tests: verdicts and pass@1")
    p.add_argument("--bench", required=True, choices=BENCHES, help="benchmark format")
    p.add_argument("--data", required=True, help="the benchmark: file, folder, or hub dataset id")
    p.add_argument("--completions", required=True, type=Path, metavar="FILE",
                   help='JSONL, one {"task_id", "completion"[, "lang"]} a line')
    p.add_argument("--langs", default=None,
                   help="comma-separated languages to load (default: all in the data); a row in another "
                        "language is an error")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel sandboxed workers (default: all cores); 1 runs programs one at a time, "
                        "in input order")
    p.add_argument("--timeout", type=float, default=10.0, help="per-program time limit, seconds (default 10)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write one JSON verdict a line, in input order")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object {lang: {"n", "passed", "pass@1", "ci95"}}')
    from app.commands.check_bench import add_executor_argument, add_io_arguments
    add_io_arguments(p)
    add_executor_argument(p)
    return p


def _raw_help():
    import argparse
    return argparse.RawDescriptionHelpFormatter


@dataclass(frozen=True)
class Row:
    """One completion to score: where it came from, and the problem it completes."""

    origin: str      # "file:line"
    problem: object  # evals.benchmarks.Problem
    completion: str


def run(args) -> int:
    from app.cli import CliError
    from evals.benchmarks import BenchmarkError, load_benchmark
    from evals.execution import Limits, open_executor
    from evals.execution.sandbox import SandboxUnavailable

    if args.timeout <= 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout}")
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    if args.out is not None:
        if args.out.is_dir():
            raise CliError(f"--out {args.out}: is a folder, expected a file")
        if args.out.exists() and not args.force:
            raise CliError(f"--out {args.out}: already exists (pass --force to overwrite)")
    if not args.completions.is_file():
        raise CliError(f"{args.completions}: no such file")
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs else None
    from app.commands.check_bench import IO_BENCHES
    if args.bench in IO_BENCHES:
        return _run_io(args, langs)
    for name in langs or ():
        _check_lang_name(name)
    try:
        problems = load_benchmark(args.bench, args.data, langs)
    except BenchmarkError as e:
        raise CliError(str(e)) from None
    rows = read_completions(args.completions, problems, args.bench, langs)
    programs = build_programs(rows)

    try:
        with open_executor(args.executor, workers=args.workers, limits=Limits(timeout_s=args.timeout)) as ex:
            results = ex.map(programs, progress=not args.json and sys.stderr.isatty(), desc="scoring")
    except SandboxUnavailable as e:
        raise CliError(str(e)) from None

    if args.out is not None:
        write_rows(args.out, rows, results)
    summary = summarize(rows, results)
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_table(summary, rows, results, args.bench, args.completions))
    if args.out is not None and not args.json:
        print(f"wrote {len(rows)} verdicts to {args.out}", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class IORow:
    """One whole program to judge on a stdin/stdout problem."""

    origin: str      # "file:line"
    problem: object  # evals.benchmarks.io_problem.IOProblem
    lang: str
    completion: str


def _run_io(args, langs: list[str] | None) -> int:
    from app.cli import CliError
    from app.commands.check_bench import judge_config, load_io
    from evals.benchmarks.io_judge import judge
    from evals.execution import Limits, open_executor
    from evals.execution.sandbox import SandboxUnavailable

    config = judge_config(args)
    problems, files = load_io(args)
    rows = read_io_completions(args.completions, problems, args.bench, langs)
    try:
        with open_executor(args.executor, workers=args.workers, limits=Limits(timeout_s=args.timeout),
                           hide=files) as ex:
            verdicts = judge(ex, [(r.problem, r.lang, r.completion) for r in rows], config,
                             progress=not args.json and sys.stderr.isatty(), desc="scoring")
    except SandboxUnavailable as e:
        raise CliError(str(e)) from None
    if args.out is not None:
        _write_atomic(args.out, [v.to_dict() for v in verdicts])
    summary = summarize_langs([r.lang for r in rows], [v.passed for v in verdicts])
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary, [(r.lang, v.status.value, v.passed) for r, v in zip(rows, verdicts)],
                             args.bench, args.completions))
        if args.out is not None:
            print(f"wrote {len(rows)} verdicts to {args.out}", file=sys.stderr)
    return 0


def read_io_completions(path: Path, problems, bench: str, langs: list[str] | None) -> list[IORow]:
    """Every row of a completions file for a stdin/stdout benchmark, each matched to its problem and a
    language with a runner here; the first bad row raises `CliError` naming its file and line."""
    from app.cli import CliError
    from evals.benchmarks import BenchmarkError
    from evals.benchmarks.source import read_file
    from evals.languages import UnknownLanguage, get_language

    by_id = {p.id: p for p in problems}
    wanted = None
    if langs:
        try:
            wanted = {get_language(x).name for x in langs}
        except UnknownLanguage as e:
            raise CliError(f"--langs: {e}") from None
    rows: list[IORow] = []
    try:
        for rec in read_file(path):
            for key in ("task_id", "lang", "completion"):
                if key not in rec.data:
                    raise CliError(f"{rec.origin}: missing field {key!r} (a {bench} completion is a whole "
                                   "program: its language is required)")
                if not isinstance(rec.data[key], str):
                    raise CliError(f"{rec.origin}: field {key!r} should be a string, got "
                                   f"{'null' if rec.data[key] is None else type(rec.data[key]).__name__}")
            task_id, given = rec.data["task_id"], rec.data["lang"]
            problem = by_id.get(task_id)
            if problem is None:
                raise CliError(f"{rec.origin}: unknown {bench} task {task_id!r}")
            if problem.unavailable:
                raise CliError(f"{rec.origin}: {task_id} cannot be judged here: {problem.unavailable}")
            try:
                lang = get_language(given)
            except UnknownLanguage as e:
                raise CliError(f"{rec.origin}: {e}") from None
            if wanted is not None and lang.name not in wanted:
                raise CliError(f"{rec.origin}: {lang.name} is not among --langs {','.join(langs or [])}")
            rows.append(IORow(rec.origin, problem, lang.name, rec.data["completion"]))
    except BenchmarkError as e:
        raise CliError(str(e)) from None
    if not rows:
        raise CliError(f"{path}: no completions (expected one JSON object a line)")
    first: dict[str, str] = {}
    for r in rows:
        first.setdefault(r.lang, r.origin)
    _check_runtimes_of(first)
    return rows


def _check_runtimes_of(first: dict[str, str]) -> None:
    """{lang: origin of its first row}: each language's runtime must be installed, else one error."""
    from app.cli import CliError
    from evals.languages import get_language

    for lang, origin in first.items():
        language = get_language(lang)
        missing = language.missing()
        if missing:
            raise CliError(f"{origin}: {lang} runtime not installed: {', '.join(missing)} "
                           f"(Debian: {' '.join(language.debian)})")


def _write_atomic(out: Path, objs: list[dict]) -> None:
    """One JSON object a line, written whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for o in objs:
                f.write(json.dumps(o) + "\n")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def summarize_langs(langs: list[str], passed: list[bool]) -> dict[str, dict]:
    """{lang: {"n", "passed", "pass@1", "ci95": [low, high]}}, languages in order of first appearance."""
    from evals.scoring import wilson_interval

    counts: dict[str, list[int]] = {}
    for lang, ok in zip(langs, passed):
        c = counts.setdefault(lang, [0, 0])
        c[0] += 1
        c[1] += int(ok)
    return {lang: {"n": n, "passed": k, "pass@1": k / n, "ci95": list(wilson_interval(k, n))}
            for lang, (n, k) in counts.items()}


def format_summary(summary: dict[str, dict], outcomes: list[tuple[str, str, bool]], bench: str, path: Path) -> str:
    """The table of `summarize_langs`, then the statuses of what did not pass, per language."""
    width = max([len(x) for x in summary] + [4])
    lines = [f"{bench} completions ({path})",
             f"{'lang':<{width}}  {'n':>6}  {'passed':>6}  {'pass@1':>6}  95% CI"]
    for lang, s in summary.items():
        lo, hi = s["ci95"]
        lines.append(f"{lang:<{width}}  {s['n']:>6}  {s['passed']:>6}  {100 * s['pass@1']:>6.1f}  "
                     f"[{100 * lo:.1f}, {100 * hi:.1f}]")
    others: dict[str, dict[str, int]] = {}
    for lang, status, ok in outcomes:
        if not ok:
            tally = others.setdefault(lang, {})
            tally[status] = tally.get(status, 0) + 1
    if others:
        lines.append("")
        for lang, tally in sorted(others.items(), key=lambda kv: list(summary).index(kv[0])):
            lines.append(f"not passed {lang}: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    return "\n".join(lines)


def _check_lang_name(name: str) -> None:
    """A --langs name must be a language we run, or one the benchmarks name (then its rows are refused)."""
    from app.cli import CliError
    from app.commands.check_bench import _FOREIGN
    from evals.languages import UnknownLanguage, get_language

    try:
        get_language(name)
    except UnknownLanguage as e:
        if name.lower() not in _FOREIGN:
            raise CliError(str(e)) from None


def read_completions(path: Path, problems, bench: str, langs: list[str] | None) -> list[Row]:
    """Every row of the completions file, each matched to its problem; the first bad row raises `CliError`
    naming its file and line."""
    from app.cli import CliError
    from evals.benchmarks import BenchmarkError
    from evals.benchmarks.problem import resolve_lang
    from evals.benchmarks.source import read_file

    by_id: dict[str, list] = {}
    for p in problems:
        by_id.setdefault(p.id, []).append(p)
    loaded = sorted({p.lang for p in problems})
    rows: list[Row] = []
    try:
        for rec in read_file(path):
            for key in ("task_id", "completion"):  # null is not a program (loaders read null as "")
                if key in rec.data and not isinstance(rec.data[key], str):
                    raise CliError(f"{rec.origin}: field {key!r} should be a string, got "
                                   f"{'null' if rec.data[key] is None else type(rec.data[key]).__name__}")
            task_id = rec.text("task_id")
            completion = rec.text("completion")
            given = rec.field("lang", required=False)
            if given is not None and (not isinstance(given, str) or not given.strip()):
                raise CliError(f"{rec.origin}: field 'lang' should be a language name, got {given!r}")
            candidates = by_id.get(task_id, [])
            if given is not None:
                lang, why = resolve_lang(given)
                if why and lang not in loaded:
                    raise CliError(f"{rec.origin}: unknown language {given!r} (this {bench} data has: "
                                   f"{', '.join(loaded)})")
                matches = [p for p in candidates if p.lang == lang]
                if not matches:
                    where = f"in {', '.join(sorted(p.lang for p in candidates))}" if candidates else "at all"
                    raise CliError(f"{rec.origin}: no {bench} task {task_id!r} in {lang} (it is {where}"
                                   f"{_langs_note(langs)})")
            else:
                matches = candidates
                if not matches:
                    raise CliError(f"{rec.origin}: unknown {bench} task {task_id!r}{_langs_note(langs)}")
                if len(matches) > 1:
                    raise CliError(f"{rec.origin}: task {task_id!r} is in several languages "
                                   f"({', '.join(sorted(p.lang for p in matches))}): give \"lang\"")
            problem = matches[0]
            if problem.unavailable:
                raise CliError(f"{rec.origin}: {task_id} ({problem.lang}) cannot run here: {problem.unavailable}")
            rows.append(Row(rec.origin, problem, completion))
    except BenchmarkError as e:   # malformed JSON, a missing field, a field of the wrong type
        raise CliError(str(e)) from None
    if not rows:
        raise CliError(f"{path}: no completions (expected one JSON object a line)")
    _check_runtimes(rows)
    return rows


def _langs_note(langs: list[str] | None) -> str:
    return f"; only {', '.join(langs)} loaded (--langs)" if langs else ""


def _check_runtimes(rows: list[Row]) -> None:
    """Each language the rows need must have its runtime installed: else one error, before anything runs."""
    first: dict[str, str] = {}
    for row in rows:
        first.setdefault(row.problem.lang, row.origin)
    _check_runtimes_of(first)


def build_programs(rows: list[Row]) -> list:
    """One `Program` per row, sealed (`proof=True`) where the language can prove its tests ran to the end."""
    from app.cli import CliError
    from evals.execution import Program
    from evals.languages import get_language

    programs = []
    for row in rows:
        p = row.problem
        try:
            source = p.program(row.completion)
        except ValueError as e:
            raise CliError(f"{row.origin}: cannot assemble {p.id}: {e}") from None
        programs.append(Program(p.lang, source, id=p.id, proof=get_language(p.lang).seal is not None))
    return programs


def write_rows(out: Path, rows: list[Row], results: list) -> None:
    """One JSON verdict a line, in input order, written whole or not at all."""
    _write_atomic(out, [{"task_id": row.problem.id, "lang": row.problem.lang, "status": r.status.value,
                         "passed": r.passed, "stdout": r.stdout, "stderr": r.stderr, "detail": r.detail}
                        for row, r in zip(rows, results)])


def summarize(rows: list[Row], results: list) -> dict[str, dict]:
    """{lang: {"n", "passed", "pass@1", "ci95": [low, high]}}, languages in order of first appearance."""
    return summarize_langs([row.problem.lang for row in rows], [r.passed for r in results])


def format_table(summary: dict[str, dict], rows: list[Row], results: list, bench: str, path: Path) -> str:
    return format_summary(summary, [(row.problem.lang, r.status.value, r.passed) for row, r in zip(rows, results)],
                          bench, path)
