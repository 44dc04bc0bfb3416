"""Ruby (MRI): `--disable-gems` skips RubyGems' start-up (~35 ms); a program that requires a gem gets
RubyGems back, and one that uses `Set` (which RubyGems would have loaded) gets `-rset`. Even without
RubyGems Ruby takes ~9 ms to start, so a fork server (`servers/ruby_server.rb`, same flags) starts it
once and forks a child per program; programs that need other flags run in a fresh process."""
import re

from .base import Language

# Libraries that load without RubyGems; any other `require` runs with RubyGems (slower start-up).
GEM_FREE = {"set", "json", "date", "time", "bigdecimal", "digest", "securerandom", "stringio", "pp"}
_REQUIRE = re.compile(r"^\s*require\s*\(?\s*['\"]([^'\"]+)['\"]", re.M)
_USES_SET = re.compile(r"\bSet\b|\.to_set\b")


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
    failure_patterns=(r"\((StandardError|RuntimeError|Minitest::Assertion|Test::Unit::AssertionFailedError)\)",),
    memory_patterns=(r"\(NoMemoryError\)", r"failed to allocate memory"),
    adapt=adapt,
    fast_flags_note="fork server with --disable-gems, unless the program requires a gem or uses Set",
)
