"""Small source rewrites that turn a benchmark's test-runner-specific tests into standalone programs
whose exit code is the verdict (the only thing the executor judges).

- Go tests written for `go test` (func TestX(t *testing.T)) get `package main` and a `main` that runs
  them with `testing.Main`; testify's `assert.New(t)/Equal` gets a tiny stand-in (no modules offline).
- Rust `#[cfg(test)] mod tests` gets a `main` that calls each `#[test]` function.
- Java tests using `assert` get assertions enabled (the JVM disables them without `-ea`).
- JavaScript `console.assert`, which only logs, is made to throw.

Not for: deciding how prompt, completion and tests are concatenated (the format modules do that).
"""
from __future__ import annotations

import re

# ---------------------------------------------------------------- Go

_GO_TEST_FUNC = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_GO_PACKAGE = re.compile(r"^\s*package\s+\w+\s*$", re.MULTILINE)
_GO_IMPORT_BLOCK = re.compile(r"^import\s*\(\s*\n(.*?)^\)\s*$", re.MULTILINE | re.DOTALL)
_GO_IMPORT_LINE = re.compile(r'^import\s+(?:\w+\s+)?"([^"]+)"\s*$', re.MULTILINE)
_TESTIFY = "github.com/stretchr/testify/assert"

_GO_ASSERT_SHIM = '''
// Stand-in for testify's assert (github.com/stretchr/testify is not available offline).
type psftAsserter struct{ t *testing.T }
type psftAssertPkg struct{}

var assert psftAssertPkg

func (psftAssertPkg) New(t *testing.T) *psftAsserter { return &psftAsserter{t} }
func psftEqual(expected, actual interface{}) bool {
	if expected == nil || actual == nil {
		return expected == actual
	}
	exp, ok := expected.([]byte)
	if ok {
		act, ok := actual.([]byte)
		return ok && string(exp) == string(act)
	}
	return reflect.DeepEqual(expected, actual)
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


def go_test_program(body: str, candidates: list[str]) -> str:
    """A `package main` program from Go code without package/imports whose tests are `func TestX(t
    *testing.T)`: imports are the candidates the code uses (Go rejects unused imports), `main` runs
    the tests with `testing.Main` (exit 1 when one fails)."""
    shim = _GO_ASSERT_SHIM if re.search(r"\bassert\.New\(", body) else ""
    imports = ["testing"] + (["reflect"] if shim else [])
    for path in candidates:
        if path not in imports and path != _TESTIFY and go_uses(body, path):
            imports.append(path)
    tests = _GO_TEST_FUNC.findall(body)
    table = "".join(f'\t\t{{Name: "{t}", F: {t}}},\n' for t in tests)
    main = ("\nfunc main() {\n\ttesting.Main(func(pat, str string) (bool, error) { return true, nil },\n"
            f"\t\t[]testing.InternalTest{{\n{table}\t\t}}, nil, nil)\n}}\n")
    head = "package main\n\nimport (\n" + "".join(f'\t"{p}"\n' for p in imports) + ")\n\n"
    return head + body + "\n" + shim + main


# ---------------------------------------------------------------- Rust

_RUST_MAIN = re.compile(r"fn\s+main\s*\(\s*\)\s*\{\s*\}")
_RUST_TEST_FN = re.compile(r"#\[test\]\s*fn\s+(\w+)")


def rust_tests_program(source: str) -> str:
    """Replace an empty `fn main(){}` with one that calls every `#[test]` function of `mod tests`."""
    tests = _RUST_TEST_FN.findall(source)
    source = _RUST_MAIN.sub("", source)
    source = source.replace("#[cfg(test)]", "")
    source = _RUST_TEST_FN.sub(lambda m: f"pub fn {m.group(1)}", source)
    calls = "".join(f"    tests::{t}();\n" for t in tests)
    return "#![allow(unused_imports, dead_code, deprecated)]\n" + source + f"\nfn main() {{\n{calls}}}\n"


# ---------------------------------------------------------------- Java

_JAVA_CLASS = re.compile(r"^(?:public\s+|final\s+)*class\s+(\w+)", re.MULTILINE)


def java_with_assertions(source: str) -> str:
    """Run the class that holds `main` with assertions enabled, from a `Main` launcher (our Java
    runner runs `Main` without `-ea`). Class status must be set before the class loads."""
    classes = _JAVA_CLASS.findall(source)
    target = next((c for c in classes if c != "Main"), None)
    if target is None or "Main" in classes:
        return source
    source = re.sub(rf"^public\s+(class\s+{target}\b)", r"\1", source, flags=re.MULTILINE)
    return source + (
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
