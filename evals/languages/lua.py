"""Lua 5.4 (1 ms start-up: nothing to save).

The seal (see PROOF in base.py): the first line, a local function called at once, reads and deletes the
proof file; the token stays in its upvalues. `__psft_end`, the emitter it returns, writes the token only
on its first call, made by the main chunk itself (the very function that ran the first line, not a
chunk `load`ed under the same name) at the last line, from the main coroutine, with as many frames
below it as the first line had (a re-entered main chunk has more). It uses `debug.getinfo` as captured
on the first line.
"""
from .base import PROOF_FILE, Language, one_line_prologue_layout

_PROLOGUE = (
    "local __psft_end = (function() "
    "local getinfo, running, rawequal, pcall = debug.getinfo, coroutine.running, rawequal, pcall; "
    "local out = io.stdout; local write, flush = out.write, out.flush; local msg; "
    "local fh = io.open('%(file)s', 'rb'); "
    "if fh then local t = fh:read('a'); fh:close(); os.remove('%(file)s'); if t then msg = '\\n' .. t .. '\\n' end end; "
    "local function depth() local n = 2; while getinfo(n + 1, 'S') do n = n + 1 end; return n end; "
    "local top, levels = getinfo(2, 'f').func, depth(); "
    "return function() local m = msg; msg = nil; if m == nil then return end; "
    "local info = getinfo(2, 'fl'); local _, main = running(); "
    "if not (main and info and rawequal(info.func, top) and info.currentline == %(last)d and depth() == levels) "
    "then return end; pcall(flush, out); write(out, m); pcall(flush, out) end end)()"
)


def seal(code: str, tests: str, prelude: str = "") -> str:
    _, middle, last = one_line_prologue_layout(code, tests, prelude, 0)
    return _PROLOGUE % {"file": PROOF_FILE, "last": last} + "\n" + middle + "__psft_end()\n"


LANG = Language(
    name="lua", ext="lua",
    run=("lua5.4", "{src}"), version=("lua5.4", "-v"), debian=("lua5.4", "lua-unit"),
    syntax_patterns=(r"syntax error near", r"unexpected symbol near", r"'(end|=|\)|\}|then|do)' expected",
                     r"unfinished string", r"malformed number"),
    failure_patterns=(r"assertion failed!", r"expected: .*\n\s*actual:", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"not enough memory",),
    seal=seal,
)
