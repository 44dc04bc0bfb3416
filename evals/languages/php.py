"""PHP (CLI): errors go to stderr, and PHP's own memory_limit enforces the memory cap."""
from .base import Language

LANG = Language(
    name="php", ext="php",
    run=("php", "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit={mem_mb}M", "{src}"),
    version=("php", "--version"), debian=("php-cli",),
    syntax_patterns=(r"Parse error", r"syntax error, unexpected"),
    failure_patterns=(r"Exception: (Error at|Test failed|Exception --)", r"Assertion failed", r"AssertionError"),
    memory_patterns=(r"Allowed memory size of \d+ bytes exhausted",),
)
