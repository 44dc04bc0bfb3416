"""C++17 with g++: one build per program, then the binary runs under the limits.

The seal (see PROOF in base.py): the proof file is read from a `.preinit_array` entry, which the loader
runs before any static initializer (`-fno-toplevel-reorder` keeps the seal's entry first in that
section, ahead of any entry the program adds). The entry calls the tests' own `main` in a reading mode,
so the token lives in static locals of `main`, which no other function can name; the token is printed
by the destructor of a local object of `main` (a local class), which runs when `main` returns and not
on `exit`, `quick_exit`, `abort` or an exception leaving `main`.

Faster builds (`build_adapt`), each keeping what the program means:
- a precompiled header (built once per machine, read-only to programs: `evals.execution.prebuilt`) for
  the benchmarks' common includes, passed as `-include` when the program's leading block of `#include`s
  (ahead of any other code but `using namespace std;`) already names every header of the set: the
  translation unit then holds the same standard headers, only in another order, which standard headers
  do not depend on (`PCH_SETS`: `bits/stdc++.h` for MBXP and most C++ written for contests, and the
  headers HumanEval-X's harness puts ahead of every prompt). Parsing `bits/stdc++.h` is ~4 s of a ~5 s
  build; with its PCH the build takes ~0.5 s;
- gold (`-fuse-ld=gold`) links where it is installed (~0.07 s against ld.bfd's ~0.3 s); the seal's
  `.preinit_array` entry keeps its place: gold, as ld, lays out input sections in command-line order;
- `-lcrypto` where the program includes an OpenSSL header (HumanEval-X's MD5 task).
The optimisation level stays -O0, as before: -O1 would change what undefined behaviour does and how
long a program runs, and so verdicts.
"""
from __future__ import annotations

import re

from .base import PROOF_FILE, Language, find_runtime

_PROLOGUE = """\
#include <cstdio>
#include <exception>
#include <iostream>
#include <fcntl.h>
#include <unistd.h>
static bool psft_proof_reading = false;
extern "C" int psft_proof_main() __asm__("main");
static void psft_proof_preinit(int, char **, char **) {
    psft_proof_reading = true;
    psft_proof_main();
    psft_proof_reading = false;
}
__attribute__((section(".preinit_array"), used))
static void (*const psft_proof_entry)(int, char **, char **) = psft_proof_preinit;
"""

# Inserted as the first statements of the tests' `main`.
_MAIN_HEAD = """
    static char psft_proof_token[64];
    static long psft_proof_length = -1;
    static bool psft_proof_taken = false;
    if (psft_proof_reading) {
        if (!psft_proof_taken) {
            psft_proof_taken = true;
            int fd = open("@PROOF_FILE@", O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                long n = 0, got = 0;
                while (n < (long)sizeof psft_proof_token
                       && (got = read(fd, psft_proof_token + n, sizeof psft_proof_token - n)) > 0)
                    n += got;
                close(fd);
                unlink("@PROOF_FILE@");
                psft_proof_length = n;
            }
        }
        return 0;
    }
    struct psft_proof_end {
        ~psft_proof_end() {
            if (psft_proof_length < 0 || std::uncaught_exceptions() != 0) return;
            std::cout.flush();
            std::fflush(stdout);
            char out[sizeof psft_proof_token + 2];
            out[0] = '\\n';
            for (long i = 0; i < psft_proof_length; i++) out[i + 1] = psft_proof_token[i];
            out[psft_proof_length + 1] = '\\n';
            long n = psft_proof_length + 2, done = 0, got = 0;
            while (done < n && (got = write(1, out + done, n - done)) > 0) done += got;
        }
    } psft_proof_end_of_main;
""".replace("@PROOF_FILE@", PROOF_FILE)

_MAIN = re.compile(r"\bint\s+main\s*\([^)]*\)\s*\{")


def seal(code: str, tests: str, prelude: str = "") -> str:
    """prologue + prelude + code + tests, the tests' `main` opened by the proof's reading mode and its
    end-of-main printer. Tests without an `int main(...) {` are left as they are: such a program never
    prints the token, so it cannot pass when a proof is asked."""
    m = _MAIN.search(tests)
    if m:
        tests = tests[:m.end()] + _MAIN_HEAD + tests[m.end():]
    sep = "" if not code or code.endswith("\n") or tests.startswith("\n") else "\n"
    return _PROLOGUE + prelude + ("\n" if prelude and not prelude.endswith("\n") else "") + code + sep + tests


# Header sets with a precompiled header, largest first: a program gets the first whose headers its
# leading includes all name.
PCH_SETS: dict[str, tuple[str, ...]] = {
    "stdcxx": ("bits/stdc++.h",),
    "humaneval-x": ("stdlib.h", "algorithm", "math.h", "stdio.h", "vector", "string", "climits", "cstring",
                    "iostream", "cassert"),
}
_INCLUDE = re.compile(r"[ \t]*#[ \t]*include[ \t]*<([^<>\n]+)>[ \t]*(?://[^\n]*)?")
_TRANSPARENT = re.compile(r"[ \t]*(?://[^\n]*|using[ \t]+namespace[ \t]+std[ \t]*;[ \t]*)?")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_OPENSSL = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"]openssl/", re.MULTILINE)


def leading_includes(source: str) -> list[str]:
    """The system headers `source` includes before any other code (after the seal's prologue, whose own
    includes come first anyway); blank lines, comments and `using namespace std;` may come between them."""
    if source.startswith(_PROLOGUE):
        source = source[len(_PROLOGUE):]
    headers = []
    for line in _BLOCK_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n") if "\n" in m.group(0) else " ",
                                   source).split("\n"):
        m = _INCLUDE.fullmatch(line)
        if m:
            headers.append(m.group(1).strip())
        elif not _TRANSPARENT.fullmatch(line):
            break
    return headers


def pch_set(source: str) -> str | None:
    """The name of the PCH set whose headers the program's leading includes all name, else None."""
    have = set(leading_includes(source))
    return next((name for name, hs in PCH_SETS.items() if set(hs) <= have), None)


def build_adapt(argv: list[str], source: str) -> list[str]:
    """The build argv with the program's precompiled header, gold and the benchmarks' libraries."""
    from evals.execution import prebuilt
    out = list(argv)
    cut = out.index("-o")
    extra = []
    name = pch_set(source)
    if name is not None:
        header = prebuilt.cpp_pch(name, PCH_SETS[name], tuple(out[1:cut]))
        if header is not None:
            extra += ["-include", header]
    if find_runtime("ld.gold"):
        extra.append("-fuse-ld=gold")
    out[cut:cut] = extra
    if _OPENSSL.search(source):
        out.append("-lcrypto")
    return out


LANG = Language(
    name="cpp", ext="cpp", aliases=("c++", "cxx"),
    build=("g++", "-std=c++17", "-pipe", "-fno-toplevel-reorder", "-o", "main", "{src}"), run=("./main",),
    version=("g++", "--version"), debian=("g++", "libboost-dev", "libssl-dev"), build_adapt=build_adapt,
    failure_patterns=(r"what\(\):\s+Exception", r"Assertion .* failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"std::bad_alloc",),
    seal=seal, fast_flags_note="precompiled headers (prebuilt, read-only), gold",
)
