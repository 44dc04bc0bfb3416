"""Lua 5.4 (1 ms start-up: nothing to save)."""
from .base import Language

LANG = Language(
    name="lua", ext="lua",
    run=("lua5.4", "{src}"), version=("lua5.4", "-v"), debian=("lua5.4", "lua-unit"),
    syntax_patterns=(r"syntax error near", r"unexpected symbol near", r"'(end|=|\)|\}|then|do)' expected",
                     r"unfinished string", r"malformed number"),
    failure_patterns=(r"assertion failed!", r"expected: .*\n\s*actual:", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"not enough memory",),
)
