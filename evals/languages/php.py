"""PHP (CLI): errors go to stderr, and PHP's own memory_limit enforces the memory cap.

`-n` skips Debian's php.ini and its two dozen extension modules (a third of PHP's start-up); the few
extensions a test program plausibly needs are loaded by name."""
from .base import Language

LANG = Language(
    name="php", ext="php",
    run=("php", "-n", "-d", "extension=ctype", "-d", "extension=iconv", "-d", "extension=posix",
         "-d", "extension=calendar", "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit={mem_mb}M", "{src}"),
    version=("php", "--version"), debian=("php-cli",),
    syntax_patterns=(r"Parse error", r"syntax error, unexpected"),
    failure_patterns=(r"Exception: (Error at|Test failed|Exception --)", r"Assertion failed", r"AssertionError"),
    memory_patterns=(r"Allowed memory size of \d+ bytes exhausted",),
    fast_flags_note="-n: no php.ini, only the extensions tests use",
)
