"""Small source rewrites that turn a benchmark's test-runner-specific tests into standalone programs
whose exit code is the verdict. Each returns the program as (code, tests), split where the untrusted
code (prompt + completion) ends, for `Language.seal` (see `problem.seal`).

- Go tests written for `go test` (func TestX(t *testing.T)) get `package main` and a `main` that runs
  them on a `testing.T` stand-in (`testing.Main` always ends in os.Exit, before a seal's proof could be
  printed); testify's `assert.New(t)/Equal` gets a tiny stand-in (no modules offline).
- Rust `#[cfg(test)] mod tests` gets a `main` that calls each `#[test]` function.
- Java tests using `assert` get assertions enabled (the JVM disables them without `-ea`).
- JavaScript `console.assert`, which only logs, is made to throw.
- Lua's `os.exit(lu.LuaUnit.run())` and Ruby's test/unit (run from an exit hook) run the tests in
  place and exit only when one failed, so that the program's end comes after its tests.

Not for: deciding how prompt, completion and tests are concatenated (the format modules do that).
"""
from __future__ import annotations

import re

# ---------------------------------------------------------------- Go

_GO_PSFT_TEST_FUNC = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*psftT\s*\)", re.MULTILINE)
_GO_PACKAGE = re.compile(r"^\s*package\s+\w+\s*$", re.MULTILINE)
_GO_IMPORT_BLOCK = re.compile(r"^import\s*\(\s*\n(.*?)^\)\s*$", re.MULTILINE | re.DOTALL)
_GO_IMPORT_LINE = re.compile(r'^import\s+(?:\w+\s+)?"([^"]+)"\s*$', re.MULTILINE)
_TESTIFY = "github.com/stretchr/testify/assert"

_GO_ASSERT_SHIM = '''
// Stand-in for testify's assert (github.com/stretchr/testify is not available offline).
type psftAsserter struct{ t *psftT }
type psftAssertPkg struct{}

var assert psftAssertPkg

func (psftAssertPkg) New(t *psftT) *psftAsserter { return &psftAsserter{t} }
func psftEqual(expected, actual interface{}) bool {
	if expected == nil || actual == nil {
		return expected == actual
	}
	exp, ok := expected.([]byte)
	if ok {
		act, ok := actual.([]byte)
		return ok && string(exp) == string(act)
	}
	return psftReflect.DeepEqual(expected, actual)
}
func (a *psftAsserter) Equal(expected, actual interface{}, msg ...interface{}) bool {
	if !psftEqual(expected, actual) {
		a.t.Errorf("Not equal: expected %#v, actual %#v", expected, actual)
		return false
	}
	return true
}
func (a *psftAsserter) NotEqual(expected, actual interface{}, msg ...interface{}) bool {
	if psftEqual(expected, actual) {
		a.t.Errorf("Should not be equal: %#v", actual)
		return false
	}
	return true
}
func (a *psftAsserter) True(value bool, msg ...interface{}) bool {
	if !value {
		a.t.Errorf("Should be true")
	}
	return value
}
func (a *psftAsserter) False(value bool, msg ...interface{}) bool {
	if value {
		a.t.Errorf("Should be false")
	}
	return !value
}
'''

