"""Perl 5 (MBXP's tests need Data::Compare: Debian's libdata-compare-perl).

Perl itself starts in ~2 ms, but `use Data::Compare` costs ~15 ms more: a fork server
(`servers/perl_server.pl`) loads it and a few common modules once and forks a child per program."""
from .base import Language

LANG = Language(
    name="perl", ext="pl", aliases=("pl",),
    run=("perl", "{src}"), server=("perl", "{servers}/perl_server.pl"), version=("perl", "-e", "print qq(perl $^V\\n)"),
    debian=("perl", "libdata-compare-perl"),
    syntax_patterns=(r"syntax error at", r"aborted due to compilation errors", r"Can't find string terminator"),
    failure_patterns=(r"test case \d+ did not pass", r"(?i)assert(ion)? failed", r"Test failed"),
    memory_patterns=(r"Out of memory!",),
    fast_flags_note="fork server with Data::Compare, List::Util, POSIX preloaded",
)
