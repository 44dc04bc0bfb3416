"""PHP (CLI): errors go to stderr, and PHP's own memory_limit enforces the memory cap.

`-n` skips Debian's php.ini and its two dozen extension modules (a third of PHP's start-up); the few
extensions a test program plausibly needs are loaded by name. Even so PHP takes ~10 ms to start, so a
fork server (`servers/php_server.php`, with the same flags plus FFI for dup2) starts it once and forks a
child per program."""
import re

from .base import PROOF_FILE, Language

# Where the prologue goes: right after the opening tag, and after a declare(...) and a `namespace X;`
# when the program starts with them (PHP wants those first). It adds no line, so line numbers stay.
_HEAD = re.compile(r"\A(?:\s*(?:<\?php(?=\s)))?(?:\s*declare\s*\([^)]*\)\s*;)?(?:\s*namespace\s+[A-Za-z_\\][\w\\]*\s*;)?")

# The prologue: a generator, whose local variables no reflection, cast or var_dump shows, reads the
# token (or finds no file: no proof asked) and waits at its `yield`. The epilogue resumes it; it then
# writes the token only when resumed from line %(line)d of this file at the top level (the fork server's
# `include` is the one frame allowed above), and ends either way, so it answers once. Names are fully
# qualified: a program in a namespace cannot put its own is_file or debug_backtrace in their place.
_PROLOGUE = (
    "$__psft_proof = (function () { $t = null; if (\\is_file(%(file)s)) { $t = \\file_get_contents(%(file)s); "
    "\\unlink(%(file)s); } yield; $b = \\debug_backtrace(\\DEBUG_BACKTRACE_IGNORE_ARGS); "
    "$top = !isset($b[2]) || (!isset($b[3]) && isset($b[2]['function']) && "
    "\\in_array($b[2]['function'], ['include', 'require', 'include_once', 'require_once'], true)); "
    "if (\\is_string($t) && $top && isset($b[1]['file'], $b[1]['line']) && $b[1]['file'] === __FILE__ "
    "&& $b[1]['line'] === %(line)d) { \\fwrite(\\STDOUT, \"\\n\" . $t . \"\\n\"); \\fflush(\\STDOUT); } })(); "
    "$__psft_proof->current();")
EPILOGUE = "$__psft_proof->send(null);"


def seal(code: str, tests: str, prelude: str = "") -> str:
    """A PHP program that prints its proof token only when its last test has passed (PROOF in base.py).

    The opening tag (of the prelude, else of the code) stays first; the prologue follows it on its line."""
    first, rest = (prelude, code) if prelude.strip() else (code, "")
    if rest.lstrip().startswith("<?php"):
        rest = rest.lstrip()[len("<?php"):]
    m = _HEAD.match(first)
    head, first = first[:m.end()], first[m.end():]
    if "<?php" not in head:
        head, first = "<?php", " ?>" + head + first
    parts = [p if p.endswith("\n") or not p else p + "\n" for p in (first, rest, tests)]
    body = "".join(parts)
    # After a closing tag the epilogue needs an opening one (a rough look: the last tag of the text).
    html = body.rfind("?>") > body.rfind("<?php")
    epilogue = ("<?php " if html else "") + EPILOGUE
    line = (head + body).count("\n") + 1
    prologue = _PROLOGUE % {"file": "'" + PROOF_FILE + "'", "line": line}
    return f"{head} {prologue}{body}{epilogue}\n"


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
    seal=seal,
)
