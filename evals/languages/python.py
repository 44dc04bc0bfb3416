"""Python 3: run by a fork server (the supervisor forks itself: no interpreter start-up per program)."""
from .base import Language

LANG = Language(
    name="python", ext="py", aliases=("py", "python3"),
    run=("python3", "-I", "-S", "{src}"), version=("python3", "--version"), debian=("python3",),
    mode="pyfork",
    syntax_patterns=(r"(?m)^(SyntaxError|IndentationError|TabError)\b",),
    failure_patterns=(r"(?m)^AssertionError\b",),
    memory_patterns=(r"(?m)^MemoryError\b",),
    fast_flags_note="fork server (no start-up); -I -S when exec'd",
)
