"""Perl 5 (MBXP's tests need Data::Compare: Debian's libdata-compare-perl).

Perl itself starts in ~2 ms, but `use Data::Compare` costs ~15 ms more: a fork server
(`servers/perl_server.pl`) loads it and a few common modules once and forks a child per program.

The seal (see PROOF in base.py): the first line's `BEGIN` block runs before any later `BEGIN` or `use`
is even compiled; it reads and deletes the proof file, and the token stays in lexicals of a `do` block
that nothing after it can name. The same line, the first statement to run, records the call frames
above the file (the fork server's `do FILE`, or none). `$__psft_end`, the emitter, writes the token
only on its first call, made from the file itself at the last line with exactly those frames above (a
call from a sub, a `BEGIN`, an `END`, an eval or a sort block, or through `goto &sub` from a sub called
on another line, is refused). A `# line` directive before the tests puts back the true line numbers
that a `# line` in the code may have changed.
"""
import re

from .base import PROOF_FILE, Language, lines_of

# One line. `caller` inside the anonymous subs: frame 0 is their call site, frames 1.. are above it.
_PROLOGUE = (
    "my $__psft_end = do { my ($rec, $end); BEGIN { ($rec, $end) = do { "
    "my ($msg, $file, @outer); "
    "if (open(my $fh, '<', '%(file)s')) { local $/; my $t = <$fh>; close($fh); unlink('%(file)s'); "
    "$msg = \"\\n$t\\n\" if defined $t; } "
    "my $frame = sub { my @c = @_; join(\"\\0\", map { defined $_ ? $_ : '' } @c[0 .. 3, 6, 7]) }; "
    "my $rec = sub { return if defined $file; my @c = caller(0); $file = $c[1]; my $i = 1; "
    "while (my @d = caller($i)) { push @outer, $frame->(@d); $i++; } }; "
    "my $end = sub { my $m = $msg; $msg = undef; return unless defined $m && defined $file; "
    "my @c = caller(0); return unless $c[1] eq $file && $c[2] == %(last)d; "
    "my $i = 1; for my $want (@outer) { my @d = caller($i); return unless @d && $frame->(@d) eq $want; $i++; } "
    "return if caller($i); "
    "my $old = select(STDOUT); $| = 1; select($old); syswrite(STDOUT, $m); return; }; "
    "($rec, $end) } } $rec->(); $end };"
)

# A leading `#!` line (perl reads its switches from the first line) stays first.
_SHEBANG = re.compile(r"\A#![^\n]*\n")


def seal(code: str, tests: str, prelude: str = "") -> str:
    m = _SHEBANG.match(code)
    head, code = (m.group(0), code[m.end():]) if m else ("", code)
    before = lines_of(prelude, code)
    first = head.count("\n") + 1 + before.count("\n") + 1   # the line after the `# line` directive
    tests = tests if not tests or tests.endswith("\n") else tests + "\n"
    last = first + tests.count("\n")
    prologue = _PROLOGUE % {"file": PROOF_FILE, "last": last}
    return f"{head}{prologue}\n{before}# line {first}\n{tests}$__psft_end->();\n"


LANG = Language(
    name="perl", ext="pl", aliases=("pl",),
    run=("perl", "{src}"), server=("perl", "{servers}/perl_server.pl"), version=("perl", "-e", "print qq(perl $^V\\n)"),
    debian=("perl", "libdata-compare-perl"),
    syntax_patterns=(r"syntax error at", r"aborted due to compilation errors", r"Can't find string terminator"),
    failure_patterns=(r"test case \d+ did not pass", r"(?i)assert(ion)? failed", r"Test failed"),
    memory_patterns=(r"Out of memory!",),
    fast_flags_note="fork server with Data::Compare, List::Util, POSIX preloaded",
    seal=seal,
)
