"""C++17 with g++: one build per program, then the binary runs under the limits.

The seal (see PROOF in base.py): the proof file is read from a `.preinit_array` entry, which the loader
runs before any static initializer (`-fno-toplevel-reorder` keeps the seal's entry first in that
section, ahead of any entry the program adds). The entry calls the tests' own `main` in a reading mode,
so the token lives in static locals of `main`, which no other function can name; the token is printed
by the destructor of a local object of `main` (a local class), which runs when `main` returns and not
on `exit`, `quick_exit`, `abort` or an exception leaving `main`.
"""
from __future__ import annotations

import re

from .base import PROOF_FILE, Language

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


LANG = Language(
    name="cpp", ext="cpp", aliases=("c++", "cxx"),
    build=("g++", "-std=c++17", "-pipe", "-fno-toplevel-reorder", "-o", "main", "{src}"), run=("./main",),
    version=("g++", "--version"), debian=("g++",),
    failure_patterns=(r"what\(\):\s+Exception", r"Assertion .* failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"std::bad_alloc",),
    seal=seal,
)
