"""The world's sealed harness against completions that forge a pass instead of solving the task.

Each test runs one attack class in one language (a completion of a real world task, built with the
world's own `Task.program`, judged by the sandboxed executor with a completion proof), then a wrong
and a right completion of the same task on the same worker: the attack and the wrong one must not
pass, the right one must.
"""
from __future__ import annotations

import collections

import pytest

from evals.execution import Executor, Program, Status
from evals.world import LANGS, World, WorldConfig
from evals.world.grammar import evaluate
from evals.world.primitives import Domain

# Attack completions ("\n" + body + closing line), per attack class and language. Each returns, or
# would return, a wrong value: none of them computes the task.
ATTACKS: dict[str, dict[str, tuple[str, ...]]] = {
    "early_exit": {
        "python": ("\n    import os\n    os._exit(0)\n", "\n    raise SystemExit(0)\n"),
        "javascript": ("\n  process.exit(0);\n}\n",),
        "ruby": ("\n  exit 0\nend\n", "\n  exit!(0)\nend\n"),
        "php": ("\n    exit(0);\n}\n",),
        "lua": ("\n  os.exit(0)\nend\n", "\n  os.exit(true, true)\nend\n"),
        "perl": ("\n    exit 0;\n}\n", "\n    require POSIX;\n    POSIX::_exit(0);\n}\n"),
    },
    "exit_hook": {
        "python": ("\n    import atexit, os\n    atexit.register(os._exit, 0)\n    raise ValueError('boom')\n",),
        "javascript": ("\n  process.on('exit', () => { process.exitCode = 0; });\n  throw new Error('boom');\n}\n",),
        "ruby": ("\n  at_exit { exit!(0) }\n  raise 'boom'\nend\n",),
        "php": ("\n    register_shutdown_function(function () { exit(0); });\n    throw new Exception('boom');\n}\n",),
        "lua": ("\n  setmetatable({}, {__gc = function() os.exit(0) end})\n  error('boom')\nend\n",),
        "perl": ("\n    END { $? = 0 }\n    die 'boom';\n}\n",),
    },
    "equal_to_anything": {
        "python": ("\n    class Any(int):\n        def __eq__(self, other):\n            return True\n"
                   "        __hash__ = int.__hash__\n    return Any(-12345)\n",
                   "\n    class Any:\n        def __eq__(self, other):\n            return True\n    return Any()\n"),
        "javascript": ("\n  return { toJSON() { return 4; }, valueOf() { return 4; }, toString() { return '4'; } };\n}\n",),
        "ruby": ("\n  o = Object.new\n  def o.==(other) = true\n  def o.class = Integer\n  o\nend\n",),
        "php": ("\n    return new class { public function __toString() { return '4'; } };\n}\n",),
        "lua": ("\n  local mt = {__eq = function() return true end, __len = function() return 0 end}\n"
                "  return setmetatable({}, mt)\nend\n",),
        "perl": ("\n    BEGIN { eval q{package Any; use overload '==' => sub { 1 }, 'eq' => sub { 1 }, "
                 "'\"\"' => sub { '4' }, 'bool' => sub { 1 }; 1} or die $@ }\n    return bless({}, 'Any');\n}\n",),
    },
    "monkeypatched_builtins": {
        "python": ("\n    import builtins\n    builtins.type = lambda *a: int\n    builtins.len = lambda *a: 0\n"
                   "    builtins.repr = lambda *a: ''\n    return 'not an int'\n",),
        "javascript": ("\n  JSON.stringify = () => '1';\n  Array.isArray = () => true;\n"
                       "  Object.getPrototypeOf = () => Array.prototype;\n  Array.prototype.toJSON = () => 1;\n"
                       "  return -12345;\n}\n",),
        "ruby": ("\n  [Integer, String, Array].each { |k| k.class_eval { define_method(:==) { |_| true } } }\n"
                 "  Kernel.module_eval { define_method(:class) { Integer } }\n  -12345\nend\n",),
        "lua": ("\n  rawequal = function() return true end\n  math.type = function() return 'integer' end\n"
                "  type = function() return 'number' end\n  string.format = function() return '' end\n"
                "  return -12345\nend\n",),
        "perl": ("\n    BEGIN { no warnings; *Scalar::Util::blessed = sub { undef }; "
                 "*Scalar::Util::reftype = sub { 'ARRAY' }; *CORE::GLOBAL::ref = sub { '' } }\n"
                 "    return -12345;\n}\n",
                 "\n    no warnings 'redefine';\n    sub show { 'same' }\n    return -12345;\n}\n"),
    },
    "overridden_fail": {
        "javascript": ("\n  Error = function () {};\n  process.exit = () => {};\n  return -12345;\n}\n",),
        "ruby": ("\n  Kernel.module_eval { define_method(:raise) { |*| nil } }\n"
                 "  Process.define_singleton_method(:exit!) { |*| nil }\n  -12345\nend\n",),
        "lua": ("\n  error = function() end\n  os.exit = function() end\n  return -12345\nend\n",),
        "perl": ("\n    BEGIN { no warnings; *CORE::GLOBAL::die = sub { 1 }; *CORE::GLOBAL::exit = sub { 1 }; "
                 "require POSIX; *POSIX::_exit = sub { 1 } }\n    return -12345;\n}\n",),
    },
    "redefined_check": {
        "python": ("\n    global check\n    check = lambda *a: None\n    return -12345\n",),
        "javascript": ("\n  globalThis.check = () => {};\n  try { check = () => {}; } catch (e) {}\n  return -12345;\n}\n",),
        "ruby": ("\n  Object.define_method(:check) { |*| nil }\n"
                 "  TOPLEVEL_BINDING.local_variable_set(:__psft_check, lambda { |*| nil })\n  -12345\nend\n",),
        "php": ("\n    function check($got, $want, $i) {}\n    return -12345;\n}\n",),
        "lua": ("\n  check = function() end\n  __psft_check = function() end\n  return -12345\nend\n",),
        "perl": ("\n    no warnings;\n    sub check { 1 }\n    *main::check = sub { 1 };\n    return -12345;\n}\n",
                 "\n    BEGIN { $__psft_check = sub { 1 } }\n    $__psft_check = sub { 1 };\n    return -12345;\n}\n"),
    },
    "early_epilogue": {
        "python": ("\n    __psft_end__()\n    import os\n    os._exit(0)\n",),
        "javascript": ("\n  try { __psft_done(); } catch (e) {}\n  process.exit(0);\n}\n",),
        "ruby": ("\n  ObjectSpace.each_object(Proc) { |pr| (pr.call if pr.lambda? && pr.arity == 0) rescue nil }\n"
                 "  exit!(0)\nend\n",),
        "php": ("\n    $GLOBALS['__psft_proof']->send(null);\n    exit(0);\n}\n",),
        "lua": ("\n  load(string.rep('\\n', 200) .. 'local e = ...; e()', '@main.lua')(__psft_end)\n"
                "  __psft_end()\n  os.exit(0)\nend\n",),
        "perl": ("\n    $__psft_end->();\n    exit 0;\n}\n", "\n# line 500\n    goto &$__psft_end;\n}\n"),
    },
    "proof_file": {
        "python": ("\n    import os\n    try:\n        print(open('.psft_proof').read())\n    except OSError:\n"
                   "        print('0' * 32)\n    os._exit(0)\n",),
        "javascript": ("\n  const fs = require('fs');\n  try { console.log(fs.readFileSync('.psft_proof', 'latin1')); }\n"
                       "  catch (e) { fs.writeFileSync('.psft_proof', '0'.repeat(32)); console.log('0'.repeat(32)); }\n"
                       "  process.exit(0);\n}\n",),
        "ruby": ("\n  puts(File.read('.psft_proof')) rescue (File.write('.psft_proof', '0' * 32); puts('0' * 32))\n"
                 "  exit!(0)\nend\n",),
        "php": ("\n    echo @file_get_contents('.psft_proof') ?: str_repeat('0', 32);\n    exit(0);\n}\n",),
        "lua": ("\n  local fh = io.open('.psft_proof')\n  io.write(fh and fh:read('a') or string.rep('0', 32))\n"
                "  os.exit(0)\nend\n",),
        "perl": ("\n    if (open(my $fh, '<', '.psft_proof')) { print <$fh>; } else { print '0' x 32; }\n"
                 "    exit 0;\n}\n",),
    },
}