# Stand-in for testing.T: `testing.Main` always ends in os.Exit, so a sealed program (its proof printed
# after the tests' `main` returns) runs its tests without it. Failures print `--- FAIL: <name>`.
_GO_T_SHIM = '''
type psftT struct {
	name     string
	failed   bool
	parent   *psftT
	cleanups []func()
}
type psftStop struct{}

func (t *psftT) Name() string { return t.name }
func (t *psftT) Helper()      {}
func (t *psftT) Parallel()    {}
func (t *psftT) Log(args ...interface{}) { psftFmt.Fprintln(psftOS.Stderr, args...) }
func (t *psftT) Logf(format string, args ...interface{}) {
	psftFmt.Fprintf(psftOS.Stderr, format+"\\n", args...)
}
func (t *psftT) Fail() {
	for u := t; u != nil; u = u.parent {
		u.failed = true
	}
}
func (t *psftT) Failed() bool                              { return t.failed }
func (t *psftT) FailNow()                                  { t.Fail(); panic(psftStop{}) }
func (t *psftT) SkipNow()                                  { panic(psftStop{}) }
func (t *psftT) Skip(args ...interface{})                  { t.Log(args...); t.SkipNow() }
func (t *psftT) Skipf(format string, args ...interface{})  { t.Logf(format, args...); t.SkipNow() }
func (t *psftT) Error(args ...interface{})                 { t.Log(args...); t.Fail() }
func (t *psftT) Errorf(format string, args ...interface{}) { t.Logf(format, args...); t.Fail() }
func (t *psftT) Fatal(args ...interface{})                 { t.Log(args...); t.FailNow() }
func (t *psftT) Fatalf(format string, args ...interface{}) { t.Logf(format, args...); t.FailNow() }
func (t *psftT) Cleanup(f func())                          { t.cleanups = append(t.cleanups, f) }
func (t *psftT) Run(name string, f func(t *psftT)) bool {
	sub := &psftT{name: t.name + "/" + name, parent: t}
	psftRunTest(sub, f)
	return !sub.failed
}
func psftRunTest(t *psftT, f func(t *psftT)) {
	defer func() {
		r := recover()
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
		if _, stop := r.(psftStop); r != nil && !stop {
			panic(r)
		}
		if t.failed {
			psftFmt.Fprintf(psftOS.Stderr, "--- FAIL: %s\\n", t.name)
		}
	}()
	f(t)
}
'''


def go_imports(source: str) -> list[str]:
    """Import paths declared in a Go source fragment."""
    out = []
    for block in _GO_IMPORT_BLOCK.findall(source):
        out += re.findall(r'"([^"]+)"', block)
    out += _GO_IMPORT_LINE.findall(source)
    return out


def strip_go_package_and_imports(source: str) -> str:
    return _GO_IMPORT_LINE.sub("", _GO_IMPORT_BLOCK.sub("", _GO_PACKAGE.sub("", source)))


