"""Go: one `go build` per program, with a build cache kept for the worker's lifetime."""
from .base import Language

LANG = Language(
    name="go", ext="go", aliases=("golang",), source_name="main.go",
    build=("go", "build", "-o", "main", "{src}"), run=("./main",),
    version=("go", "version"), debian=("golang-go",), rlimit_as=False,
    env=(("GOCACHE", "/tmp/cache/go-build"), ("GOPATH", "/tmp/cache/gopath"), ("GO111MODULE", "off"),
         ("CGO_ENABLED", "0")),
    failure_patterns=(r"--- FAIL", r"(?i)assert(ion)? failed", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"runtime: out of memory", r"fatal error: runtime: out of memory"),
)
