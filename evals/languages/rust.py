"""Rust: one rustc build per program (Debian's rustc; a rustup toolchain in /root is not visible to
the sandbox user, so it counts as unavailable)."""
from .base import Language

LANG = Language(
    name="rust", ext="rs", aliases=("rs",),
    build=("rustc", "-O", "--edition", "2021", "-o", "main", "{src}"), run=("./main",),
    version=("rustc", "--version"), debian=("rustc",),
    failure_patterns=(r"panicked at .*assert", r"assertion( `left == right`)? failed"),
    memory_patterns=(r"memory allocation of \d+ bytes failed",),
)
