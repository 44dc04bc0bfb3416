"""Rust: one rustc build per program (Debian's rustc; a rustup toolchain in /root is not visible to
the sandbox user, so it counts as unavailable).

The seal (see PROOF in base.py): the tests' `fn main` is renamed and the seal's `main` holds, as items
of its own body that no other code can name, a `.preinit_array` entry that reads and deletes the proof
file before any `.init_array` constructor and before `main`, and the static that keeps the token.
`main` prints the token after the tests' `main` has returned; a panic or `process::exit` skips it.
Open: the order of several `.preinit_array` entries is the linker's, so a program's own entry there may
run before the seal's (docs/sandbox.md).
"""
from __future__ import annotations

import re

from .base import PROOF_FILE, Language

_TESTS_MAIN = re.compile(r"\bfn\s+main\s*\(\s*\)")

_EPILOGUE = """

fn main() {
    #[used]
    #[link_section = ".preinit_array"]
    static PSFT_PROOF_ENTRY: extern "C" fn(i32, *const *const u8, *const *const u8) = psft_proof_read;
    static mut PSFT_PROOF_TOKEN: Option<Vec<u8>> = None;
    extern "C" fn psft_proof_read(_: i32, _: *const *const u8, _: *const *const u8) {
        unsafe {
            if PSFT_PROOF_TOKEN.is_some() {
                return;
            }
            if let Ok(token) = std::fs::read("@PROOF_FILE@") {
                let _ = std::fs::remove_file("@PROOF_FILE@");
                PSFT_PROOF_TOKEN = Some(token);
            }
        }
    }
    psft_proof_tests_main();
    if let Some(token) = unsafe { PSFT_PROOF_TOKEN.take() } {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut line = vec![b'\\n'];
        line.extend_from_slice(&token);
        line.push(b'\\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&line);
        let _ = out.flush();
    }
}
""".replace("@PROOF_FILE@", PROOF_FILE)


def seal(code: str, tests: str, prelude: str = "") -> str:
    """code (its leading inner attributes first) + prelude + tests (their `fn main` renamed, the last
    one) + the proof's `main`."""
    head = re.match(r"\A(?:\s*#!\[[^\]]*\]\s*)*", code).end()
    if prelude:
        code = code[:head] + prelude + ("" if prelude.endswith("\n") else "\n") + code[head:]
    mains = list(_TESTS_MAIN.finditer(tests))
    if mains:
        m = mains[-1]
        tests = tests[:m.start()] + "fn psft_proof_tests_main()" + tests[m.end():]
    sep = "" if not code or code.endswith("\n") or tests.startswith("\n") else "\n"
    return code + sep + tests + _EPILOGUE


LANG = Language(
    name="rust", ext="rs", aliases=("rs",),
    build=("rustc", "-O", "--edition", "2021", "-o", "main", "{src}"), run=("./main",),
    version=("rustc", "--version"), debian=("rustc",),
    failure_patterns=(r"panicked at .*assert", r"assertion( `left == right`)? failed"),
    memory_patterns=(r"memory allocation of \d+ bytes failed",),
    seal=seal,
)
