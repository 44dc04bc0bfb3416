"""Perl 5 (MBXP's tests need Data::Compare: Debian's libdata-compare-perl)."""
from .base import Language

LANG = Language(
    name="perl", ext="pl", aliases=("pl",),
    run=("perl", "{src}"), version=("perl", "-e", "print qq(perl $^V\\n)"),
    debian=("perl", "libdata-compare-perl"),
    syntax_patterns=(r"syntax error at", r"aborted due to compilation errors", r"Can't find string terminator"),
    failure_patterns=(r"test case \d+ did not pass", r"(?i)assert(ion)? failed", r"Test failed"),
    memory_patterns=(r"Out of memory!",),
)
