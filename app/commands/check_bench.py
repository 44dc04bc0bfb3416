"""`psft check-bench`: run a benchmark's reference solutions against their own tests and count, per
language, how many pass (machine-made references sometimes fail: filter on this before training).

A table by default; `--json` prints one object {lang: {"total", "checked", "passed", "failed": [ids]}},
with "unavailable": reason for languages that cannot run here.
"""
from __future__ import annotations

import json
import sys

BENCHES = ("mbxp", "multi-humaneval", "humaneval-x", "multipl-e")
# Languages the benchmarks name that we have no runner for: loaded and reported unavailable.
_FOREIGN = {"kotlin", "scala", "swift", "csharp", "cs", "r", "jl", "julia", "rkt", "racket", "d", "sh",
            "bash"}


def add_parser(sub):
    p = sub.add_parser("check-bench", description=__doc__,
                       help="run a benchmark's reference solutions and count passes per language")
    p.add_argument("--bench", required=True, choices=BENCHES, help="benchmark format")
    p.add_argument("--data", required=True, help="file, folder, or hub dataset id")
    p.add_argument("--langs", default=None, help="comma-separated languages (default: all in the data)")
    p.add_argument("--json", action="store_true", help="print one JSON object {lang: {...}}")
    p.add_argument("--timeout", type=float, default=10.0, help="per-program time limit, seconds (default 10)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel sandboxed workers (default: all cores)")
    return p


def run(args) -> int:
    from app.cli import CliError
    from evals.benchmarks import BenchmarkError, load_benchmark
    from evals.benchmarks.check import check_benchmark
    from evals.execution import Limits
    from evals.languages import UnknownLanguage, get_language

    if args.bench not in BENCHES:
        raise CliError(f"unknown benchmark {args.bench!r}; known: {', '.join(BENCHES)}")
    if args.timeout <= 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout}")
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs else None
    for name in langs or ():
        try:
            get_language(name)
        except UnknownLanguage as e:
            if name.lower() not in _FOREIGN:
                raise CliError(str(e)) from None
    try:
        problems = load_benchmark(args.bench, args.data, langs)
    except BenchmarkError as e:
        raise CliError(str(e)) from None

    from evals.execution import Executor
    from evals.execution.sandbox import SandboxUnavailable
    try:
        with Executor(workers=args.workers, limits=Limits(timeout_s=args.timeout)) as ex:
            report = check_benchmark(problems, ex, progress=not args.json and sys.stderr.isatty())
    except SandboxUnavailable as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report, args.bench, args.data))
    return 0


def format_table(report: dict[str, dict], bench: str, data: str) -> str:
    width = max([len(x) for x in report] + [4])
    lines = [f"{bench} reference solutions ({data})",
             f"{'lang':<{width}}  {'total':>6}  {'checked':>7}  {'passed':>6}  {'failed':>6}  {'pass %':>6}"]
    for lang, row in report.items():
        pct = f"{100 * row['passed'] / row['checked']:.1f}" if row["checked"] else "-"
        note = ""
        if "unavailable" in row:
            note = f"  unavailable: {row['unavailable']}"
        elif row["checked"] == 0:
            note = "  no reference solutions"
        lines.append(f"{lang:<{width}}  {row['total']:>6}  {row['checked']:>7}  {row['passed']:>6}  "
                     f"{len(row['failed']):>6}  {pct:>6}{note}")
    failing = [(lang, row["failed"]) for lang, row in report.items() if row["failed"]]
    if failing:
        lines.append("")
        for lang, ids in failing:
            shown = " ".join(ids[:8]) + (f" ... (+{len(ids) - 8}, see --json)" if len(ids) > 8 else "")
            lines.append(f"failing {lang}: {shown}")
    return "\n".join(lines)
