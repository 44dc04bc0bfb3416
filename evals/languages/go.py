"""Go: one `go build` per program, with a build cache kept for the worker's lifetime.

The seal (see PROOF in base.py): the proof file is read by the initializer of the program's first
package-level variable (Go initializes package variables in declaration order, before any `init()` and
before `main`, and the seal's variable depends on nothing of the program). The token is captured by a
closure, which prints it only when called from `main.main` as run by the Go runtime: the tests' `main`
is renamed and the seal's `main` calls it, then the closure. A call from anywhere else (the program,
a goroutine, a recursive `main()`), an `os.Exit` or a panic before that point prints nothing.
"""
from __future__ import annotations

import re

from .base import PROOF_FILE, Language

_HEADER = re.compile(r'\A(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/|package\s+\w+|import\s*\([^)]*\)|'
                     r'import\s+(?:[\w.]+\s+)?"[^"]*")*', re.DOTALL)
_DECL = re.compile(r'package\s+\w+|import\s*\([^)]*\)|import\s+(?:[\w.]+\s+)?"[^"]*"', re.DOTALL)
_TESTS_MAIN = re.compile(r"^func\s+main\s*\(\s*\)", re.MULTILINE)

_PROLOGUE = """
import (
	psftProofOS "os"
	psftProofRT "runtime"
)

var psftProofEnd = psftProofOpen()

func psftProofOpen() func() {
	token, err := psftProofOS.ReadFile("@PROOF_FILE@")
	if err != nil {
		return func() {}
	}
	psftProofOS.Remove("@PROOF_FILE@")
	done := false
	return func() {
		pcs := make([]uintptr, 8)
		frames := psftProofRT.CallersFrames(pcs[:psftProofRT.Callers(2, pcs)])
		caller, _ := frames.Next()
		starter, _ := frames.Next()
		if done || caller.Function != "main.main" || starter.Function != "runtime.main" {
			return
		}
		done = true
		line := append(append([]byte("\\n"), token...), '\\n')
		psftProofOS.Stdout.Write(line)
	}
}
""".replace("@PROOF_FILE@", PROOF_FILE)

_EPILOGUE = """

func main() {
	psftProofTestsMain()
	psftProofEnd()
}
"""


def seal(code: str, tests: str, prelude: str = "") -> str:
    """code's package clause and imports + prologue + prelude + the rest of code + tests (their `main`
    renamed) + the proof's `main`. A code without a package clause gets `package main`. Tests without a
    `func main()` are left as they are: the program then fails to build."""
    header = _HEADER.match(code).group(0)
    decls = list(_DECL.finditer(header))
    cut = decls[-1].end() if decls else 0
    head, rest = code[:cut], code[cut:]
    if not any(d.group(0).startswith("package") for d in decls):
        head = "package main\n" + head
    tests = _TESTS_MAIN.sub("func psftProofTestsMain()", tests, count=1)
    sep = "" if not rest or rest.endswith("\n") or tests.startswith("\n") else "\n"
    body = (prelude + "\n" if prelude else "") + rest
    return head + "\n" + _PROLOGUE + body + sep + tests + _EPILOGUE


LANG = Language(
    name="go", ext="go", aliases=("golang",), source_name="main.go",
    build=("go", "build", "-o", "main", "{src}"), run=("./main",),
    version=("go", "version"), debian=("golang-go",), rlimit_as=False,
    env=(("GOCACHE", "/tmp/cache/go-build"), ("GOPATH", "/tmp/cache/gopath"), ("GO111MODULE", "off"),
         ("CGO_ENABLED", "0")),
    failure_patterns=(r"--- FAIL", r"(?i)assert(ion)? failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"runtime: out of memory", r"fatal error: runtime: out of memory"),
    seal=seal,
)