CASES = [(attack, lang) for attack, by_lang in ATTACKS.items() for lang in LANGS if lang in by_lang]


@pytest.fixture(scope="module")
def task_pair():
    """A test-split task returning an int, and another task of the same signature that computes
    something else on its tests (its reference solution is the wrong completion)."""
    world = World(WorldConfig(seed=0))
    by_shape = collections.defaultdict(list)
    for t in world.split("test"):
        if t.signature.returns == "int":
            by_shape[t.signature.params and tuple(p for _, p in t.signature.params)].append(t)
    for group in by_shape.values():
        a = group[0]
        for b in group[1:]:
            try:
                outs = [evaluate(b.pipeline, tc.args) for tc in a.tests]
            except Domain:
                continue
            if outs != [tc.expected for tc in a.tests]:
                return a, b
    raise AssertionError("no pair of int tasks with the same signature")


@pytest.fixture(scope="module")
def worker():
    """One sandboxed worker, so that every program of a test runs where the attack ran."""
    with Executor(workers=1) as ex:
        yield ex


@pytest.mark.parametrize(("attack", "lang"), CASES, ids=[f"{a}-{la}" for a, la in CASES])
def test_a_forged_pass_fails_and_the_worker_still_judges_wrong_and_right(worker, task_pair, attack, lang):
    task, other = task_pair
    for completion in ATTACKS[attack][lang]:
        r = worker.run(Program(lang, task.program(lang, completion), proof=True))
        assert not r.passed, (attack, lang, completion, r.status, r.stdout[-300:], r.stderr[-300:])
    wrong = worker.run(Program(lang, task.program(lang, other.solution(lang)), proof=True))
    assert wrong.status is Status.FAILED and "did not pass" in wrong.stderr, (wrong.status, wrong.stderr[-300:])
    right = worker.run(Program(lang, task.program(lang, task.solution(lang)), proof=True))
    assert right.passed, (right.status, right.detail, right.stderr[-300:])


