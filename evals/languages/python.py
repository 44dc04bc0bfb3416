"""Python 3: run by a fork server (the supervisor forks itself: no interpreter start-up per program).

The seal (see PROOF in base.py): a one-line prologue (after any `from __future__` lines, which must stay
first) binds `__psft_end__`, a one-shot emitter whose token lives in a closure: the fork server hands
over the precompiled seal with the token bound, a fresh `python3` reads and deletes the proof file
(SEAL_SOURCE below); the epilogue, the program's last line, calls it. It writes the token only when its
caller is the very frame of the module that ran the prologue (a re-run of the module's code object,
`exec` of forged code or a call from a function gets nothing), at the last line, with no trace
function set; any call uses it up.
"""
import re

from .base import PROOF_FILE, Language, one_line_prologue_layout

# The prologue's body: `seal(top, last, token)` binds the emitter for the module frame `top` whose last
# line is `last`. The fork server compiles it once per worker and hands it to the program, with the
# token bound, as a one-shot builtin (SEAL_HANDOVER, which the prologue removes before any other code
# runs); no proof file is written then. A program run as `python3` (the fallback) gets no handover: the
# prologue exec's the same text itself, and `seal` reads and deletes the proof file. Measured in forked
# children: compiling this text cost ~0.2 ms a program, and reading the file through `open` ~0.1 ms
# (each object a child touches first costs it a copy-on-write page), of the ~0.5 ms the seal first took.
SEAL_SOURCE = f"""\
def seal(top, last, token=None):
    import os, sys
    getframe, gettrace, write, stdout = sys._getframe, sys.gettrace, os.write, sys.stdout
    if token is None:
        try:
            fd = os.open({PROOF_FILE!r}, os.O_RDONLY)
            try:
                token = os.read(fd, 256)
            finally:
                os.close(fd)
            os.unlink({PROOF_FILE!r})
        except OSError:
            token = None
    box = [None if token is None else b"\\n" + token + b"\\n"]

    def end():
        msg, box[0] = box[0], None
        caller = getframe(1)
        if msg is None or caller is not top or caller.f_lineno != last or gettrace() is not None:
            return
        for out in (sys.stdout, stdout):
            try:
                out.flush()
            except BaseException:
                pass
        write(1, msg)
    return end
"""
SEAL_HANDOVER = "__psft_seal__"  # as in evals/execution/supervisor.py

# The prologue line: `s` is SEAL_SOURCE, `b` the builtins module (nothing of the program has run yet, so
# both names are the real ones); the handover, or `exec` of `s`, gives `seal`; one frame up from the
# lambda is the program's module frame.
_PROLOGUE = ("__psft_end__ = (lambda s, b: (b.__dict__.pop(%(key)r, None) or (lambda s: (exec(s, d := {}), "
             "d['seal'])[1]))(s)(b.__dict__['__import__']('sys')._getframe(1), %(last)d))(%(src)r, "
             "__import__('builtins'))\n")

_FUTURE = re.compile(r"^from\s+__future__\s+import\b")


def _head(lines: list[str]) -> int:
    """How many leading lines must stay before the prologue: up to the last `from __future__` import
    among the leading comments, blank lines and docstring (none when there is no such import)."""
    end, quote = 0, None
    for i, line in enumerate(lines):
        s = line.strip()
        if quote:
            quote = None if quote in s else quote
        elif not s or s.startswith("#"):
            continue
        elif _FUTURE.match(line):
            end = i + 1
        elif s[:3] in ('"""', "'''") and end == 0:
            quote = None if len(s) > 3 and s.count(s[:3]) >= 2 else s[:3]
        else:
            break
    return end


def seal(code: str, tests: str, prelude: str = "") -> str:
    head, middle, last = one_line_prologue_layout(code, tests, prelude, _head(code.split("\n")))
    prologue = _PROLOGUE % {"key": SEAL_HANDOVER, "last": last, "src": SEAL_SOURCE}
    return head + prologue + middle + "__psft_end__()\n"


LANG = Language(
    name="python", ext="py", aliases=("py", "python3"),
    run=("python3", "-I", "-S", "{src}"), version=("python3", "--version"), debian=("python3",),
    mode="pyfork",
    syntax_patterns=(r"(?m)^(SyntaxError|IndentationError|TabError)\b",),
    failure_patterns=(r"(?m)^AssertionError\b", r"(?m)^test case \d+ did not pass: "),
    memory_patterns=(r"(?m)^MemoryError\b",),
    fast_flags_note="fork server (no start-up); -I -S when exec'd",
    seal=seal,
    seal_source=SEAL_SOURCE,
    proof_handover=True,
)
