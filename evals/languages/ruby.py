"""Ruby (MRI): `--disable-gems` skips RubyGems' start-up (~35 ms); programs that require a gem get it back."""
from .base import Language

LANG = Language(
    name="ruby", ext="rb", aliases=("rb",),
    run=("ruby", "--disable-gems", "{src}"), version=("ruby", "--version"), debian=("ruby",),
    syntax_patterns=(r"syntax error", r"\(SyntaxError\)"),
    failure_patterns=(r"\((StandardError|RuntimeError|Minitest::Assertion|Test::Unit::AssertionFailedError)\)",),
    memory_patterns=(r"\(NoMemoryError\)", r"failed to allocate memory"),
    fast_flags_note="--disable-gems unless the program requires a gem",
)