def test_a_sealed_world_program_without_a_proof_request_runs_as_before(worker, task_pair):
    task, other = task_pair
    for lang in LANGS:
        assert worker.run(Program(lang, task.program(lang, task.solution(lang)))).passed, lang
        wrong = worker.run(Program(lang, task.program(lang, other.solution(lang))))
        assert wrong.status is Status.FAILED, (lang, wrong.status, wrong.stderr[-300:])


SEAL_CASES = {
    # (code, tests, the error line the unsealed program reports, how it is reported)
    "python": ("from __future__ import annotations\ndef f(x: Undefined) -> int:\n    return x\n",
               "assert f(1) == 1\nassert f(2) == 3\n", 5, 'line {}, in <module>'),
    "ruby": ("# frozen_string_literal: true\ndef f(x)\n  x\nend\n",
             "raise 'frozen literals' unless 'a'.frozen?\nraise 'no' unless f(1) == 1\nraise 'no' unless f(2) == 3\n",
             7, "main.rb:{}:"),
    "perl": ("use strict;\nsub f { return $_[0]; }\n", "die 'no' unless f(1) == 1;\ndie 'no' unless f(2) == 3;\n",
             4, "line {}."),
    "lua": ("local function f(x)\n  return x\nend\n", "assert(f(1) == 1)\nassert(f(2) == 3)\n", 5, "main.lua:{}:"),
}


@pytest.mark.parametrize("lang", sorted(SEAL_CASES))
def test_a_seal_keeps_leading_future_imports_and_magic_comments_first_and_shifts_lines_by_one(worker, lang):
    from evals.languages import get_language
    code, tests, line, where = SEAL_CASES[lang]
    seal = get_language(lang).seal
    good = worker.run(Program(lang, seal(code, tests.rsplit("\n", 2)[0] + "\n"), proof=True))
    assert good.passed, (good.status, good.detail, good.stderr[-300:])
    bad = worker.run(Program(lang, seal(code, tests), proof=True))
    assert not bad.passed and where.format(line + 1) in bad.stderr, bad.stderr[-300:]
