"""JavaScript on Node.js: pure-computation programs run in a warm Node process (a fresh `vm` context
each); anything that touches the outside world is re-run in a fresh `node` process."""
from __future__ import annotations

import json
import re

from .base import NODE_PATH, PROOF_FILE, Language

# The name of the warm runner's one-shot proof hand-over (PROOF_HANDOVER in evals/execution/node_runner.js).
PROOF_HANDOVER = "__psft_proof"
# The warm runner's one-shot Function.prototype property that returns the prologue's body compiled once
# per runner, in place of the Function constructor's compilation per program (SEAL_HANDOVER there).
SEAL_HANDOVER = "__psft_seal"

# The names a program's tests are likely to use that a completion could shadow at the top level (a
# hoisted `function require() {}` or `var JSON`): the prologue compares them with the real globals.
_WATCHED = ("JSON", "Object", "Array", "String", "Number", "Math", "Error", "console", "process")

# The prologue's body, run through the Function constructor (in the warm runner: compiled once by the
# runner, SEAL_HANDOVER) so that it sees the global scope, where a completion's hoisted declarations
# cannot reach (no program code has run yet, so the built-ins are still the real ones). It returns a maker of `__psft_done`, the function the epilogue calls.
#   probe    () => __psft_end: throws (temporal dead zone) until the epilogue's `let` has been reached,
#            which only the top level can do, after every test before it;
#   names    () => [the watched names and require, as the program's top level sees them].
# The token lives only in this closure. `__psft_done` answers once: any call takes the token, and only
# a call after the probe succeeds writes it.
_BODY = """
const G = globalThis, apply = Reflect.apply, freeze = Object.freeze, define = Object.defineProperty;
let token = null, refused = false;
const handover = Object.getOwnPropertyDescriptor(G, %(key)s);
if (handover !== undefined) token = handover.value();
else {
  const fs = typeof process.getBuiltinModule === "function" ? process.getBuiltinModule("fs") : process.mainModule.require("fs");
  let text = null;
  try { text = fs.readFileSync(%(file)s, "latin1"); } catch (e) { if (!e || e.code !== "ENOENT") throw e; }
  if (text !== null) { fs.unlinkSync(%(file)s); token = text; }
}
const out = process.stdout, write = out.write;
freeze(JSON);
define(G, "JSON", { value: JSON, writable: false, enumerable: false, configurable: false });
return (probe, names) => {
  let seen = null;
  try { seen = names(); } catch (e) { refused = true; }
  if (seen !== null) {
    const want = [%(globals)s];
    for (let i = 0; i < want.length; i++) if (seen[i] !== want[i]) refused = true;
    const req = seen[want.length];
    if (typeof req !== "function" || req.main === undefined) refused = true;
    else if (%(assert)s && !refused) { const a = req("assert"); freeze(a); freeze(a.strict); }
  }
  return function __psft_done() {
    const t = token;
    token = null;
    if (t === null || refused) { refused = true; return; }
    refused = true;
    try { probe(); } catch (e) { return; }
    apply(write, out, ["\\n" + t + "\\n"]);
  };
};
"""

_USE_STRICT = re.compile(r"""\A\s*(?:(?://[^\n]*\n|/\*.*?\*/)\s*)*(['"])use strict\1""", re.S)


def _minify(body: str) -> str:
    return " ".join(line.strip() for line in body.strip().splitlines())


def prologue(uses_assert: bool, strict: bool) -> str:
    """One line: the proof prologue of a sealed JavaScript (or TypeScript) program."""
    body = _minify(_BODY % {"key": json.dumps(PROOF_HANDOVER), "file": json.dumps(PROOF_FILE),
                            "globals": ", ".join(f"G.{n}" for n in _WATCHED),
                            "assert": "true" if uses_assert else "false"})
    names = ", ".join(_WATCHED + ("require",))
    seal = json.dumps(SEAL_HANDOVER)
    # f is an arrow function, b the body: both are the arrow's own parameters, out of a completion's reach.
    line = (f"const __psft_done = ((f, b) => (f[{seal}] !== undefined ? f[{seal}](b) : f.constructor(b))())"
            f"(() => {{}}, {json.dumps(body)})(() => __psft_end, () => [{names}]);")
    return ('"use strict"; ' if strict else "") + line


EPILOGUE = "let __psft_end = 0; __psft_done();"


def seal_source(code: str, tests: str, prelude: str = "") -> str:
    """prologue + prelude + code + tests + epilogue (PROOF in base.py), for JavaScript and TypeScript."""
    parts = [p if p.endswith("\n") or not p else p + "\n" for p in (prelude, code, tests)]
    body = "".join(parts)
    head = prologue(re.search(r"\bassert\b", body) is not None, _USE_STRICT.match(prelude or code) is not None)
    return f"{head}\n{body}{EPILOGUE}\n"


def seal(code: str, tests: str, prelude: str = "") -> str:
    """A JavaScript program that prints its proof token only when its last test has passed (PROOF in base.py).

    The warm runner hands the token over through a one-shot global; a fresh `node` reads PROOF_FILE."""
    return seal_source(code, tests, prelude)


LANG = Language(
    name="javascript", ext="js", aliases=("js", "node"),
    run=("node", "--max-old-space-size={mem_mb}", "{src}"), version=("node", "--version"),
    debian=("nodejs", "node-lodash"), mode="node", rlimit_as=False,
    env=(("NODE_PATH", NODE_PATH),),
    syntax_patterns=(r"(?m)^SyntaxError\b",),
    failure_patterns=(r"AssertionError", r"(?m)^Error at \d+th assert", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"JavaScript heap out of memory", r"Allocation failed"),
    fast_flags_note="warm runner: fresh vm context per program, process fallback",
    seal=seal,
)