def go_uses(body: str, path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return re.search(rf"(?<![\w.]){re.escape(name)}\.", body) is not None


def go_test_parts(code: str, tests: str, candidates: list[str]) -> tuple[str, str]:
    """(code, tests) of a `package main` program from Go code and tests without package/imports whose
    tests are `func TestX(t *testing.T)`: the code part opens with the package clause and the imports
    the program uses (Go rejects unused imports); the tests part ends with a `main` that runs each test
    on a `testing.T` stand-in and exits 1 when one failed (returns normally when all passed)."""
    tests = re.sub(r"\btesting\.T\b", "psftT", tests)
    shim = _GO_ASSERT_SHIM if re.search(r"\bassert\.New\(", tests) else ""
    body = code + "\n" + tests
    imports = ['psftFmt "fmt"', 'psftOS "os"'] + (['psftReflect "reflect"'] if shim else [])
    seen = set()
    for path in candidates:
        if path not in seen and path != _TESTIFY and go_uses(body, path):
            seen.add(path)
            imports.append(f'"{path}"')
    names = _GO_PSFT_TEST_FUNC.findall(tests)
    main = ("\nfunc psftPassed(name string, f func(t *psftT)) bool {\n\tt := &psftT{name: name}\n"
            "\tpsftRunTest(t, f)\n\treturn !t.failed\n}\n\nfunc main() {\n\tfailed := false\n"
            + "".join(f'\tfailed = !psftPassed("{t}", {t}) || failed\n' for t in names)
            + '\tif failed {\n\t\tpsftFmt.Fprintln(psftOS.Stderr, "FAIL")\n\t\tpsftOS.Exit(1)\n\t}\n}\n')
    head = "package main\n\nimport (\n" + "".join(f"\t{p}\n" for p in imports) + ")\n\n"
    return head + code, "\n" + tests + "\n" + shim + _GO_T_SHIM + main


# ---------------------------------------------------------------- Rust

_RUST_MAIN = re.compile(r"fn\s+main\s*\(\s*\)\s*\{\s*\}")
_RUST_TEST_FN = re.compile(r"#\[test\]\s*fn\s+(\w+)")


def rust_tests_parts(code: str, tests: str) -> tuple[str, str]:
    """(code, tests) with an empty `fn main(){}` dropped (HumanEval-X's prompts open with one) and a
    `main` that calls every `#[test]` function of `mod tests` ending the tests."""
    names = _RUST_TEST_FN.findall(tests)
    code = _RUST_MAIN.sub("", code)
    tests = _RUST_TEST_FN.sub(lambda m: f"pub fn {m.group(1)}", _RUST_MAIN.sub("", tests).replace("#[cfg(test)]", ""))
    calls = "".join(f"    tests::{t}();\n" for t in names)
    return "#![allow(unused_imports, dead_code, deprecated)]\n" + code, tests + f"\nfn main() {{\n{calls}}}\n"


# ---------------------------------------------------------------- Java

_JAVA_CLASS = re.compile(r"^(?:public\s+|final\s+)*class\s+(\w+)", re.MULTILINE)


def java_with_assertions(code: str, tests: str) -> tuple[str, str]:
    """(code, tests) that run the class holding `main` with assertions enabled, from a `Main` launcher
    ending the tests (our Java runner runs `Main` without `-ea`). Class status must be set before the
    class loads. Left as they are when there is no such class or a `Main` already."""
    classes = _JAVA_CLASS.findall(code + "\n" + tests)
    target = next((c for c in classes if c != "Main"), None)
    if target is None or "Main" in classes:
        return code, tests
    public = re.compile(rf"^public\s+(class\s+{target}\b)", re.MULTILINE)
    return public.sub(r"\1", code), public.sub(r"\1", tests) + (
        "\n\npublic class Main {\n    public static void main(String[] args) throws Exception {\n"
        f'        ClassLoader.getSystemClassLoader().setClassAssertionStatus("{target}", true);\n'
        f"        {target}.main(args);\n    }}\n}}\n")


# ---------------------------------------------------------------- JavaScript

_JS_STRICT_ASSERT = '''
function __psftAssert(ok, ...msg) {
  if (!ok) {
    throw new Error("AssertionError: console.assert failed" + (msg.length ? ": " + msg.join(" ") : ""));
  }
}
'''


def js_strict_console_assert(tests: str) -> str:
    """Tests that call `console.assert` (which only logs) made to throw on a false assertion."""
    if "console.assert(" not in tests:
        return tests
    return tests.replace("console.assert(", "__psftAssert(") + _JS_STRICT_ASSERT


# ---------------------------------------------------------------- Lua, Ruby

_LUA_EXIT_RUN = re.compile(r"os\.exit\(\s*lu\.LuaUnit\.run\(\s*\)\s*\)")
_RUBY_TEST_UNIT = re.compile(r"^\s*require\s+['\"]test/unit['\"]", re.MULTILINE)


def lua_run_without_exit(tests: str) -> str:
    """`os.exit(lu.LuaUnit.run())` (which exits even when all passed) as a run that exits on failure only."""
    return _LUA_EXIT_RUN.sub("local psft_failures = lu.LuaUnit.run()\n"
                             "if psft_failures ~= 0 then os.exit(psft_failures) end", tests)


def ruby_run_test_unit(tests: str) -> str:
    """test/unit tests run at the end of the tests, not from its exit hook; exit 1 when one failed."""
    if not _RUBY_TEST_UNIT.search(tests):
        return tests
    sep = "" if tests.endswith("\n") else "\n"
    return tests + sep + "Test::Unit::AutoRunner.need_auto_run = false\nexit(1) unless Test::Unit::AutoRunner.run\n"
