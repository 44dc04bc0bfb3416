"""Sealed JavaScript, TypeScript and PHP programs (`Language.seal`): an early exit, an exit hook, an early
call of the epilogue or a replaced helper never yields the proof token, so a wrong program is not
`passed`; a right one is. Each case runs through the executor warm (Node runner, PHP fork server) and
in fresh processes (`Executor(warm=False)`), and the prologue is also checked by hand on a bare
interpreter (token file in, token on stdout).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from evals.execution import Executor, Program
from evals.execution.result import Status
from evals.languages import javascript, php, typescript
from evals.languages.base import PROOF_FILE

NODE = shutil.which("node")
PHP = shutil.which("php")
TSC = shutil.which("tsc")

JS_RIGHT = "function add(a, b) {\n  return a + b;\n}"
JS_WRONG = "function add(a, b) {\n  return a - b;\n}"
JS_TESTS = "const assert = require('assert');\nassert.strictEqual(add(1, 2), 3);\nassert.strictEqual(add(2, 5), 7);\n"
JS_JSON_TESTS = ("function check(got, want, i) {\n  if (JSON.stringify(got) !== JSON.stringify(want)) "
                 "throw new Error(`test case ${i} did not pass`);\n}\ncheck(add(1, 2), 3, 1);\ncheck(add(2, 5), 7, 2);\n")
TS_RIGHT = "function add(a: number, b: number): number {\n  return a + b;\n}"
TS_WRONG = "function add(a: number, b: number): number {\n  return a - b;\n}"

# Appended to the wrong solution, before the tests: each one forges a pass of an unsealed program.
JS_ATTACKS = {
    "process_exit_0": ("process.exit(0);", JS_TESTS),
    "exit_code_0_from_hooks": ("process.on('uncaughtException', () => { process.exitCode = 0; });\n"
                               "process.on('exit', () => { process.exitCode = 0; });", JS_TESTS),
    "exit_code_getter": ("process.on('exit', () => { Object.defineProperty(process, 'exitCode', "
                         "{ get: () => 0, set() {} }); });\nprocess.exitCode = 0;\nprocess.exit();", JS_TESTS),
    "exit_hook_calls_the_epilogue": ("process.on('exit', () => { __psft_done(); process.exitCode = 0; });\n"
                                     "process.on('uncaughtException', () => {});", JS_TESTS),
    "early_epilogue_then_exit": ("__psft_done();\nprocess.exit(0);", JS_TESTS),
    "replaced_json_stringify": ("JSON.stringify = () => 'same';", JS_JSON_TESTS),
    "json_stringify_on_a_shadowing_json": ("var JSON = { stringify: () => 'same' };", JS_JSON_TESTS),
    "hoisted_fake_require": ("function require() { return { strictEqual() {} }; }", JS_TESTS),
    "patched_assert_module": ("require('assert').strictEqual = () => {};", JS_TESTS),
    # the warm runner's one-shot hand-overs, asked again once the prologue has taken them
    "handovers_asked_again": ("const s = (() => {})['__psft_seal'], h = globalThis['__psft_proof'];\n"
                              "if (typeof s === 'function') s('return () => () => {};');\n"
                              "if (typeof h === 'function') { const t = h(); if (t) console.log('\\n' + t); }\n"
                              "process.exit(0);", JS_TESTS),
}
TS_ATTACKS = {
    "process_exit_0": ("process.exit(0);", JS_TESTS),
    "exit_code_0_from_hooks": ("process.on('uncaughtException', () => { process.exitCode = 0; });\n"
                               "process.on('exit', () => { process.exitCode = 0; });", JS_TESTS),
    "exit_hook_calls_the_epilogue": ("process.on('exit', () => { __psft_done(); process.exitCode = 0; });\n"
                                     "process.on('uncaughtException', () => {});", JS_TESTS),
    "early_epilogue_then_exit": ("__psft_done();\nprocess.exit(0);", JS_TESTS),
    "replaced_json_stringify": ("JSON.stringify = () => 'same';", JS_JSON_TESTS),
}

PHP_RIGHT = "<?php\nfunction add($a, $b) {\n    return $a + $b;\n}"
PHP_WRONG = "<?php\nfunction add($a, $b) {\n    return $a - $b;\n}"
PHP_TESTS = ("function check($got, $want, $i) {\n    if ($got !== $want) {\n        throw new Exception(\"Test failed: "
             "test case $i did not pass\");\n    }\n}\ncheck(add(1, 2), 3, 1);\ncheck(add(2, 5), 7, 2);\n")
PHP_ATTACKS = {
    "exit_0": "exit(0);",
    "die": "die();",
    "shutdown_function_exits_0": "register_shutdown_function(function () { exit(0); });",
    "shutdown_function_calls_the_epilogue": ("register_shutdown_function(function () { $GLOBALS['__psft_proof']->send(null); "
                                             "exit(0); });"),
    "early_epilogue_then_exit": "$__psft_proof->send(null);\nexit(0);",
    "destructor_calls_the_epilogue": ("class D { function __destruct() { $GLOBALS['__psft_proof']->send(null); } }\n"
                                      "$d = new D();\nexit(0);"),
    "exception_handler_exits_0": "set_exception_handler(function ($e) { exit(0); });",
    "epilogue_from_eval": "eval('$GLOBALS[\"__psft_proof\"]->send(null);');\nexit(0);",
    "reflection_of_the_generator": ("$r = new ReflectionGenerator($__psft_proof);\n"
                                    "echo json_encode([$r->getTrace(), (array) $__psft_proof, get_object_vars($__psft_proof)]);\n"
                                    "exit(0);"),
}

CASES = ([("javascript", k) for k in sorted(JS_ATTACKS)] + [("typescript", k) for k in sorted(TS_ATTACKS)]
         + [("php", k) for k in sorted(PHP_ATTACKS)])


def sealed(lang: str, attack: str | None) -> str:
    """The wrong solution with `attack`, or (None) the right one, sealed with its tests."""
    if lang == "javascript":
        extra, tests = JS_ATTACKS[attack] if attack else ("", JS_TESTS)
        return javascript.seal((JS_WRONG + "\n" + extra) if attack else JS_RIGHT, tests)
    if lang == "typescript":
        extra, tests = TS_ATTACKS[attack] if attack else ("", JS_TESTS)
        return typescript.seal((TS_WRONG + "\n" + extra) if attack else TS_RIGHT, tests)
    return php.seal((PHP_WRONG + "\n" + PHP_ATTACKS[attack]) if attack else PHP_RIGHT, PHP_TESTS)


def _available(lang: str) -> bool:
    return {"javascript": NODE, "typescript": NODE and TSC, "php": PHP}[lang] is not None


@pytest.fixture(scope="module", params=["warm", "fresh"])
def executor(request):
    with Executor(workers=1, warm=request.param == "warm") as ex:
        yield ex


@pytest.mark.parametrize("lang,attack", CASES)
def test_an_early_exit_or_exit_hook_does_not_pass_a_sealed_program_and_a_right_one_passes(executor, lang, attack):
    if not _available(lang):
        pytest.skip(f"{lang} is not installed")
    wrong, right = executor.map([Program(lang, sealed(lang, attack), proof=True),
                                 Program(lang, sealed(lang, None), proof=True)])
    assert wrong.status is not Status.PASSED, wrong
    assert right.status is Status.PASSED, right
    if executor.warm and lang != "php":
        assert executor.stats["warm"] > 0  # the warm runner judged some of them


def test_the_warm_runners_hand_overs_are_gone_before_the_completion_runs():
    """The runner compiles the prologue's body once (SEAL_HANDOVER on Function.prototype) and hands the
    token over through a global: both are deleted before the completion's first statement, so the
    program sees the globals and prototypes of a fresh process, and is not declined for it."""
    if NODE is None:
        pytest.skip("node is not installed")
    probe = ("console.log('seen:', typeof (() => {})['__psft_seal'], typeof globalThis['__psft_proof'],"
             " Object.getOwnPropertyNames(Function.prototype).includes('__psft_seal'));")
    with Executor(workers=1) as ex:
        runs = ex.map([Program("javascript", javascript.seal(JS_RIGHT + "\n" + probe, JS_TESTS + f"// {i}\n"),
                               proof=True) for i in range(3)])
        warm = ex.stats["warm"]
    for r in runs:
        assert r.status is Status.PASSED, r
        assert "seen: undefined undefined false" in r.stdout, r.stdout
    assert warm == 3


# --- the prologue and the epilogue by hand, on a bare interpreter ---------------------------------------

TOKEN = "0123456789abcdef" * 2


def _bare(lang: str, source: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    d = Path(tempfile.mkdtemp(prefix="proof-"))
    try:
        if token is not None:
            (d / PROOF_FILE).write_text(token)
        if lang == "php":
            (d / "main.php").write_text(source)
            argv = [[PHP, "-n", "main.php"]]
        else:
            name = "main.js" if lang == "javascript" else "main.ts"
            (d / name).write_text(source)
            argv = [[NODE, "main.js"]]
            if lang == "typescript":
                argv.insert(0, [TSC, "--target", "es2021", "--module", "commonjs", "--lib", "es2021",
                                "--types", "node", "--typeRoots", _types_root(), "--skipLibCheck", "main.ts"])
        for a in argv:
            p = subprocess.run(a, cwd=d, capture_output=True, text=True, timeout=60,
                               env={"PATH": "/usr/local/bin:/usr/bin:/bin", "NODE_PATH": "/usr/share/nodejs:/usr/lib/nodejs"})
            if p.returncode:
                return p
        assert not (d / PROOF_FILE).exists(), "the prologue deletes the token file"
        return p
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _types_root() -> str:
    from evals.languages.base import node_types_dir
    return node_types_dir()


@pytest.mark.parametrize("lang,attack", CASES)
def test_the_token_appears_only_after_the_last_test_on_a_bare_interpreter(lang, attack):
    if not _available(lang):
        pytest.skip(f"{lang} is not installed")
    wrong = _bare(lang, sealed(lang, attack))
    assert TOKEN not in wrong.stdout, wrong
    right = _bare(lang, sealed(lang, None))
    assert right.returncode == 0 and right.stdout.endswith(f"\n{TOKEN}\n"), right


@pytest.mark.parametrize("lang", ["javascript", "typescript", "php"])
def test_without_a_token_file_a_sealed_program_runs_as_if_unsealed(lang):
    if not _available(lang):
        pytest.skip(f"{lang} is not installed")
    right = _bare(lang, sealed(lang, None), token=None)
    assert right.returncode == 0 and right.stdout == "", right
    wrong = _bare(lang, sealed(lang, "early_epilogue_then_exit"), token=None)
    assert wrong.stdout == ""


def test_php_seal_keeps_line_numbers_strict_types_and_closing_tags():
    code = "<?php\ndeclare(strict_types=1);\nfunction add(int $a, int $b): int {\n    return $a + $b;\n}\n"
    src = php.seal(code, "if (add(1, 2) !== 3) { throw new Exception('Test failed'); }\n?>\n")
    lines = src.splitlines()
    assert lines[0] == "<?php" and lines[1].startswith("declare(strict_types=1); $__psft_proof")
    assert lines[2:5] == code.splitlines()[2:5]
    if PHP:
        p = _bare("php", src)
        assert p.returncode == 0 and p.stdout.endswith(f"\n{TOKEN}\n"), p
        p = _bare("php", php.seal(code, "echo add('1', 2);\n"))  # strict types still apply: a TypeError
        assert p.returncode != 0 and TOKEN not in p.stdout


def test_js_seal_keeps_use_strict_and_typescript_seal_type_checks_the_users_code():
    src = javascript.seal("'use strict';\nfunction f() { return this; }", "if (f() !== undefined) throw new Error('sloppy');\n")
    assert src.startswith('"use strict"; const __psft_done')
    if NODE:
        p = _bare("javascript", src)
        assert p.returncode == 0 and p.stdout.endswith(f"\n{TOKEN}\n"), p
    if NODE and TSC:
        p = _bare("typescript", typescript.seal("function add(a: number, b: number): number {\n  return a + b;\n}",
                                                "const s: string = add(1, 2);\n"))
        assert p.returncode != 0 and "error TS2322" in p.stdout, p
