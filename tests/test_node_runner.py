"""The warm Node runner (evals/execution/node_runner.js) against fresh `node main.js` / `tsc` processes.

Started directly with subprocess, without a sandbox. Each edge-case program is run both ways and must
agree on the exit code and on node's key stderr lines, or the runner must decline it (`fallback`).
The slow data test does the same for every MBXP JavaScript and TypeScript reference program.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "evals" / "execution" / "node_runner.js"
MBXP = Path(__file__).resolve().parents[2] / "shared/data/mbxp"
NODE = shutil.which("node")
TSC = shutil.which("tsc")
NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs"
TS_ARGS = ["--target", "es2021", "--module", "commonjs", "--lib", "es2021", "--types", "node", "--skipLibCheck"]

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def _types_root() -> str | None:
    """A folder holding @types/node, for both the runner (PSFT_TS_TYPE_ROOTS) and tsc (--typeRoots)."""
    candidates = [os.environ.get("PSFT_TS_TYPE_ROOTS", "")] + [
        "/usr/share/nodejs/@types", "/usr/lib/node_modules/@types", "/usr/local/lib/node_modules/@types"]
    for c in candidates:
        if c and (Path(c) / "node" / "package.json").is_file():
            return c
    return None


TYPES_ROOT = _types_root()


def _env(home: str) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_PATH": NODE_PATH, "HOME": home, "LANG": "C.UTF-8"}
    if TYPES_ROOT:
        env["PSFT_TS_TYPE_ROOTS"] = TYPES_ROOT
    return env


class Runner:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="node-runner-")
        self.proc = subprocess.Popen(
            [NODE, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self.dir, env=_env(self.dir), text=True, encoding="utf-8")
        self.count = 0

    def run(self, source: str, lang: str = "javascript", timeout_ms: int = 5000, output_bytes: int = 16384,
            **extra) -> dict:
        self.count += 1
        req = {"id": self.count, "lang": lang, "source": source,
               "filename": "main.js" if lang == "javascript" else "main.ts",
               "timeout_ms": timeout_ms, "output_bytes": output_bytes, **extra}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"runner died: {self.proc.stderr.read()}"
        resp = json.loads(line)
        assert resp["id"] == self.count
        return resp

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def runner():
    r = Runner()
    yield r
    r.close()


def fresh_node(source: str, timeout_s: float = 5.0, workdir: str | None = None) -> dict:
    """`node main.js` in a fresh process (and a fresh directory unless given)."""
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="fresh-node-")
    try:
        if source is not None:
            Path(workdir, "main.js").write_text(source, encoding="utf-8")
        try:
            p = subprocess.run([NODE, "main.js"], cwd=workdir, env=_env(workdir), capture_output=True,
                               timeout=timeout_s)
        except subprocess.TimeoutExpired as e:
            return {"exit_code": None, "timed_out": True, "stdout": (e.stdout or b"").decode("utf-8", "replace"),
                    "stderr": (e.stderr or b"").decode("utf-8", "replace")}
        return {"exit_code": p.returncode, "timed_out": False, "stdout": p.stdout.decode("utf-8", "replace"),
                "stderr": p.stderr.decode("utf-8", "replace")}
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


ERROR_LINE = re.compile(r"^[A-Za-z_$][\w$]*(?: \[[A-Z_0-9]+\])?: ")


def key_lines(stderr: str) -> list[str]:
    """The lines of node's uncaught-exception report that a classifier looks at."""
    lines = stderr.splitlines()
    keys = [ln for ln in lines if ERROR_LINE.match(ln) and not ln.startswith("Node.js ")]
    for i, ln in enumerate(lines):
        if ln.startswith("(Use `node --trace-uncaught") and i > 0:
            keys.append(lines[i - 1])
    if "JavaScript heap out of memory" in stderr:
        keys.append("heap")
    return keys


def assert_same(resp: dict, ref: dict, stdout: bool = True):
    assert resp["fallback"] is None, resp
    assert resp["timed_out"] == ref["timed_out"], (resp, ref)
    assert resp["exit_code"] == ref["exit_code"], (resp, ref)
    assert key_lines(resp["stderr"]) == key_lines(ref["stderr"]), (resp["stderr"], ref["stderr"])
    if stdout:
        assert resp["stdout"] == ref["stdout"], (resp["stdout"], ref["stdout"])


# --- edge cases that must run in the runner exactly as in a fresh process --------------------------

