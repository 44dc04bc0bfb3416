"""`psft`: the lab's command line. Each subcommand lives in `app/commands/<name>.py`.

Importing this module is cheap (no torch, no trl): subcommands import heavy libraries inside `run`.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# (module, command name): order is the order of `psft --help`.
COMMANDS = [
    ("langs", "langs"),
    ("exec_program", "exec"),
    ("check_bench", "check-bench"),
    ("score", "score"),
    ("eval", "eval"),
    ("run", "run"),
    ("config", "config"),
    ("study", "study"),
    ("model", "model"),
    ("probe", "probe"),
    ("intervene", "intervene"),
    ("report", "report"),
    ("export", "export"),
    ("app", "app"),
]


class CliError(Exception):
    """Bad input: one clear message, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="psft", description="Parallel-SFT lab: does RL on code in one language transfer to others?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module, _name in COMMANDS:
        mod = importlib.import_module(f"app.commands.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except CliError as e:
        print(f"psft {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"psft {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":   # `python -m app.cli`: run the imported module, whose CliError the commands raise
    from app.cli import main as _main
    sys.exit(_main())
