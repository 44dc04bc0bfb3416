"""PHP (CLI): errors go to stderr, and PHP's own memory_limit enforces the memory cap.

`-n` skips Debian's php.ini and its two dozen extension modules (a third of PHP's start-up); the few
extensions a test program plausibly needs are loaded by name. Even so PHP takes ~10 ms to start, so a
fork server (`servers/php_server.php`, with the same flags plus FFI for dup2) starts it once and forks a
child per program."""
from .base import Language

FLAGS = ("-n", "-d", "extension=ctype", "-d", "extension=iconv", "-d", "extension=posix", "-d", "extension=calendar",
         "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "memory_limit={mem_mb}M")

LANG = Language(
    name="php", ext="php",
    run=("php", *FLAGS, "{src}"),
    server=("php", *FLAGS, "-d", "extension=ffi", "-d", "ffi.enable=1", "{servers}/php_server.php"),
    version=("php", "--version"), debian=("php-cli",),
    syntax_patterns=(r"Parse error", r"syntax error, unexpected"),
    failure_patterns=(r"Exception: (Error at|Test failed|Exception --)", r"Assertion failed", r"AssertionError"),
    memory_patterns=(r"Allowed memory size of \d+ bytes exhausted",),
    fast_flags_note="fork server; -n: no php.ini, only the extensions tests use",
)
