"""`psft exec`: run one program file in the sandbox and print its verdict."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("exec", help="run one program in the sandbox and print the verdict", description=__doc__)
    p.add_argument("file", type=Path, help="the program (solution and tests in one file)")
    p.add_argument("--lang", required=True, help="language name or alias (see `psft langs`)")
    p.add_argument("--timeout", type=float, default=10.0, help="wall-clock limit in seconds (default 10)")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory limit in MiB (default 1024)")
    p.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "process"],
                   help="isolation level (default: bubblewrap when installed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args) -> int:
    from app.cli import CliError
    from evals.execution import Executor, Limits, Program, Status
    from evals.execution.sandbox import SandboxUnavailable
    from evals.languages import get_language
    try:
        lang = get_language(args.lang)
    except ValueError as e:
        raise CliError(str(e)) from e
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    if args.timeout <= 0 or args.memory_mb < 16:
        raise CliError("--timeout must be > 0 and --memory-mb >= 16")
    try:
        source = args.file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{args.file} is not UTF-8 text: {e}") from e
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    try:
        with Executor(workers=1, limits=limits, sandbox_level=args.sandbox) as ex:
            r = ex.run(Program(lang.name, source, id=str(args.file)))
    except SandboxUnavailable as e:
        raise CliError(str(e)) from e
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print(f"{r.status.value}  exit={r.exit_code}  {r.duration_s:.3f}s  {r.detail}".rstrip())
        if r.stdout:
            print("--- stdout (tail) ---\n" + r.stdout.rstrip())
        if r.stderr:
            print("--- stderr (tail) ---\n" + r.stderr.rstrip(), file=sys.stderr)
    return 0 if r.status is Status.PASSED else 1
