"""`psft check-bench`: run a benchmark's reference solutions against their own tests and count, per
language, how many pass (machine-made references sometimes fail: filter on this before training).

A table by default; `--json` prints one object {lang: {"total", "checked", "passed", "failed": [ids]}},
with "unavailable": reason for languages that cannot run here.

Stdin/stdout benchmarks (`code-contests`, `apps`: whole programs, tests as input/output pairs) run every
correct reference against its problem's tests, and every incorrect one (code_contests keeps them): each
must fail, else the tests cannot tell it from a correct one. `--json` then prints {"problems": {"total",
"judged", "unavailable": {reason: n}}, "correct": {lang: {...}}, "incorrect": {lang: {"total", "checked",
"rejected", "accepted": [ids]}}}.
"""
from __future__ import annotations

import json
import sys

BENCHES = ("mbxp", "multi-humaneval", "humaneval-x", "multipl-e", "code-contests", "apps")
IO_BENCHES = ("code-contests", "apps")
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
    p.add_argument("--timeout", type=float, default=10.0,
                   help="per-program time limit, seconds (default 10); code-contests/apps: per test, where the "
                        "data gives no limit")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel sandboxed workers (default: all cores)")
    add_io_arguments(p)
    add_executor_argument(p)
    return p


def add_executor_argument(p) -> None:
    """`--executor local|ray`, shared with `psft score` and `psft eval`."""
    from evals.execution.backends import BACKENDS
    p.add_argument("--executor", default="local", choices=BACKENDS,
                   help="where programs run: 'local' (this machine's sandboxed workers, the default) or 'ray' "
                        "(a sandboxed executor on every node of the Ray cluster at RAY_ADDRESS, else the one "
                        "`ray start` started here; --workers is then per node; needs the [dist] extra)")


def add_io_arguments(p) -> None:
    """The options of stdin/stdout benchmarks (code-contests, apps), shared with `psft score`."""
    g = p.add_argument_group("stdin/stdout benchmarks (code-contests, apps)")
    g.add_argument("--split", default="test", help="split of a hub dataset id (default test)")
    g.add_argument("--tests", default="public,private,generated",
                   help="test sets to judge on, in order (default public,private,generated)")
    g.add_argument("--time-scale", type=float, default=1.0,
                   help="multiplies each problem's time limit (default 1)")
    g.add_argument("--max-tests", type=int, default=None, help="judge on at most this many tests per problem")


def judge_config(args):
    """The `JudgeConfig` the I/O options ask for; bad values are a `CliError`."""
    from app.cli import CliError
    from evals.benchmarks.io_judge import JudgeConfig
    from evals.benchmarks.io_problem import TEST_SETS

    sets = tuple(x.strip() for x in args.tests.split(",") if x.strip())
    bad = [x for x in sets if x not in TEST_SETS]
    if bad or not sets:
        raise CliError(f"--tests {args.tests!r}: expected test sets among {', '.join(TEST_SETS)}")
    if args.time_scale <= 0:
        raise CliError(f"--time-scale must be > 0, got {args.time_scale}")
    if args.max_tests is not None and args.max_tests < 1:
        raise CliError(f"--max-tests must be >= 1, got {args.max_tests}")
    return JudgeConfig(tests=sets, time_scale=args.time_scale, default_time_s=args.timeout,
                       max_tests=args.max_tests)


def load_io(args):
    """(problems, the data files to hide from programs) of a stdin/stdout benchmark; a `CliError` when
    it cannot be loaded."""
    from app.cli import CliError
    from evals.benchmarks import BenchmarkError
    from evals.benchmarks.io_source import data_files, load_io_benchmark

    try:
        return load_io_benchmark(args.bench, args.data, split=args.split), data_files(args.data)
    except BenchmarkError as e:
        raise CliError(str(e)) from None


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
    if args.bench in IO_BENCHES:
        return _run_io(args, langs)
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

    from evals.execution import open_executor
    from evals.execution.sandbox import SandboxUnavailable
    try:
        with open_executor(args.executor, workers=args.workers, limits=Limits(timeout_s=args.timeout)) as ex:
            report = check_benchmark(problems, ex, progress=not args.json and sys.stderr.isatty())
    except SandboxUnavailable as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report, args.bench, args.data))
    return 0


def _run_io(args, langs: list[str] | None) -> int:
    from app.cli import CliError
    from evals.benchmarks.io_check import check_io_benchmark
    from evals.benchmarks.problem import resolve_lang
    from evals.execution import Limits, open_executor
    from evals.execution.sandbox import SandboxUnavailable

    config = judge_config(args)
    problems, files = load_io(args)
    wanted = {resolve_lang(x)[0] for x in langs} if langs else None
    try:
        with open_executor(args.executor, workers=args.workers, limits=Limits(timeout_s=args.timeout),
                           hide=files) as ex:
            report = check_io_benchmark(problems, ex, config, langs=wanted,
                                        progress=not args.json and sys.stderr.isatty())
    except SandboxUnavailable as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(format_io_table(report, args.bench, args.data))
    return 0


def format_io_table(report: dict, bench: str, data: str) -> str:
    pr = report["problems"]
    skipped = ", ".join(f"{n} {reason}" for reason, n in pr["unavailable"].items())
    lines = [f"{bench} references ({data}): {pr['total']} problems, {pr['judged']} judged"
             + (f" (not judged: {skipped})" if skipped else "")]
    if report["correct"]:
        lines += ["", "correct references (must pass)", format_table(report["correct"], bench, data).split("\n", 1)[1]]
    inc = report["incorrect"]
    if inc:
        width = max([len(x) for x in inc] + [4])
        lines += ["", "incorrect references (must fail)",
                  f"{'lang':<{width}}  {'total':>6}  {'checked':>7}  {'rejected':>8}  {'accepted':>8}"]
        for lang, row in inc.items():
            note = f"  unavailable: {row['unavailable']}" if "unavailable" in row else ""
            lines.append(f"{lang:<{width}}  {row['total']:>6}  {row['checked']:>7}  {row['rejected']:>8}  "
                         f"{len(row['accepted']):>8}{note}")
        for lang, row in inc.items():
            if row["accepted"]:
                lines.append(f"accepted {lang} (tests too weak): " + " ".join(row["accepted"][:8]))
    return "\n".join(lines)


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