SAME = {
    "pass": "const assert = require('assert');\nfunction add(a, b) { return a + b; }\n"
            "assert.strictEqual(add(2, 3), 5);\nassert.deepStrictEqual([add(1, 1)], [2]);\nconsole.log('ok');\n",
    "assertion_failure": "const assert = require('assert');\n"
                         "assert.deepEqual([1, 2], [1, 3], 'Exception --- test case 0 failed to pass');\n",
    "assertion_generated_message": "const assert = require('node:assert/strict');\nassert.equal(7, 8);\n",
    "assertion_deep_diff": "const assert = require('assert');\nassert.deepStrictEqual({a: [1, {b: 2}]}, {a: [1, {b: 3}]});\n",
    "thrown_string": "console.log('before');\nthrow 'Error at 1th assert statement. Value = 3';\n",
    "thrown_object": "throw {a: 1, b: 'two'};\n",
    "thrown_number": "throw 42;\n",
    "thrown_error": "function f() { throw new Error('boom'); }\nf();\n",
    "thrown_custom_error": "class MyError extends Error {}\nconst e = new MyError('custom');\ne.code = 'E_X';\nthrow e;\n",
    "type_error": "const o = {};\no.missing();\n",
    "reference_error": "console.log(notDefinedAnywhere);\n",
    "syntax_error": "function f( {\n  return 1;\n}\n",
    "exit_3": "console.log('a');\nprocess.exit(3);\nconsole.log('never');\n",
    "exit_in_try_finally": "try { process.exit(5); } catch (e) { console.log('caught'); } "
                           "finally { console.log('finally'); }\n",
    "exit_code": "process.exitCode = 4;\nconsole.log('done');\n",
    "exit_code_then_throw": "process.exitCode = 4;\nthrow new Error('still 1');\n",
    "exit_no_arg_uses_exit_code": "process.exitCode = 6;\nprocess.exit();\n",
    "exit_257": "process.exit(257);\n",
    "exit_negative": "process.exit(-1);\n",
    "exit_string": "process.exit('2');\n",
    "console_formatting": (
        "console.log('%s=%d %i %f %j %o', 'x', 4.5, 7.9, '1.5', {a: 1}, [1]);\n"
        "console.log({a: [1, {b: new Map([[1, {c: 2}]])}], s: new Set(['x']), d: undefined, n: null});\n"
        "class Foo { constructor() { this.x = 1; this.nested = {deep: {deeper: {deepest: 1}}}; } }\n"
        "console.log(new Foo(), [new Foo()], Object.create(null), -0, 10n, Symbol('s'), [undefined, , 3]);\n"
        "console.info('info'); console.debug('debug'); console.warn('warn'); console.error('err', {e: 1});\n"
        "console.log([1.5, 'str', true], 'a'.repeat(100).split(''));\n"
        "console.table([{a: 1, b: 'x'}, {a: 2}]);\n"
        "console.group('g'); console.log('inside'); console.groupEnd(); console.log();\n"
        "console.dir({a: {b: {c: {d: 1}}}}, {depth: 0});\n"
        "console.count(); console.count('k'); console.count();\n"
        "console.assert(1 === 2, 'assertion %s', 'text');\n"
        "process.stdout.write('no newline'); process.stderr.write('to stderr\\n');\n"
        "console.log(function named() {}, () => 1, class K {}, new Date(0), /re/g, new Error('shown').message);\n"
        "console.log(require('util').format('%s %O', 'fmt', {z: [1, 2]}), require('util').inspect('q'));\n"
    ),
    "promises_and_async": (
        "async function main() { await null; console.log('after await'); return 7; }\n"
        "main().then((v) => console.log('then', v));\n"
        "Promise.resolve().then(() => console.log('micro'));\nconsole.log('sync');\n"
    ),
    "async_error_caught": "async function f() { throw new Error('x'); }\nf().catch((e) => console.log('caught', e.message));\n",
    "lodash_realm": (
        "const _ = require('lodash');\nconst assert = require('assert');\n"
        "const c = _.cloneDeep([1, [2, {a: 3}]]);\n"
        "assert.deepStrictEqual(c, [1, [2, {a: 3}]]);\n"
        "console.log(Array.isArray(c), c instanceof Array, _.chunk([1, 2, 3], 2) instanceof Array);\n"
        "console.log(_.isEqual({a: [1]}, {a: [1]}), _.sortBy([3, 1, 2]), _.uniq([1, 1, 2]), _.range(3));\n"
        "console.log(JSON.stringify(_.groupBy(['one', 'two', 'three'], 'length')));\n"
    ),
    "mbjsp_style_failure": (
        "const _ = require('lodash')\nfunction compare(a, b) { return _.isEqual(a, b) }\n"
        "var x0 = 1 + 1;\nif (!compare(x0, 3)) {\n"
        "    throw 'Error at 1th assert statement. Value = ' + JSON.stringify(x0)\n}\n"
    ),
    "assert_throws": (
        "const assert = require('assert');\n"
        "assert.throws(() => { throw new TypeError('bad'); }, TypeError);\n"
        "assert.throws(() => { throw new TypeError('bad'); }, /bad/);\n"
        "assert.throws(() => { throw new TypeError('bad'); }, {name: 'TypeError', message: 'bad'});\n"
        "assert.throws(() => { throw new TypeError('bad'); }, (e) => e instanceof TypeError);\n"
        "assert.doesNotThrow(() => 1);\n"
        "try { assert.equal(1, 2); } catch (e) {\n"
        "  console.log(e instanceof assert.AssertionError, e instanceof Error, e.name, e.code, e.message);\n"
        "  console.log(Object.keys(e).join(','), String(e));\n}\n"
        "assert.throws(() => 1, RangeError);\n"
    ),
    "strict_mode_and_this": (
        "'use strict';\nconsole.log(this === module.exports, typeof require, typeof __filename, typeof global);\n"
        "try { undeclared = 1; } catch (e) { console.log(e.name); }\n"
    ),
    "globals_like_node": (
        "console.log(typeof setTimeout === 'function', typeof globalThis, global === globalThis);\n"
        "var topLevel = 1;\nconsole.log(globalThis.topLevel, typeof window);\n"
        "implicitGlobal = 2;\nconsole.log(globalThis.implicitGlobal);\n"
        "console.log(require.main === module, process.argv.length, process.platform === 'linux');\n"
    ),
    "escape_attempts_stay_in_context": (
        "const assert = require('assert');\nconst F = assert.equal.constructor;\n"
        "console.log(F('return typeof process')(), F === Function, console.log.constructor === Function);\n"
        "try { assert.equal(1, 2); } catch (e) { console.log(e.constructor.constructor === Function); }\n"
        "console.log(Object.getPrototypeOf(require('util').inspect) === Function.prototype);\n"
    ),
    "global_keys": ("console.log(Object.keys(globalThis), Object.keys(console).length, String(globalThis));\n"
                    "process.exitCode = '5';\nconsole.log(typeof process.exitCode, process.exitCode);\n"),
    "no_promise_jobs_after_an_uncaught_error": (
        "Promise.resolve().then(() => console.log('never'));\nconsole.log('sync');\nthrow new Error('x');\n"),
    "exit_from_a_promise_job": "Promise.resolve().then(() => process.exit(2));\nconsole.log('sync');\n",
    "stack_depth_moderate": "function d(n) { return n === 0 ? 0 : 1 + d(n - 1); }\nconsole.log(d(3000));\n",
    "json_and_math": (
        "console.log(JSON.stringify({a: [1, 'b', null], c: {d: true}}), Math.max(1, 5, 3), Math.round(2.5));\n"
        "console.log([10, 9, 1].sort(), [3, 1, 2].sort((a, b) => a - b), 'abc'.split('').reverse().join(''));\n"
        "console.log(parseInt('42px'), Number('x'), (0.1 + 0.2).toFixed(10), 2 ** 53 + 1);\n"
    ),
    "unicode_output": "console.log('héllo wörld ✓ 𝄞', '\\u00e9');\nprocess.stdout.write('\\ud800 lone\\n');\n",
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_same_as_fresh_node(runner, name):
    source = SAME[name]
    resp = runner.run(source)
    ref = fresh_node(source)
    # console.count/time & co are deterministic here; stdout must match byte for byte.
    assert_same(resp, ref)


def test_infinite_loop_times_out(runner):
    source = "let i = 0;\nwhile (true) { i++; }\n"
    t0 = time.monotonic()
    resp = runner.run(source, timeout_ms=1000)
    assert time.monotonic() - t0 < 5
    assert resp["fallback"] is None and resp["timed_out"] is True and resp["exit_code"] is None
    ref = fresh_node(source, timeout_s=1.0)
    assert ref["timed_out"] is True


def test_infinite_promise_loop_times_out(runner):
    resp = runner.run("function spin() { return Promise.resolve().then(spin); }\nspin();\n", timeout_ms=1000)
    assert resp["fallback"] is None and resp["timed_out"] is True


def test_exit_wins_over_a_later_timeout(runner):
    resp = runner.run("try { process.exit(0); } catch (e) {} while (true) {}\n", timeout_ms=500)
    assert resp["fallback"] is None and resp["exit_code"] == 0 and not resp["timed_out"]


def test_pollution_does_not_leak(runner):
    polluter = (
        "const assert = require('assert');\nconst _ = require('lodash');\nconst util = require('util');\n"
        "Array.prototype.push = function () { return 'hijacked'; };\n"
        "Object.prototype.injected = 'yes';\nJSON.stringify = () => 'fake';\nMath.max = () => -1;\n"
        "String.prototype.trim = () => 'no';\nglobalThis.leaked = 1;\n"
        "assert.equal = () => {};\nassert.deepStrictEqual = () => {};\n"
        "assert.strict.equal = () => {};\n_.isEqual = () => true;\n"
        "Object.getPrototypeOf(_.chunk).polluted = true;\nutil.format = () => 'x';\n"
        "console.log = () => {};\nprocess.exitCode = 9;\nFunction.prototype.call = null;\n"
    )
    assert runner.run(polluter)["exit_code"] == 9
    clean = (
        "const assert = require('assert');\nconst _ = require('lodash');\n"
        "const a = [];\nassert.strictEqual(a.push(1), 1);\n"
        "assert.strictEqual({}.injected, undefined);\nassert.strictEqual(JSON.stringify({a: 1}), '{\"a\":1}');\n"
        "assert.strictEqual(Math.max(1, 2), 2);\nassert.strictEqual(' x '.trim(), 'x');\n"
        "assert.strictEqual(typeof leaked, 'undefined');\nassert.strictEqual(typeof Function.prototype.call, 'function');\n"
        "assert.strictEqual(_.isEqual(1, 2), false);\nassert.strictEqual(Function.prototype.polluted, undefined);\n"
        "assert.strictEqual(require('util').format('%d', 3), '3');\n"
        "assert.throws(() => assert.strict.equal(1, 2));\nassert.throws(() => assert.deepStrictEqual([1], [2]));\n"
        "console.log('clean');\n"
    )
    resp = runner.run(clean)
    assert resp["fallback"] is None and resp["exit_code"] == 0 and resp["stdout"] == "clean\n", resp
    assert runner.run("assert.equal(1, 2);\n")["exit_code"] == 1  # no `assert` global left behind


DECLINED = {
    "require_fs": "const fs = require('fs');\nconsole.log(fs.readdirSync('.'));\n",
    "require_child_process": "require('child_process').execSync('true');\n",
    "require_net": "const net = require('net');\n",
    "require_node_fs": "require('node:fs');\n",
    "require_unknown_package": "require('mathjs');\n",
    "set_timeout": "setTimeout(() => console.log('later'), 10);\n",
    "set_interval": "const t = setInterval(() => {}, 10);\nclearInterval(t);\n",
    "set_immediate": "setImmediate(() => {});\n",
    "queue_microtask": "queueMicrotask(() => {});\n",
    "next_tick": "process.nextTick(() => console.log('tick'));\n",
    "process_env": "console.log(process.env.HOME);\n",
    "process_cwd": "console.log(process.cwd());\n",
    "process_on": "process.on('exit', () => console.log('bye'));\n",
    "process_stdin": "process.stdin.on('data', () => {});\n",
    "buffer": "console.log(Buffer.from('x').toString('base64'));\n",
    "fetch": "fetch('http://example.com');\n",
    "unhandled_rejection": "async function f() { throw new Error('async boom'); }\nf();\n",
    "es_module_syntax": "import * as assert from 'assert';\nassert.equal(1, 1);\n",
    "dynamic_import": "import('fs').then(() => console.log('loaded'));\n",
    "proxy": "const p = new Proxy({}, {});\n",
    "inspect_custom": "const s = Symbol.for('nodejs.util.inspect.custom');\n",
    "assert_ok_without_message": "const assert = require('assert');\nassert(1 === 2);\n",
    "stack_overflow": "function f() { return f() + 1; }\nf();\n",
    "webassembly": "console.log(typeof WebAssembly);\n",
    "print_process": "console.log(process);\n",
    "stylize": "require('util').inspect({}, {stylize: function () { return this; }});\n",
    "prototypes_changed_before_require": (  # node's own lazily loaded assert module breaks on this
        "Object.defineProperty(Function.prototype, 'equal', {value: 1, writable: false});\n"
        "const assert = require('assert');\nassert.equal(1, 1);\n"
    ),
    "caught_decline_still_declines": "try { require('fs'); } catch (e) {}\nconsole.log('went on');\n",
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_declines(runner, name):
    resp = runner.run(DECLINED[name])
    assert resp["fallback"], resp


def test_big_output_is_capped_to_the_tail(runner):
    source = "for (let i = 0; i < 100000; i++) console.log('line ' + i);\nconsole.error('e'.repeat(5000));\n"
    resp = runner.run(source, output_bytes=1000)
    ref = fresh_node(source)
    assert resp["fallback"] is None and resp["exit_code"] == 0
    assert resp["stdout"].encode() == ref["stdout"].encode()[-1000:]
    assert resp["stderr"].encode() == ref["stderr"].encode()[-1000:]
    assert resp["stdout_bytes"] == len(ref["stdout"].encode())


def test_runner_keeps_serving_and_stdout_stays_clean(runner):
    """Many programs of every kind in a row; every response is one JSON line (checked by Runner.run)."""
    for _ in range(30):
        runner.run("throw new Error('x');")
        runner.run("process.exit(2)")
        runner.run("let x = ;")
        runner.run("require('fs')")
        runner.run("console.log('%s', 'ok'); process.stdout.write('\\n');")
    resp = runner.run("console.log(1 + 1)")
    assert resp["stdout"] == "2\n" and resp["exit_code"] == 0


def test_bad_request_line_gets_a_fallback(runner):
    runner.proc.stdin.write("this is not json\n")
    runner.proc.stdin.flush()
    resp = json.loads(runner.proc.stdout.readline())
    assert resp["fallback"] and resp["id"] is None
    assert runner.run("console.log('still here')")["stdout"] == "still here\n"


# --- TypeScript ---------------------------------------------------------------------------------

def fresh_tsc(source: str, workdir: str) -> dict:
    Path(workdir, "main.ts").write_text(source, encoding="utf-8")
    args = [TSC, *TS_ARGS] + (["--typeRoots", TYPES_ROOT] if TYPES_ROOT else []) + ["main.ts"]
    p = subprocess.run(args, cwd=workdir, env=_env(workdir), capture_output=True, timeout=120)
    return {"exit_code": p.returncode, "stdout": p.stdout.decode(), "stderr": p.stderr.decode()}


TS_CASES = {
    "ts_pass": "import * as assert from 'assert'\nconst f = (a: number, b: number): number => a + b;\n"
               "assert.deepEqual(f(1, 2), 3);\nconsole.log(f(2, 2));\n",
    "ts_assert_fail": "import * as assert from 'assert'\nlet x: number[] = [1, 2];\n"
                      "assert.deepEqual(x, [2], 'Exception --- test case 0 failed to pass');\n",
    "ts_type_error": "let x: number = 'str';\nfunction g(a: string) { return a; }\ng(3);\nconsole.log(x);\n",
    "ts_syntax_error": "const f = function (a: number) : number {\n  return a +;\n}\n",
    "ts_missing_module": "import * as math from 'mathjs'\nconsole.log(math);\n",
    "ts_downlevel": "class A { x = 1; static y = 2; }\nconst o: {a?: {b: number}} = {};\n"
                    "console.log(new A().x, A.y, o.a?.b ?? 'none', [1, [2, [3]]].flat(2));\n",
}


@pytest.mark.skipif(TSC is None, reason="tsc is not installed")
@pytest.mark.parametrize("name", sorted(TS_CASES))
def test_typescript_same_as_tsc_and_node(runner, name, tmp_path):
    source = TS_CASES[name]
    resp = runner.run(source, lang="typescript")
    assert resp["fallback"] is None, resp
    built = fresh_tsc(source, str(tmp_path))
    if built["exit_code"] != 0:
        assert resp["phase"] == "build" and resp["exit_code"] == built["exit_code"], (resp, built)
        assert resp["stdout"] == built["stdout"]
        return
    assert resp["phase"] == "run"
    ref = fresh_node(None, workdir=str(tmp_path))
    assert_same(resp, ref)


@pytest.mark.skipif(TSC is None, reason="tsc is not installed")
@pytest.mark.skipif(TYPES_ROOT is None, reason="@types/node is not installed: every program fails to build")
def test_typescript_programs_do_not_see_each_other(runner):
    first = ("declare global { interface Array<T> { myExt(): number; } }\nexport {};\n"
             "Object.defineProperty(Array.prototype, 'myExt', {value: () => 1});\nconsole.log([1].myExt());\n")
    resp = runner.run(first, lang="typescript")
    assert resp["fallback"] is None and resp["exit_code"] == 0 and resp["stdout"] == "1\n", resp
    second = "import * as assert from 'assert'\nassert.equal([1].myExt(), 1);\n"
    resp = runner.run(second, lang="typescript")
    assert resp["phase"] == "build" and "error TS2339: Property 'myExt' does not exist" in resp["stdout"], resp


@pytest.mark.skipif(TSC is None, reason="tsc is not installed")
def test_typescript_type_errors_can_be_ignored_like_mxeval(runner):
    resp = runner.run("let x: number = 'str';\nconsole.log(x);\n", lang="typescript", ts_type_errors="ignore")
    assert resp["fallback"] is None and resp["phase"] == "run" and resp["exit_code"] == 0 and resp["stdout"] == "str\n"


# --- every MBXP reference program --------------------------------------------------------------

def _programs(name: str) -> list[tuple[str, str]]:
    path = MBXP / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append((d["task_id"], d["prompt"] + (d.get("canonical_solution") or "") + d["test"]))
    return out


def _passed(r: dict) -> bool:
    return r["exit_code"] == 0 and not r["timed_out"]


def _fresh_js_timed(source: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    ref = fresh_node(source, timeout_s=10.0)
    return ref, time.perf_counter() - t0


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _runner_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.bench  # a ~1,000-program study (minutes): `make bench`
@pytest.mark.data
def test_mbxp_javascript_agrees_with_fresh_node():
    programs = _programs("mbjsp_release_v1.2.jsonl")
    r = Runner()
    try:
        cpu0, t0 = _runner_cpu(r.proc.pid), time.perf_counter()
        warm = [r.run(src, timeout_ms=10000) for _, src in programs]
        warm_wall, warm_cpu = time.perf_counter() - t0, _runner_cpu(r.proc.pid) - cpu0
    finally:
        r.close()
    cpu0 = _children_cpu()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        fresh = list(pool.map(_fresh_js_timed, [src for _, src in programs]))
    fresh_cpu = _children_cpu() - cpu0
    fresh_wall = sum(t for _, t in fresh)
    _check(programs, warm, [f for f, _ in fresh], "javascript")
    n = len(programs)
    print(f"\nMBJSP {n} programs: warm runner {n / warm_wall:.1f} programs/s wall, {1000 * warm_cpu / n:.1f} ms CPU "
          f"each; fresh node {n / fresh_wall:.1f} programs/s wall (one at a time), {1000 * fresh_cpu / n:.1f} ms CPU each")


@pytest.mark.bench  # a ~1,000-program study (tsc per program: many minutes): `make bench`
@pytest.mark.data
@pytest.mark.skipif(TSC is None, reason="tsc is not installed")
@pytest.mark.skipif(TYPES_ROOT is None, reason="@types/node is not installed: every program fails to build")
def test_mbxp_typescript_agrees_with_tsc_and_node(tmp_path):
    programs = _programs("mbtsp_release_v1.2.jsonl")
    r = Runner()
    try:
        cpu0, t0 = _runner_cpu(r.proc.pid), time.perf_counter()
        warm = [r.run(src, lang="typescript", timeout_ms=10000) for _, src in programs]
        warm_wall, warm_cpu = time.perf_counter() - t0, _runner_cpu(r.proc.pid) - cpu0
    finally:
        r.close()
    # tsc over many programs at once (each is a module of its own, so they cannot see each other). tsc
    # only reports semantic errors when no file has syntax errors, so: a first run finds the files with
    # syntax errors (exactly what tsc reports for each alone), a second one checks the others. Files that
    # could touch the global scope are compiled alone. Diagnostics are kept per file.
    dirs = []
    for i, (_, src) in enumerate(programs):
        d = tmp_path / f"p{i:04d}"
        d.mkdir()
        (d / "main.ts").write_text(src, encoding="utf-8")
        dirs.append(d)
    alone = {i for i, (_, src) in enumerate(programs)
             if not re.search(r"^\s*(import|export)\b", src, re.M) or "declare" in src}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    diags: dict[int, list[str]] = {i: [] for i in range(len(programs))}
    status: dict[int, int] = {}

    def tsc_batch(indices):
        found: dict[int, list[str]] = {i: [] for i in indices}
        p = subprocess.run([TSC, *TS_ARGS, "--typeRoots", TYPES_ROOT] + [f"p{i:04d}/main.ts" for i in indices],
                           cwd=tmp_path, env=_env(str(tmp_path)), capture_output=True, text=True, timeout=1800)
        last = None
        for ln in p.stdout.splitlines(keepends=True):
            m = re.match(r"p(\d{4})/main\.ts", ln)
            if m:
                last = int(m.group(1))
                found[last].append("main.ts" + ln[m.end():])
            elif ln.startswith(" ") and last is not None:  # the continuation of a multi-line message
                found[last].append(ln)
            else:
                pytest.fail(f"tsc reported a diagnostic for no file: {ln}")
        return found

    first = tsc_batch([i for i in range(len(programs)) if i not in alone])
    syntax_errors = {i for i, d in first.items() if d}
    second = tsc_batch([i for i in first if i not in syntax_errors])
    for found in (first, second):
        for i, d in found.items():
            if d:
                diags[i] = d
    for i in first:
        emitted = (dirs[i] / "main.js").is_file()
        status[i] = 0 if not diags[i] else (2 if emitted else 1)
    for i in alone:
        b = fresh_tsc(programs[i][1], str(dirs[i]))
        diags[i] = b["stdout"].splitlines(keepends=True)
        status[i] = b["exit_code"]
    tsc_wall = time.perf_counter() - t0

    def fresh_run(i):
        if status[i] != 0:
            return {"exit_code": status[i], "timed_out": False, "stdout": "".join(diags[i]), "stderr": "",
                    "phase": "build"}
        ref = fresh_node(None, timeout_s=10.0, workdir=str(dirs[i]))
        ref["phase"] = "run"
        return ref

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        fresh = list(pool.map(fresh_run, range(len(programs))))
    fresh_cpu = _children_cpu() - cpu0
    _check(programs, warm, fresh, "typescript")
    build_mismatch = [programs[i][0] for i, (w, f) in enumerate(zip(warm, fresh))
                      if not w["fallback"] and f["phase"] == "build" and w["stdout"] != f["stdout"]]
    assert not build_mismatch, f"tsc diagnostics differ for {build_mismatch[:10]}"
    n = len(programs)
    print(f"\nMBTSP {n} programs: warm runner {n / warm_wall:.1f} programs/s wall, {1000 * warm_cpu / n:.1f} ms CPU "
          f"each; tsc (one batch) + fresh node: {1000 * fresh_cpu / n:.1f} ms CPU each, tsc batch {tsc_wall:.0f} s")


def _check(programs, warm, fresh, lang):
    fallbacks = [(programs[i][0], w["fallback"]) for i, w in enumerate(warm) if w["fallback"]]
    disagree = [(programs[i][0], w, f) for i, (w, f) in enumerate(zip(warm, fresh))
                if not w["fallback"] and _passed(w) != _passed(f)]
    exit_differs = [(programs[i][0], w["exit_code"], f["exit_code"]) for i, (w, f) in enumerate(zip(warm, fresh))
                    if not w["fallback"] and not f["timed_out"] and w["exit_code"] != f["exit_code"]]
    keys_differ = [(programs[i][0], key_lines(w["stderr"]), key_lines(f["stderr"]))
                   for i, (w, f) in enumerate(zip(warm, fresh))
                   if not w["fallback"] and w.get("phase") == "run" and key_lines(w["stderr"]) != key_lines(f["stderr"])]
    n = len(programs)
    passed = sum(_passed(f) for f in fresh)
    print(f"\n{lang}: {n} programs, {passed} pass in a fresh process, {len(fallbacks)} fallbacks "
          f"({sorted({r for _, r in fallbacks})[:5]}), {len(disagree)} pass/fail disagreements")
    assert not disagree, f"{len(disagree)} disagreements, e.g. {disagree[:3]}"
    assert not exit_differs, f"exit codes differ: {exit_differs[:5]}"
    assert not keys_differ, f"stderr key lines differ: {keys_differ[:3]}"
    assert len(fallbacks) < 0.05 * n, f"{len(fallbacks)} fallbacks: {fallbacks[:10]}"


# ---------------------------------------------------------------------------------------------------
# Escapes from the vm context and the proof of a sealed program. Each attack runs first; a wrong and a
# right sealed program then run on the same runner, with a proof token each: the wrong one must not
# print its token, the right one must (the runner is the host's only judge of a warm program).
# ---------------------------------------------------------------------------------------------------

from evals.languages import javascript as js_lang  # noqa: E402

RIGHT = "function add(a, b) {\n  return a + b;\n}"
WRONG = "function add(a, b) {\n  return a - b;\n}"
TESTS = "const assert = require('assert');\nassert.strictEqual(add(1, 2), 3);\nassert.strictEqual(add(2, 2), 4);\n"
# A program that reaches the runner's process says so, and makes the runner report every later failing
# program as exiting 0 (what the escape that was found did); otherwise it learns nothing.
FORGE = ("const fs = p.getBuiltinModule('fs'), B = p.getBuiltinModule('buffer').Buffer, w = fs.writeSync;"
         " fs.writeSync = function (fd, data, ...rest) { if (fd === 1 && B.isBuffer(data)) {"
         " data = B.from(B.from(data).toString().replace(/\"exit_code\": ?1,/, '\"exit_code\":0,')); rest = []; }"
         " return w.call(this, fd, data, ...rest); }; console.log('ESCAPED');")
REACH = ("function reach(x) { try { if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return;"
         " const F = typeof x === 'function' ? x.constructor : x.constructor.constructor;"
         " if (F !== Function) { const p = F('return process')();"
         " if (typeof p.getBuiltinModule === 'function') { " + FORGE + " } } } catch (e) {} }\n")


def _token(i: int) -> str:
    return f"{i:032x}"


def _assert_judged_honestly(runner):
    """A wrong sealed program gets no proof, a right one does, on this same runner."""
    for code, proved in ((WRONG, False), (RIGHT, True)):
        token = _token(runner.count + 1)
        resp = runner.run(js_lang.seal(code, TESTS), proof=token)
        assert resp["fallback"] is None, resp
        assert (token in resp["stdout"]) is proved, resp
        assert (resp["exit_code"] == 0) is proved, resp
        assert "ESCAPED" not in resp["stdout"]


ESCAPES = {
    # the escape that was found: a stateful Symbol.hasInstance made the host call the "class" as a
    # validation function, with the host's `{}` as `this`
    "assert_throws_stateful_has_instance": REACH + (
        "const assert = require('assert');\nlet n = 0;\nclass E extends Error {}\n"
        "function V() { reach(this); return true; }\n"
        "Object.setPrototypeOf(V, E); V.prototype = E.prototype;\n"
        "Object.defineProperty(V, Symbol.hasInstance, { value: () => ++n === 1 });\n"
        "assert.throws(() => { throw new E('x'); }, V);\n"),
    "assert_validation_functions_get_this_realm": REACH + (
        "const assert = require('assert');\n"
        "function v(e) { reach(this); reach(e); return true; }\n"
        "assert.throws(() => { throw new Error('x'); }, v);\n"
        "try { assert.doesNotThrow(() => { throw new Error('x'); }, v); } catch (e) { reach(e); }\n"
        "try { assert.throws(() => {}, v); } catch (e) { reach(e); }\n"),
    "host_calls_getters_and_conversions": REACH + (
        "const util = require('util');\n"
        "const o = { toString() { reach(this); return 's'; }, valueOf() { reach(this); return 1; },"
        " [Symbol.toPrimitive](h) { reach(this); reach(h); return 2; }, toJSON(k) { reach(this); reach(k); return 3; },"
        " get g() { reach(this); return 4; } };\n"
        "console.log('%s %d %i %f %j %o', o, o, o, o, o, o);\nutil.inspect(o, { getters: true });\n"
        "util.isDeepStrictEqual(o, { g: 4 });\nclass K { static [Symbol.hasInstance](x) { reach(this); reach(x); return true; } }\n"
        "util.inherits(function A() {}, K);\n"),
    "prototype_pollution_sees_host_calls": REACH + (
        "for (const P of [Object.prototype, Array.prototype, Function.prototype, Error.prototype]) {\n"
        "  for (const k of ['then', 'constructor_', 'message_', 'toJSON', 'stack_', 'name_'])"
        " Object.defineProperty(P, k, { get() { reach(this); return undefined; }, set(v) { reach(this); reach(v); }, configurable: true });\n"
        "}\nconst assert = require('assert');\n"
        "try { assert.deepStrictEqual([1, { a: 2 }], [1, { a: 3 }]); } catch (e) { reach(e); console.log(String(e.message).length > 0); }\n"
        "try { require('util').format('%s', Symbol()); } catch (e) { reach(e); }\n"
        "try { [].reduce(() => 0); } catch (e) { reach(e); }\n"),
    "caller_of_a_callback_is_not_host_code": REACH + (
        "function f() { const c = f.caller; if (c) reach(c); return 'x'; }\n"
        "const o = { toString: f };\ntry { console.log('%s', o); } catch (e) { reach(e); }\n"),
    "stack_frames_of_host_code": REACH + (
        "function look(e) { try { e.stack; } catch (x) { reach(x); } reach(e); }\n"
        "const o = { toString() { look(new Error('inner')); return 's'; } };\nconsole.log('%s', o);\n"
        "try { require('assert').strictEqual(1, 2); } catch (e) { look(e); }\n"
        "Error.captureStackTrace(o);\nreach(o);\n"),
    "promise_jobs_outlive_the_program": (
        "let i = 0;\nfunction later() { i++; if (i < 1e9) return Promise.resolve().then(later); }\n"
        "Promise.resolve().then(() => { try { process.exit(0); } catch (e) {} later(); });\n"
        "const thenable = { then(r) { console.log('THENABLE'); r(1); } };\nPromise.resolve(thenable);\n"
        "process.exit(3);\n"),
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_attempts_reach_no_host_object_and_later_programs_are_judged_honestly(runner, name):
    resp = runner.run(ESCAPES[name], timeout_ms=2000)
    assert "ESCAPED" not in resp["stdout"], resp
    if resp["fallback"] is None:
        ref = fresh_node(ESCAPES[name])
        assert resp["exit_code"] == ref["exit_code"], (resp, ref)
    _assert_judged_honestly(runner)


DECLINED_HOOKS = {
    # node calls the error realm's Error.prepareStackTrace with structured call sites, from host code too
    "set_prepare_stack_trace": "Error.prepareStackTrace = (e, sites) => sites;\nconsole.log(new Error('x'));\n",
    "replace_global_error": "globalThis.Error = { prepareStackTrace: (e, s) => s };\nconsole.log(new TypeError('x'));\n",
    "assign_global_error": "Error = function () {};\n",
    "finalization_registry": "new FinalizationRegistry(() => {}).register({}, 1);\n",
    "weak_callbacks_through_atomics": "Atomics.waitAsync(new Int32Array(new SharedArrayBuffer(4)), 0, 0);\n",
}


@pytest.mark.parametrize("name", sorted(DECLINED_HOOKS))
def test_hooks_that_host_code_would_call_are_declined(runner, name):
    resp = runner.run(DECLINED_HOOKS[name])
    assert resp["fallback"], resp
    _assert_judged_honestly(runner)


def test_assert_throws_and_does_not_throw_decide_as_node_does(runner):
    source = (
        "const assert = require('assert');\n"
        "assert.throws(() => { throw new TypeError('x'); }, TypeError);\n"
        "assert.throws(() => { throw new TypeError('x'); }, (e) => e instanceof TypeError);\n"
        "assert.throws(() => { throw new TypeError('x'); }, /x/);\n"
        "assert.throws(() => { throw new TypeError('x'); }, { message: 'x' });\n"
        "assert.doesNotThrow(() => 1, TypeError);\n"
        "const show = (e) => console.log(e.name, e.message, e.expected === TypeError, e.operator);\n"
        "try { assert.throws(() => {}, TypeError, 'msg'); } catch (e) { show(e); }\n"
        "try { assert.throws(() => {}, TypeError); } catch (e) { show(e); }\n"
        "try { assert.doesNotThrow(() => { throw new TypeError('boom'); }, TypeError); } catch (e) { show(e); }\n"
        "try { assert.doesNotThrow(() => { throw new TypeError('boom'); }, RangeError); } catch (e) { console.log(e.message, e instanceof TypeError); }\n"
        "try { assert.doesNotThrow(() => { throw new TypeError('boom'); }, 'why'); } catch (e) { console.log(e.message); }\n"
        "try { assert.doesNotThrow(() => { throw new TypeError('boom'); }, () => true, 'why'); } catch (e) { console.log(e.message); }\n"
        "assert.throws(() => {}, TypeError);\n"
    )
    resp = runner.run(source)
    ref = fresh_node(source)
    assert resp["fallback"] is None and resp["stdout"] == ref["stdout"], (resp, ref)
    assert resp["exit_code"] == ref["exit_code"] == 1
    assert key_lines(resp["stderr"]) == key_lines(ref["stderr"])


def test_response_echoes_the_request_nonce_and_the_hand_over_is_one_shot(runner):
    nonce = "a3f1c0ffee-" + str(time.time_ns())
    probe = ("const d = Object.getOwnPropertyDescriptor(globalThis, '__psft_proof');\n"
             "console.log(typeof __psft_proof, d === undefined, Object.keys(globalThis).includes('__psft_proof'));\n")
    sealed = js_lang.seal("function add(a, b) { return a + b; }\n" + probe, TESTS)
    req = {"id": nonce, "lang": "javascript", "source": sealed, "filename": "main.js", "timeout_ms": 5000,
           "output_bytes": 16384, "proof": _token(7)}
    runner.proc.stdin.write(json.dumps(req) + "\n")
    runner.proc.stdin.flush()
    resp = json.loads(runner.proc.stdout.readline())
    assert resp["id"] == nonce
    # the prologue took the token before the program ran: the program finds no hand-over left
    assert resp["stdout"] == f"undefined true false\n\n{_token(7)}\n", resp
    # a malformed token is not guessed at
    assert runner.run(sealed, proof="not hex")["fallback"]
    # without a token, a sealed program runs as if unsealed and prints nothing more
    resp = runner.run(sealed)
    assert resp["fallback"] is None and resp["exit_code"] == 0 and resp["stdout"] == "undefined true false\n"
