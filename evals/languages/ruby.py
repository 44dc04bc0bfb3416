"""Ruby (MRI): `--disable-gems` skips RubyGems' start-up (~35 ms); a program that requires a gem gets
RubyGems back, and one that uses `Set` (which RubyGems would have loaded) gets `-rset`. Even without
RubyGems Ruby takes ~9 ms to start, so a fork server (`servers/ruby_server.rb`, same flags) starts it
once and forks a child per program; programs that need other flags run in a fresh process.

The seal (see PROOF in base.py): a `BEGIN {}` block on the first line (after leading magic comments),
which runs before any other BEGIN block and any other code, takes the token (from the fork server's
request, or else by reading and deleting the proof file) and keeps it in the closure of `__psft_end`, a top-level local (out of reach of methods). The epilogue
calls it on the last line; it writes the token only on its first call, from the main thread, when the
call stack is the one the BEGIN block saw with the top frame moved to the last line (same path, label
and absolute path: `eval` with a forged file and line has no absolute path, and a call from a method,
block, thread or exit hook has other frames). Everything it uses was captured as UnboundMethods in the
BEGIN block, so a completion that redefines `Integer#==`, `Array#size` or `caller_locations` cannot
change its answer. The captures and closures are built by a factory: the fork server builds it once
before its first fork (captures taken before any program ran, as safe as captures in BEGIN) and leaves it
in a global, which the prologue takes and clears before any other code runs; without the server the
prologue evaluates the same source, embedded as a string. The per-program part (the call stack, the
file, the emitter) runs in the prologue's call. This keeps a forked child from compiling and running
the captures itself (the inline prologue cost a trivial program ~0.7 ms in the child, most of a
sealed program's extra time).
"""
import os
import re

from .base import PROOF_FILE, SERVERS_DIR, Language, one_line_prologue_layout

# Libraries that load without RubyGems; any other `require` runs with RubyGems (slower start-up).
GEM_FREE = {"set", "json", "date", "time", "bigdecimal", "digest", "securerandom", "stringio", "pp"}
_REQUIRE = re.compile(r"^\s*require\s*\(?\s*['\"]([^'\"]+)['\"]", re.M)
_USES_SET = re.compile(r"\bSet\b|\.to_set\b")


# The proof factory's source: the lines between the markers in the fork server, which builds it once
# before its first fork (see `servers/ruby_server.rb`). The prologue calls the server's copy when it is
# there and evaluates this text otherwise (a plain `ruby main.rb`), so both paths run the same code.
def _factory_source() -> str:
    with open(os.path.join(SERVERS_DIR, "ruby_server.rb"), encoding="utf-8") as f:
        text = f.read()
    body = text.split("# PSFT FACTORY BEGIN\n", 1)[1].split("# PSFT FACTORY END", 1)[0]
    return "; ".join(line.strip() for line in body.strip().splitlines())


_FACTORY = _factory_source()
# The prologue, one line: LAST is the epilogue's line. It takes the factory from the global before any
# other code of the program runs and clears the global, then calls it from the file's top level (the
# call stack it records is the one the epilogue must be called from).
_PROLOGUE = "__psft_end = ($__psft_factory || eval(SRC)).call(LAST, FILE); $__psft_factory = nil"


def _ruby_single_quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Magic comments must stay in the file's first comment lines.
_MAGIC = re.compile(r"^#.*\b(coding|encoding|frozen_string_literal|warn_indent|shareable_constant_value|warn_past_scope)\s*[:=]", re.I)


def _head(lines: list[str]) -> int:
    end = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            break
        if _MAGIC.match(line) or (i == 0 and line.startswith("#!")):
            end = i + 1
    return end


def seal(code: str, tests: str, prelude: str = "") -> str:
    head, middle, last = one_line_prologue_layout(code, tests, prelude, _head(code.split("\n")))
    text = (_PROLOGUE.replace("LAST", str(last)).replace("FILE", _ruby_single_quoted(PROOF_FILE))
            .replace("SRC", _ruby_single_quoted(_FACTORY)))
    return head + "BEGIN { " + text + " }\n" + middle + "__psft_end.call\n"


def adapt(argv: list[str], source: str) -> list[str]:
    if not set(_REQUIRE.findall(source)) <= GEM_FREE:
        return [a for a in argv if a != "--disable-gems"]
    if _USES_SET.search(source):
        return [argv[0], "-rset", *argv[1:]]
    return argv


LANG = Language(
    name="ruby", ext="rb", aliases=("rb",),
    run=("ruby", "--disable-gems", "{src}"), server=("ruby", "--disable-gems", "{servers}/ruby_server.rb"),
    version=("ruby", "--version"), debian=("ruby",),
    syntax_patterns=(r"syntax error", r"\(SyntaxError\)"),
    failure_patterns=(r"\((StandardError|RuntimeError|Minitest::Assertion|Test::Unit::AssertionFailedError)\)",
                      r"(?m)^test case \d+ did not pass: "),
    memory_patterns=(r"\(NoMemoryError\)", r"failed to allocate memory"),
    adapt=adapt,
    fast_flags_note="fork server with --disable-gems, unless the program requires a gem or uses Set",
    seal=seal,
    proof_handover=True,
)
