"""Go: one `go build` per program, with a build cache kept for the worker's lifetime.

The seal (see PROOF in base.py): the proof file is read by the initializer of the program's first
package-level variable (Go initializes package variables in declaration order, before any `init()` and
before `main`, and the seal's variable depends on nothing of the program). The token is captured by a
closure, which prints it only when called from `main.main` as run by the Go runtime: the tests' `main`
is renamed and the seal's `main` calls it, then the closure. A call from anywhere else (the program,
a goroutine, a recursive `main()`), an `os.Exit` or a panic before that point prints nothing.

Faster builds (`build_adapt`): `go build` with a build cache wiped after every program (a cache programs
could write would let one program plant compiled packages for the next) re-derives the standard library
each time (~0.9 s). Instead the program is compiled and linked by the toolchain's own `compile` and
`link` against the standard library compiled once per machine into a read-only folder
(`evals.execution.prebuilt.go_std`): no build cache at all. As `go build` does: package `main`, `-complete`,
only the packages a program may import (no internal or vendored ones); the binary is linked without the
symbol table and DWARF (`-s -w`: stack traces and `runtime.Callers`, which the seal uses, read the pcln
table, which stays). No DWARF is made at all: the library and the program are compiled with
`-dwarf=false`, which `-w` would drop anyway (the binary is the same byte for byte), and the compiler and
linker run with `TOOL_ENV`. Most of what is left is the link (~49 ms of the ~62 ms of CPU a build
takes: it loads the runtime and `fmt`'s dependencies for every program). A source with build
constraints (`//go:build`, `// +build`) builds with `go build`.
"""
from __future__ import annotations

import re
import shlex

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


# The compiler's and linker's own runtime settings, in the build step only (the run step never sees them):
# no garbage collection until their heap reaches 512 MiB (an MBXP-sized build allocates ~30 MB in all;
# past the limit the collector holds the heap near it, so only a build whose live heap alone exceeds
# 512 MiB, far beyond any completion, would collect more often than under the default GOGC=100), and one
# thread (a worker per core already keeps every core busy). Together ~15% of a build's CPU; what they
# write is the same (the toolchain's output does not depend on its scheduling or garbage collection).
TOOL_ENV = "GOGC=off GOMEMLIMIT=512MiB GOMAXPROCS=1"

_CONSTRAINT = re.compile(r"^\s*//\s*(?:go:build|\+build)\b", re.MULTILINE)


def build_adapt(argv: list[str], source: str) -> list[str]:
    """`compile` + `link` against the prebuilt standard library, in one shell step (one process group,
    one limit); `argv` (`go build`) when that library is missing or the source has build constraints."""
    from evals.execution import prebuilt
    std = None if _CONSTRAINT.search(source) else prebuilt.go_std()
    if std is None:
        return argv
    q = shlex.quote
    src = argv[-1]
    script = (f"{TOOL_ENV} {q(std['compile'])} -o main.a -p main -complete -pack -dwarf=false"
              f" -importcfg {q(std['importcfg'])} {q(src)}"
              f" && {TOOL_ENV} {q(std['link'])} -s -w -buildmode=exe -importcfg {q(std['importcfg_link'])}"
              f" -o main main.a && rm -f main.a")
    return ["/bin/sh", "-c", script]


LANG = Language(
    name="go", ext="go", aliases=("golang",), source_name="main.go",
    build=("go", "build", "-o", "main", "{src}"), run=("./main",),
    version=("go", "version"), debian=("golang-go",), rlimit_as=False,
    env=(("GOCACHE", "/tmp/cache/go-build"), ("GOPATH", "/tmp/cache/gopath"), ("GO111MODULE", "off"),
         ("CGO_ENABLED", "0")),
    failure_patterns=(r"--- FAIL", r"(?i)assert(ion)? failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"runtime: out of memory", r"fatal error: runtime: out of memory"),
    seal=seal, build_adapt=build_adapt, fast_flags_note="compile + link against the prebuilt standard library, no build cache",
)
