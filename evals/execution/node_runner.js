#!/usr/bin/env node
'use strict';
/*
 * node_runner.js: a warm Node.js runner for untrusted, pure-computation JavaScript/TypeScript programs.
 *
 * WHAT IT IS FOR
 *   Starting `node` costs ~60 ms per program (and `tsc` ~1.5 s), which dominates the cost of running
 *   small benchmark programs (solution + unit tests, e.g. MBXP). This process stays alive and runs many
 *   programs, each in a fresh `vm` context, and answers as `node main.js` in a fresh process would.
 *   TypeScript is type-checked and compiled with the TypeScript compiler API, loaded once, with the
 *   parsed lib/@types declaration files cached across requests.
 *
 * PROTOCOL (JSON lines; one response line per request line, in order; nothing else is written to stdout)
 *   request:  {"id": any, "lang": "javascript"|"typescript", "source": str, "filename": "main.js"|"main.ts",
 *              "timeout_ms": int, "output_bytes": int, "ts_type_errors": "fail"|"ignore" (optional),
 *              "proof": 32 lowercase hex digits (optional: the proof token of a sealed program)}
 *   response: {"id", "fallback": null|str, "exit_code": int|null, "stdout", "stderr", "timed_out": bool,
 *              "phase": "build"|"run", "duration_s": float, "signal": null, "stdout_bytes", "stderr_bytes"}
 *   `id` is echoed unchanged (the supervisor sends a fresh nonce per request and checks it).
 *   `proof`: a sealed program (evals/languages/javascript.py) gets the token through a one-shot,
 *   non-enumerable global that its prologue calls before any other code runs (see `prepare`); a fresh
 *   process reads it from .psft_proof instead. A malformed token is declined.
 *   `fallback` non-null means "I did not run this faithfully: run it in a fresh process"; the other
 *   fields are then meaningless. `exit_code` is null when the program timed out (as for a killed process).
 *   stdout/stderr are the last `output_bytes` bytes of each stream (decoded as UTF-8 with replacement).
 *
 * WHAT IT GUARANTEES (for programs it does not decline)
 *   - Same exit code as `node main.js`: 0 on completion, process.exitCode when set, n & 0xff for
 *     process.exit(n), 1 for an uncaught exception (stderr then carries node's report: the source arrow,
 *     `Name [CODE]: message`, the stack and the error's own properties, and `Node.js vX`).
 *   - Same stdout/stderr text for console.* and process.std{out,err}.write (Node's own Console and
 *     util.format/inspect do the formatting), except inherently run-dependent text (stack-frame paths,
 *     timings, hrtime/memoryUsage values) and the source arrow of thrown non-Error values (not printed).
 *   - Programs cannot see each other: each gets a fresh context (its own Object, Array, JSON, Math, ...),
 *     a fresh lodash instance evaluated inside that context, and fresh wrapper objects for `assert`,
 *     `util`, `console` and `process` (see "ISOLATION").
 *   - Synchronous infinite loops end with timed_out: true after timeout_ms (vm's watchdog; promise jobs
 *     run inside the timeout because contexts use microtaskMode 'afterEvaluate').
 *   - TypeScript: the same diagnostics and exit status as `tsc --target es2021 --module commonjs
 *     --lib es2021 --types node --skipLibCheck [--typeRoots $PSFT_TS_TYPE_ROOTS] main.ts` (printed on stdout,
 *     like tsc), then the emitted main.js is run as above.
 *
 * WHAT IT DECLINES (responds with `fallback`), whenever the program
 *   - requires a module other than assert, assert/strict, util, lodash (optionally `node:`-prefixed);
 *   - touches `process` beyond argv, exit, exitCode, stdout.write, stderr.write (strings only), hrtime,
 *     platform, arch, version, versions, memoryUsage (a Proxy declines every other key; process.env and
 *     process.nextTick decline too: the fresh process's environment is not empty, and nextTick's ordering
 *     against promise jobs cannot be reproduced here);
 *   - uses timers, setImmediate, queueMicrotask, structuredClone, fetch, Buffer, URL, TextEncoder,
 *     performance, crypto, WebAssembly, FinalizationRegistry, Atomics.waitAsync or any other Node-only
 *     global (every global that a fresh context lacks is an accessor that declines);
 *   - contains `import`/`export` syntax (node 20 may run such a file as an ES module) or the word `import`
 *     at all (dynamic import() cannot be intercepted in a vm context without a flag);
 *   - uses Proxy or Symbol.for('nodejs.*') (util.inspect.custom & co): with either, host code would hand
 *     a host-realm object to the program (see ISOLATION);
 *   - sets Error.prepareStackTrace or replaces the global Error (node would call the program's function
 *     with structured call sites whenever host code formats a stack);
 *   - changes Object/Function/Array.prototype before its first require of assert or util (in a real
 *     process node's own lazily loaded modules would run against the changed prototypes);
 *   - leaves a rejected promise unhandled, overflows the stack, or does anything else unsure (a host error
 *     of an unknown kind, assert.ok failing without a message (node reads the source file for that
 *     message), assert.throws seeing an error of another class than expected, assert.rejects,
 *     util.promisify, console.trace, util.inspect with `stylize`, printing globalThis, process, module
 *     or require, a hashbang line, a syntax error in a file that may be an ES module, ...).
 *   - With a Node lacking vm.constants.DONT_CONTEXTIFY (Node 20.20 has it), global lookups in a context
 *     are much slower than in a real process, so there a timeout is reported as a fallback instead.
 *
 * WHAT IT DOES NOT DO
 *   - It is not a security boundary (neither is `vm`): the sandbox around this whole process (bubblewrap,
 *     rlimits, no network, read-only file system) is. Memory is not limited per program: a program that
 *     exhausts the heap kills the runner, and the supervisor re-runs it in a fresh process (give the
 *     runner no more heap than a fresh `node` gets: it holds ~100 MB itself, ~250 MB once TypeScript is
 *     loaded, so it always runs out first). A TypeScript type-check cannot be interrupted (the
 *     supervisor's own deadline covers it). The stack is a little shallower than in a fresh process
 *     (an uncaught stack overflow is declined; one the program catches itself is not detected).
 *   - It does not reproduce what is inherently different per process: paths in stack traces,
 *     process.argv[1]/__filename (<cwd>/main.js here), timings.
 *
 * ISOLATION (how host-realm objects are kept away from programs)
 *   A program only ever holds objects of its own context (vm contexts made with DONT_CONTEXTIFY, whose
 *   global is an ordinary object, so global lookups cost what they cost in a real process). `assert`, `util`, `console` and `process` are
 *   built per program inside the context by BOOTSTRAP below: their functions are context functions that
 *   forward to the host through one host function (`hostCall`) kept in a closure the program cannot reach.
 *   hostCall passes only primitives and the program's own (context) values back, and every exception it
 *   lets through is either the program's own value or a context-realm copy of the host error (an
 *   AssertionError of the program's realm, say). So a program cannot get a host object, and with it the
 *   host's Function constructor, `process` or `require`; mutating assert/util/console/lodash or any
 *   built-in prototype only changes that program's context, which is dropped afterwards. lodash is
 *   compiled once and evaluated afresh inside every context that requires it. Host code never hands a
 *   host object to program code it calls back, and never calls a program function it was given:
 *   assert.throws/doesNotThrow decide in the context (each instanceof / Symbol.hasInstance and validation
 *   function called once, there, with this realm's `this`) and give the host only bootstrap thunks and
 *   stand-ins to word a failure. What host code still calls, it calls with the program's own receiver
 *   and primitive arguments: getters, toString/valueOf/Symbol.toPrimitive/toJSON (util.format, inspect,
 *   isDeepStrictEqual); host frames are strict, so `fn.caller` from a callback is null. The ways host code
 *   would pass host objects to program functions (Proxy traps, util.inspect.custom methods, stylize,
 *   Error.prepareStackTrace's call sites) and callbacks that could run after the program
 *   (FinalizationRegistry, Atomics.waitAsync, timers, nextTick) are declined; promise jobs run in the
 *   context's own microtask queue, which dies with it (tests/test_node_runner.py, "Escapes").
 *
 * USAGE
 *   node [--max-old-space-size=N] evals/execution/node_runner.js
 *   Environment: as the fresh `node main.js` gets it (NODE_PATH, e.g. /usr/share/nodejs:/usr/lib/nodejs,
 *   so that `require('lodash')` resolves the same; TZ and LANG). PSFT_TS_TYPE_ROOTS (':'-separated) is
 *   passed to the type checker as --typeRoots and must match what the fresh `tsc` gets (tsc looks for
 *   @types only in node_modules/@types above its working directory).
 *   Working directory: the scratch directory the fresh programs run under: lodash and TypeScript
 *   modules are resolved from <cwd>/main.js, as from <cwd>/<dir>/main.js; it must not hold
 *   node_modules or package.json (file-system answers outside it are cached).
 *   Between requests the runner prepares the next context, so a request usually finds one ready.
 *   The first TypeScript request also loads the compiler (that of the `tsc` on PATH) and parses the lib
 *   and @types files: 1-3 s, more on a loaded machine; warm up with a trivial TypeScript request, or allow
 *   for it in the deadline. Later ones take ~25 ms of CPU; JavaScript ~1 ms plus ~5 ms if it needs lodash.
 *
 * TYPESCRIPT AND MXEVAL
 *   mxeval (amazon-science/mxeval, execution.py, check_correctness_typescript) compiles with
 *   `npx tsc main.ts --target es5 --lib es2016` and treats tsc exit status 2 ("errors, but JS emitted") as
 *   compiled, so type errors do NOT fail a program there (it runs the emitted JS; oddly, exit status 0
 *   counts as not compiled). This project's fresh path fails the build on any tsc error, so the default
 *   here, "ts_type_errors": "fail", matches the fresh path: diagnostics -> phase "build", exit_code = tsc's
 *   status (2, or 1 when nothing was emitted), diagnostics on stdout exactly as tsc prints them.
 *   "ts_type_errors": "ignore" runs the emitted JS despite type errors, as mxeval does (exit status 0 is
 *   treated as compiled too); the supervisor must then do the same in its fresh path.
 */

const vm = require('vm');
const util = require('util');
const path = require('path');
const fs = require('fs');
const Module = require('module');
const hostAssert = require('assert');
const { Console } = require('console');

// ---------------------------------------------------------------------------------------------------
// Constants and one-time set-up
// ---------------------------------------------------------------------------------------------------

const DONT_CONTEXTIFY = vm.constants && vm.constants.DONT_CONTEXTIFY;
const CJS_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
// The context global through which a sealed program's prologue gets its proof token (javascript.py).
const PROOF_HANDOVER = '__psft_proof';
// The Function.prototype property through which the prologue gets its body compiled once per runner
// (SEAL_HANDOVER in javascript.py; see `prepare` and `sealFunction`).
const SEAL_HANDOVER = '__psft_seal';
const RUN_KEY = `__psft_run_${process.pid}_${Math.random().toString(36).slice(2)}`;
const BOOT_FILE = 'psft:runner/bootstrap.js';
const RUN_FILE = 'psft:runner/run.js';
const NODE_FOOTER = `\nNode.js ${process.version}\n`;
const TRACE_UNCAUGHT_HINT = '(Use `node --trace-uncaught ...` to show where the exception was thrown)';
// The frames below a CommonJS main module's top level in this node version ("at Module._compile ...").
const NODE_TAIL_FRAMES = (new Error().stack || '').split('\n').filter((l) => /^\s+at /.test(l)).slice(1)
  .filter((l) => /\(node:internal|at node:internal/.test(l));

// Error messages with which node (>= 20.19 detects modules) retries a file as an ES module.
const ESM_SYNTAX = /import statement outside a module|Unexpected token 'export'|import\.meta|await is only valid|Unexpected reserved word/;

// Globals of a fresh context: everything else that node's main realm has is declined on access.
const CONTEXT_GLOBALS = new Set(Object.getOwnPropertyNames(vm.runInContext('globalThis', vm.createContext({}))));
const HOST_ONLY_GLOBALS = Object.getOwnPropertyNames(globalThis)
  .filter((n) => !CONTEXT_GLOBALS.has(n))
  .map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n).enumerable]);

const GLOBAL_TO_STRING_TAG = Object.getOwnPropertyDescriptor(globalThis, Symbol.toStringTag) || null;

// Functions of `util` that take program values and return primitives (or undefined), so forwarding
// them is safe and faithful. Everything else in util declines on access.
const UTIL_FORWARDED = [
  'format', 'formatWithOptions', 'inspect', 'isDeepStrictEqual', 'inherits', 'isArray', 'isBoolean',
  'isNull', 'isNullOrUndefined', 'isNumber', 'isString', 'isSymbol', 'isUndefined', 'isRegExp', 'isObject',
  'isDate', 'isError', 'isFunction', 'isPrimitive', 'isBuffer', 'stripVTControlCharacters', 'toUSVString',
].filter((n) => typeof util[n] === 'function');
const UTIL_TYPES = Object.keys(util.types).filter((n) => typeof util.types[n] === 'function');
const ASSERT_DECLINED = new Set(['rejects', 'doesNotReject', 'CallTracker']);  // async / host objects
const ASSERT_FORWARDED = Object.keys(hostAssert)
  .filter((n) => typeof hostAssert[n] === 'function' && n !== 'AssertionError' && n !== 'strict'
    && !ASSERT_DECLINED.has(n));
const CONSOLE_FORWARDED = Object.keys(console).filter((n) => typeof console[n] === 'function'
  && !['Console', 'trace', 'context', 'createTask'].includes(n));

function describeModules() {
  const lengths = {};
  for (const n of ASSERT_FORWARDED) lengths[n] = hostAssert[n].length;
  const utilLengths = {};
  for (const n of UTIL_FORWARDED) utilLengths[n] = util[n].length;
  return {
    assertKeys: Object.keys(hostAssert), assertForwarded: ASSERT_FORWARDED, assertLengths: lengths,
    assertDeclined: [...ASSERT_DECLINED], utilKeys: Object.keys(util), utilForwarded: UTIL_FORWARDED,
    utilLengths, utilTypes: UTIL_TYPES, consoleKeys: Object.keys(console), consoleForwarded: CONSOLE_FORWARDED,
  };
}
const MODULES = describeModules();

// ---------------------------------------------------------------------------------------------------
// Output capture: keeps the tail of a stream, measured in UTF-8 bytes as a pipe reader would see it.
// ---------------------------------------------------------------------------------------------------

class Tail {
  constructor(cap) {
    this.cap = Math.max(0, cap | 0);
    this.chunks = [];
    this.held = 0;   // bytes in chunks
    this.total = 0;  // bytes ever written
  }

  write(str) {
    const buf = Buffer.from(String(str), 'utf8');
    this.total += buf.length;
    this.chunks.push(buf);
    this.held += buf.length;
    if (this.held > 2 * this.cap + 65536) this.compact();
  }

  compact() {
    const all = Buffer.concat(this.chunks);
    const kept = all.subarray(Math.max(0, all.length - this.cap));
    this.chunks = [Buffer.from(kept)];
    this.held = kept.length;
  }

  text() {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.cap)).toString('utf8');
  }
}

// ---------------------------------------------------------------------------------------------------
// BOOTSTRAP: evaluated inside every fresh context (its source is compiled once, in the context realm),
// before the program. It must not refer to anything outside itself. It builds the program's globals and
// returns a small API for the host. Everything it needs later is captured here, before the program can
// monkey-patch built-ins.
// ---------------------------------------------------------------------------------------------------

function BOOTSTRAP(hostCall, configJson, lodashFactory) {
  'use strict';
  const G = globalThis;
  const { defineProperty, freeze } = Object;
  const { apply } = Reflect;
  const jsonParse = JSON.parse;
  const ErrorCtor = Error;
  const captureStackTrace = Error.captureStackTrace;
  const ProxyCtor = Proxy;
  const isInteger = Number.isInteger;
  const NumberCtor = Number;
  const StringCtor = String;
  const errorCtors = {
    Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
  };
  const ownErrors = new WeakSet();
  const wsHas = WeakSet.prototype.has;
  const wsAdd = WeakSet.prototype.add;
  const config = jsonParse(configJson);
  const M = config.modules;
  // Plain loops instead of Array.prototype.includes & co: the program may patch those later.
  function has(list, x) {
    for (let i = 0; i < list.length; i++) if (list[i] === x) return true;
    return false;
  }

  const STOP = new ErrorCtor('psft: the program was stopped (process.exit or a declined operation)');
  let quiet = false;  // while lodash initialises: Node-only globals read as undefined instead of declining

  function decline(reason) {
    hostCall('decline', reason);
    throw STOP;
  }

  function decliningFunction(name, length) {
    const f = { [name](...args) { decline(`calls ${name}`); } }[name];
    defineProperty(f, 'length', { value: length || 0 });
    return f;
  }

  // A context function forwarding to a host function; errors are re-captured to start at the caller.
  // `pre(args)` may check or rewrite the arguments first, or return {value} to answer without the host.
  function forwarder(mod, name, length, pre) {
    const f = {
      [name](...args) {
        try {
          if (pre !== undefined) {
            const early = pre(args, mod, name);
            if (early !== undefined) return early.value;
          }
          return hostCall('call', mod, name, args);
        } catch (e) {
          if (e !== null && typeof e === 'object' && apply(wsHas, ownErrors, [e])) restack(e, f);
          throw e;
        }
      },
    }[name];
    defineProperty(f, 'length', { value: length });
    return f;
  }

  // Capture the stack again, starting below `fn`, with "Name [CODE]" in the first line as node prints it.
  function restack(err, fn) {
    const code = err.code;
    const name = err.name;
    if (typeof code === 'string') {
      defineProperty(err, 'name', { value: `${name} [${code}]`, enumerable: false, writable: true, configurable: true });
    }
    captureStackTrace(err, fn);
    err.stack;  // eslint-disable-line no-unused-expressions -- format it now, with the bracketed name
    if (typeof code === 'string') {
      if (name === 'AssertionError') err.name = name;
      else delete err.name;
    }
  }

  // --- errors made from host errors ---------------------------------------------------------------

  let pendingAssertion = null;
  class AssertionError extends ErrorCtor {
    constructor(options) {
      let fields;
      let actual;
      let expected;
      if (pendingAssertion !== null) {
        ({ fields, actual, expected } = pendingAssertion);
        pendingAssertion = null;
      } else {
        fields = jsonParse(hostCall('newAssertionError', options));
        actual = options.actual;
        expected = options.expected;
      }
      super(fields.message);
      this.generatedMessage = fields.generatedMessage;
      defineProperty(this, 'name', { value: 'AssertionError', enumerable: false, writable: true, configurable: true });
      this.code = 'ERR_ASSERTION';
      this.actual = actual;
      this.expected = expected;
      this.operator = fields.operator;
      apply(wsAdd, ownErrors, [this]);
      restack(this, new.target);
    }

    toString() {
      return `${this.name} [${this.code}]: ${this.message}`;
    }
  }

  function makeAssertionError(fieldsJson, actual, expected) {
    pendingAssertion = { fields: jsonParse(fieldsJson), actual, expected };
    try {
      return new AssertionError(null);
    } finally {
      pendingAssertion = null;
    }
  }

  function makeError(ctorName, message, code) {
    const C = errorCtors[ctorName] || ErrorCtor;
    const err = new C(message);
    if (typeof code === 'string') {
      err.code = code;
    }
    apply(wsAdd, ownErrors, [err]);
    restack(err, makeError);
    return err;
  }

  // --- modules ------------------------------------------------------------------------------------

  // assert.throws / assert.doesNotThrow: the whole decision (calling `fn`, `instanceof`, a validation
  // function) is made here, each program hook called once, with receivers and arguments of this realm.
  // The host sees only what it needs to word a failure: a thunk of this bootstrap that rethrows the
  // caught value (or returns), and never a function of the program, so it cannot call one (with its own
  // `{}` as `this`, say) or ask a stateful Symbol.hasInstance a second time and get another answer.
  const objectIsPrototypeOf = Object.prototype.isPrototypeOf;
  function isErrorClass(fn) {
    return fn === ErrorCtor || apply(objectIsPrototypeOf, ErrorCtor, [fn]);
  }
  function callCatching(fn) {
    try {
      fn();
    } catch (e) {
      if (e === STOP) throw e;
      return { threw: true, actual: e };
    }
    return { threw: false, actual: undefined };
  }
  function thrower(r) {
    const actual = r.actual;
    return r.threw ? () => { throw actual; } : () => {};
  }
  // Forwards to the host with replaced arguments; the AssertionError it throws gets back the program's
  // own `expected` (the host saw a stand-in).
  function forwardWith(mod, name, hostArgs, standIn, expected) {
    try {
      return hostCall('call', mod, name, hostArgs);
    } catch (e) {
      if (e !== null && typeof e === 'object' && apply(wsHas, ownErrors, [e]) && e.expected === standIn) {
        defineProperty(e, 'expected', { value: expected, writable: true, enumerable: true, configurable: true });
      }
      throw e;
    }
  }
  function preThrows(args, mod, name) {
    const fn = args[0];
    const expected = args[1];
    if (typeof fn !== 'function') return undefined;  // the host only reports the bad argument
    const r = callCatching(fn);
    if (typeof expected !== 'function') {
      args[0] = thrower(r);
      return undefined;  // a RegExp, an object of properties, a message: no program function to call
    }
    if (r.threw) {
      const actual = r.actual;
      if (expected.prototype !== undefined && actual instanceof expected) return { value: undefined };
      if (isErrorClass(expected)) return decline('assert.throws got an error of another class');
      if (apply(expected, {}, [actual]) === true) return { value: undefined };
      return decline('a validation function of assert.throws did not return true');
    }
    // "Missing expected exception (Name)": the host reads nothing of `expected` but its name.
    const standIn = { name: expected.name };
    const hostArgs = [thrower(r), standIn];
    for (let i = 2; i < args.length; i++) hostArgs[i] = args[i];
    return { value: forwardWith(mod, name, hostArgs, standIn, expected) };
  }
  function preDoesNotThrow(args, mod, name) {
    const fn = args[0];
    const expected = args[1];
    if (typeof fn !== 'function') return undefined;
    const r = callCatching(fn);
    if (!r.threw) return { value: undefined };
    if (typeof expected !== 'function') {
      args[0] = thrower(r);
      return undefined;
    }
    const actual = r.actual;
    let matches = expected.prototype !== undefined && actual instanceof expected;
    if (!matches && !isErrorClass(expected)) matches = apply(expected, {}, [actual]) === true;
    if (!matches) throw actual;  // as node: the original error goes on
    // "Got unwanted exception": worded the same whatever matched, so the host gets no `expected`.
    const hostArgs = [thrower(r), undefined];
    for (let i = 2; i < args.length; i++) hostArgs[i] = args[i];
    return { value: forwardWith(mod, name, hostArgs, undefined, expected) };
  }
  // A user `stylize` would be called with a host-realm `this`.
  function checkInspectOptions(options) {
    if (options !== null && typeof options === 'object' && typeof options.stylize === 'function') {
      decline('passes stylize to util.inspect');
    }
  }
  const PRE = {
    throws: preThrows,
    doesNotThrow: preDoesNotThrow,
    format: (args) => { checkPrintable(args); },
    inspect: (args) => { checkPrintable(args); checkInspectOptions(args[1]); },
    formatWithOptions: (args) => { checkPrintable(args); checkInspectOptions(args[0]); },
  };

  // Plain data properties, defined rather than assigned: the program may have put setters or read-only
  // properties of these names on Object.prototype or Function.prototype by the time a module is built.
  function put(obj, key, value) {
    defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  }

  function declineGetter(obj, key, what, enumerable) {
    defineProperty(obj, key, {
      get() { decline(`uses ${what}`); },
      set() { decline(`sets ${what}`); },
      enumerable: enumerable !== false, configurable: true,
    });
  }

  function makeAssert(strict) {
    const mod = strict ? 'assertStrict' : 'assert';
    const ok = forwarder(mod, 'ok', M.assertLengths.ok);
    const a = { [strict ? 'strict' : 'ok'](...args) { return apply(ok, undefined, args); } }[strict ? 'strict' : 'ok'];
    defineProperty(a, 'length', { value: M.assertLengths.ok });
    for (let i = 0; i < M.assertKeys.length; i++) {
      const key = M.assertKeys[i];
      if (key === 'AssertionError') put(a, 'AssertionError', AssertionError);
      else if (key === 'strict') continue;
      else if (has(M.assertDeclined, key)) declineGetter(a, key, `assert.${key}`);
      else put(a, key, key === 'ok' ? ok : forwarder(mod, key, M.assertLengths[key], PRE[key]));
    }
    return a;
  }

  // In a real process node's own modules live in the program's realm, and node loads `assert` (and may
  // load `util`) only when first required: a program that changed Object/Function/Array.prototype
  // before that changes how node's module initialises (a setter or a read-only property can make it
  // throw). Such programs are declined instead of imitated.
  const { getOwnPropertyDescriptor, isExtensible } = Object;
  const ownKeys = Reflect.ownKeys;
  const watchedPrototypes = [Object.prototype, Function.prototype, Array.prototype];
  function prototypesFingerprint() {
    const parts = [];
    for (let i = 0; i < watchedPrototypes.length; i++) {
      const proto = watchedPrototypes[i];
      const keys = ownKeys(proto);
      parts[parts.length] = isExtensible(proto);
      parts[parts.length] = keys.length;
      for (let j = 0; j < keys.length; j++) {
        const d = getOwnPropertyDescriptor(proto, keys[j]);
        parts[parts.length] = keys[j];
        parts[parts.length] = d.value;
        parts[parts.length] = d.get;
        parts[parts.length] = d.set;
        parts[parts.length] = d.writable;
        parts[parts.length] = d.enumerable;
        parts[parts.length] = d.configurable;
      }
    }
    return parts;
  }
  const pristinePrototypes = prototypesFingerprint();
  function checkPrototypes(what) {
    const now = prototypesFingerprint();
    let same = now.length === pristinePrototypes.length;
    for (let i = 0; same && i < now.length; i++) same = now[i] === pristinePrototypes[i];
    if (!same) decline(`changes built-in prototypes before requiring ${what}`);
  }

  let assertModule = null;
  function getAssert() {
    if (assertModule === null) {
      checkPrototypes('assert');
      assertModule = makeAssert(false);
      const strict = makeAssert(true);
      put(strict, 'strict', strict);
      put(assertModule, 'strict', strict);
    }
    return assertModule;
  }

  let utilModule = null;
  function getUtil() {
    if (utilModule !== null) return utilModule;
    checkPrototypes('util');
    const u = {};
    for (let i = 0; i < M.utilKeys.length; i++) {
      const key = M.utilKeys[i];
      if (key === 'types') {
        const t = {};
        for (let j = 0; j < M.utilTypes.length; j++) {
          const name = M.utilTypes[j];
          // isProxy would tell our process object from node's
          put(t, name, name === 'isProxy' ? decliningFunction('isProxy', 1) : forwarder('utilTypes', name, 1));
        }
        put(u, 'types', t);
      } else if (has(M.utilForwarded, key)) {
        put(u, key, forwarder('util', key, M.utilLengths[key], PRE[key]));
      } else {
        declineGetter(u, key, `util.${key}`);
      }
    }
    const inspectKeys = ['custom', 'defaultOptions', 'colors', 'styles'];
    for (let i = 0; i < inspectKeys.length; i++) declineGetter(u.inspect, inspectKeys[i], `util.inspect.${inspectKeys[i]}`);
    utilModule = u;
    return u;
  }

  let lodashModule = null;
  function getLodash() {
    if (lodashModule !== null) return lodashModule;
    if (typeof lodashFactory !== 'function') decline('requires lodash, which does not resolve here');
    const mod = { exports: {}, require: (id) => (id === 'util' ? getUtil() : decline(`lodash requires ${id}`)) };
    quiet = true;
    try {
      apply(lodashFactory, mod.exports, [mod.exports, mod.require, mod, config.lodashFile, config.lodashDir]);
    } finally {
      quiet = false;
    }
    lodashModule = mod.exports;
    return lodashModule;
  }

  // --- module, require, exports ---------------------------------------------------------------------

  const moduleTarget = {
    id: '.', path: config.dirname, exports: {}, filename: config.filename, loaded: false,
  };
  const moduleProxy = new ProxyCtor(moduleTarget, {
    get(t, key) {
      if (key === 'exports' || key === 'id' || key === 'path' || key === 'filename' || key === 'loaded') return t[key];
      return decline(`uses module.${StringCtor(key)}`);
    },
    set(t, key, value) {
      if (key === 'exports') { t.exports = value; return true; }
      return decline(`sets module.${StringCtor(key)}`);
    },
    has() { return decline('inspects module'); },
    ownKeys() { return decline('inspects module'); },
    getOwnPropertyDescriptor() { return decline('inspects module'); },
    defineProperty() { return decline('defines on module'); },
    deleteProperty() { return decline('deletes from module'); },
    getPrototypeOf() { return decline('inspects module'); },
    setPrototypeOf() { return decline('changes module'); },
  });

  function require(id) {
    if (typeof id !== 'string') return decline('calls require with a non-string');
    let bare = id;
    if (id.length > 5 && id[0] === 'n' && id[1] === 'o' && id[2] === 'd' && id[3] === 'e' && id[4] === ':') {
      bare = id === 'node:assert' ? 'assert' : id === 'node:assert/strict' ? 'assert/strict' : id === 'node:util' ? 'util' : '';
    }
    if (bare === 'assert') return getAssert();
    if (bare === 'assert/strict') return getAssert().strict;
    if (bare === 'util') return getUtil();
    if (id === 'lodash') return getLodash();
    return decline(`requires ${id}`);
  }
  defineProperty(require, 'main', { value: moduleProxy, enumerable: true, writable: true, configurable: true });
  for (const key of ['resolve', 'cache', 'extensions']) declineGetter(require, key, `require.${key}`);

  // --- process ----------------------------------------------------------------------------------------

  function checkWritable(chunk, encoding, callback, stream) {
    if (typeof chunk !== 'string') decline(`writes a non-string to process.${stream}`);
    if (typeof encoding === 'function' || typeof callback === 'function') decline(`passes a callback to process.${stream}.write`);
    if (encoding !== undefined && encoding !== null && encoding !== 'utf8' && encoding !== 'utf-8') decline(`writes with encoding ${StringCtor(encoding)}`);
  }

  function makeStream(fd, name) {
    const target = {
      write(chunk, encoding, callback) {
        checkWritable(chunk, encoding, callback, name);
        hostCall('write', fd, chunk);
        return true;
      },
    };
    return new ProxyCtor(target, {
      get(t, key) { return key === 'write' ? t.write : decline(`uses process.${name}.${StringCtor(key)}`); },
      set(t, key) { return decline(`sets process.${name}.${StringCtor(key)}`); },
      has() { return decline(`inspects process.${name}`); },
      ownKeys() { return decline(`inspects process.${name}`); },
      getOwnPropertyDescriptor() { return decline(`inspects process.${name}`); },
      defineProperty() { return decline(`defines on process.${name}`); },
      deleteProperty() { return decline(`deletes from process.${name}`); },
      getPrototypeOf() { return decline(`inspects process.${name}`); },
    });
  }

  // process.exit(code) and process.exitCode = code accept what node 20 accepts without a warning.
  function exitCodeOf(code) {
    if (code === undefined || code === null) return code;
    let value = code;
    if (typeof code === 'string' && code !== '' && isInteger(+code)) value = +code;
    if (typeof value !== 'number' || !isInteger(value) || value < -2147483648 || value > 2147483647) {
      return decline(`uses the exit code ${StringCtor(code)}`);
    }
    return value;
  }

  function hrtime(previous) {
    const ns = hostCall('hrtime');
    let sec = NumberCtor(ns / 1000000000n);
    let nsec = NumberCtor(ns % 1000000000n);
    if (previous !== undefined) {
      if (previous === null || typeof previous !== 'object' || previous.length !== 2) decline('calls hrtime oddly');
      sec -= previous[0];
      nsec -= previous[1];
      if (nsec < 0) { sec -= 1; nsec += 1000000000; }
    }
    return [sec, nsec];
  }
  hrtime.bigint = function bigint() { return hostCall('hrtime'); };

  function memoryUsage() { return jsonParse(hostCall('memoryUsage')); }

  const processTarget = {
    argv: jsonParse(config.argvJson),
    platform: config.platform,
    arch: config.arch,
    version: config.version,
    versions: jsonParse(config.versionsJson),
    exit(code) {
      hostCall('exit', exitCodeOf(code));
      throw STOP;
    },
    stdout: makeStream(1, 'stdout'),
    stderr: makeStream(2, 'stderr'),
    hrtime,
    memoryUsage,
    nextTick: decliningFunction('nextTick', 1),
  };
  let exitCodeAsSet;
  const PROCESS_KEYS = ['argv', 'platform', 'arch', 'version', 'versions', 'exit', 'stdout', 'stderr', 'hrtime', 'memoryUsage', 'nextTick'];
  const processProxy = new ProxyCtor(processTarget, {
    get(t, key) {
      if (key === 'exitCode') return exitCodeAsSet;
      if (typeof key === 'string' && has(PROCESS_KEYS, key)) return t[key];
      return decline(`uses process.${StringCtor(key)}`);
    },
    set(t, key, value) {
      if (key === 'exitCode') {
        hostCall('setExitCode', exitCodeOf(value));
        exitCodeAsSet = value;  // node hands back what was set ('5' stays a string)
        return true;
      }
      return decline(`sets process.${StringCtor(key)}`);
    },
    has() { return decline('inspects process'); },
    ownKeys() { return decline('inspects process'); },
    getOwnPropertyDescriptor() { return decline('inspects process'); },
    defineProperty() { return decline('defines on process'); },
    deleteProperty() { return decline('deletes from process'); },
    getPrototypeOf() { return decline('inspects process'); },
    setPrototypeOf() { return decline('changes process'); },
    isExtensible() { return decline('inspects process'); },
    preventExtensions() { return decline('freezes process'); },
  });

  // --- console --------------------------------------------------------------------------------------

  function checkPrintable(args) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === G || a === processProxy || a === moduleProxy || a === require) decline('prints globalThis, process, module or require');
    }
  }

  const consoleObject = {};
  for (const key of M.consoleKeys) {
    if (has(M.consoleForwarded, key)) {
      consoleObject[key] = {
        [key](...args) {
          checkPrintable(args);
          if (key === 'dir') checkInspectOptions(args[1]);
          hostCall('console', key, args);
        },
      }[key];
    } else {
      declineGetter(consoleObject, key, `console.${key}`);
    }
  }

  // --- globals ----------------------------------------------------------------------------------------

  for (const [name, enumerable] of config.hostOnlyGlobals) {
    if (name === 'process') continue;
    if (name === 'global') {
      defineProperty(G, 'global', { value: G, writable: true, enumerable, configurable: true });
      continue;
    }
    if (name === 'atob' || name === 'btoa') {
      defineProperty(G, name, {
        value: { [name](s) { return hostCall(name, s); } }[name], writable: true, enumerable, configurable: true,
      });
    } else if (/^(set|clear)(Timeout|Interval|Immediate)$|^queueMicrotask$|^structuredClone$|^fetch$/.test(name)) {
      defineProperty(G, name, { value: decliningFunction(name, 1), writable: true, enumerable, configurable: true });
    } else {
      defineProperty(G, name, {
        get() { return quiet ? undefined : decline(`uses ${name}`); },
        set() { decline(`sets ${name}`); },
        enumerable, configurable: true,
      });
    }
  }
  const tag = config.globalToStringTag;  // node's globalThis is '[object global]'
  if (tag) defineProperty(G, Symbol.toStringTag, { value: tag.value, writable: tag.writable, enumerable: tag.enumerable, configurable: tag.configurable });
  defineProperty(G, 'process', { value: processProxy, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'console', { value: consoleObject, writable: true, enumerable: false, configurable: true });
  // Proxy: host code handing a host-realm object to a trap (an apply trap's argument array, a
  // defineProperty trap's descriptor) would leak the host realm; programs using Proxy are declined.
  for (const name of ['WebAssembly', 'FinalizationRegistry', 'Proxy']) {
    defineProperty(G, name, {
      get() { return quiet ? undefined : decline(`uses ${name}`); },
      set() { decline(`sets ${name}`); },
      enumerable: false, configurable: true,
    });
  }
  // Error.prepareStackTrace: node calls the one of an error's own realm (read as globalThis.Error
  // .prepareStackTrace) with structured call sites whenever a stack is formatted, by host code too (util
  // .inspect of an error). Rather than trust what those call sites would give away (getThis, getFunction
  // of the frames below), a program that sets it, or replaces the global Error, is declined.
  let prepareStackTraceValue = getOwnPropertyDescriptor(ErrorCtor, 'prepareStackTrace');
  prepareStackTraceValue = prepareStackTraceValue === undefined ? undefined : prepareStackTraceValue.value;
  defineProperty(ErrorCtor, 'prepareStackTrace', {
    get() { return prepareStackTraceValue; },
    set() { decline('sets Error.prepareStackTrace'); },
    enumerable: false, configurable: false,
  });
  defineProperty(G, 'Error', {
    get() { return ErrorCtor; },
    set() { decline('replaces the global Error'); },
    enumerable: false, configurable: false,
  });
  // Symbol.for('nodejs.util.inspect.custom') & co: host code calls such methods with host objects.
  const symbolFor = Symbol.for;
  defineProperty(Symbol, 'for', {
    value: {
      for(key) {
        const k = StringCtor(key);
        if (k.length >= 7 && k[0] === 'n' && k[1] === 'o' && k[2] === 'd' && k[3] === 'e' && k[4] === 'j' && k[5] === 's' && k[6] === '.') {
          decline(`uses Symbol.for('${k}')`);
        }
        return apply(symbolFor, undefined, [k]);
      },
    }.for,
    writable: true, enumerable: false, configurable: true,
  });
  if (typeof Atomics === 'object' && typeof Atomics.waitAsync === 'function') {
    defineProperty(Atomics, 'waitAsync', { value: decliningFunction('waitAsync', 4), writable: true, enumerable: false, configurable: true });
  }

  // --- the host's handle ------------------------------------------------------------------------------

  // PROOF (see evals/languages/base.py): a sealed program's prologue calls globalThis[PROOF_HANDOVER]
  // first, before any other code of the program can run, and gets the proof token of this request, or
  // null when none was asked. The function is not enumerable, answers once and deletes itself (the
  // prologue in a fresh process reads .psft_proof instead, as there is no such global). It is offered
  // only to a program that names it, so the globals of any other program are those of a fresh process.
  //
  // The prologue compiles its body with the Function constructor, which in a fresh process costs little,
  // but here costs a compilation per context and keeps each context alive in V8's eval cache for a while
  // (the heap then grows to hundreds of MB and garbage collection doubles). So the runner also offers
  // `(() => {})[SEAL_HANDOVER]`, reached through Function.prototype, which no declaration can shadow: it
  // answers once, deletes itself and returns the body as a function of this context compiled by the host
  // once per runner (`sealFunction`), which the prologue calls instead of the constructor's result. It is
  // deleted before the program's own first statement, so `checkPrototypes` sees pristine prototypes.
  const FunctionPrototype = Function.prototype;
  function prepare(main, proofToken, offer) {
    let token = typeof proofToken === 'string' ? proofToken : null;
    if (offer) {
      defineProperty(G, config.proofKey, {
        value: function handover() {
          delete G[config.proofKey];
          const t = token;
          token = null;
          return t;
        },
        writable: true, enumerable: false, configurable: true,
      });
      defineProperty(FunctionPrototype, config.sealKey, {
        value: function seal(body) {
          delete FunctionPrototype[config.sealKey];
          return hostCall('seal', typeof body === 'string' ? body : '');
        },
        writable: true, enumerable: false, configurable: true,
      });
    }
    defineProperty(G, config.runKey, {
      value: function run() {
        delete G[config.runKey];
        const exports = moduleTarget.exports;
        return apply(main, exports, [exports, require, moduleProxy, config.filename, config.dirname]);
      },
      writable: true, enumerable: false, configurable: true,
    });
  }

  return freeze({
    STOP, makeAssertionError, makeError, prepare, objectPrototype: Object.prototype,
    AssertionError,
  });
}

const sealScripts = new Map();  // prologue body -> vm.Script (see Run.sealFunction)
const SEAL_FILE = 'psft:runner/seal.js';
const BOOTSTRAP_SCRIPT = new vm.Script(`(${BOOTSTRAP.toString()})`, { filename: BOOT_FILE });
const RUN_SCRIPT = new vm.Script(`globalThis[${JSON.stringify(RUN_KEY)}]();`, { filename: RUN_FILE });

// ---------------------------------------------------------------------------------------------------
// lodash: resolved as the fresh process would resolve it from <cwd>/main.js (NODE_PATH included),
// compiled once as a CommonJS wrapper function, and evaluated afresh inside each context requiring it.
// ---------------------------------------------------------------------------------------------------

const lodashScripts = new Map();  // resolved path -> vm.Script

function lodashFactoryFor(ctx) {
  let file;
  try {
    file = Module.createRequire(path.join(process.cwd(), 'main.js')).resolve('lodash');
  } catch (e) {
    return { factory: undefined, file: '' };
  }
  let script = lodashScripts.get(file);
  if (script === undefined) {
    const code = fs.readFileSync(file, 'utf8');
    script = new vm.Script(`(function (${CJS_PARAMS.join(', ')}) {${code}\n})`, { filename: file });
    lodashScripts.set(file, script);
  }
  return { factory: script.runInContext(ctx), file };
}

// ---------------------------------------------------------------------------------------------------
// One run: a fresh context, its bootstrap, and the host side of the bridge.
// ---------------------------------------------------------------------------------------------------

class Run {
  constructor() {
    this.global = DONT_CONTEXTIFY
      ? vm.createContext(DONT_CONTEXTIFY, { microtaskMode: 'afterEvaluate' })
      : vm.createContext({}, { microtaskMode: 'afterEvaluate' });
    this.ctx = this.global;
    if (!DONT_CONTEXTIFY) this.global = vm.runInContext('globalThis', this.ctx);
    this.stdout = new Tail(0);
    this.stderr = new Tail(0);
    this.declined = null;
    this.exited = null;       // exit code given to process.exit
    this.exitCode = undefined;  // process.exitCode
    this.stopped = false;
    this.unhandled = false;
    this.active = false;
    this.console = null;
    this.started = 0;
    const cwd = process.cwd();
    this.filename = path.join(cwd, 'main.js');
    const lodash = lodashFactoryFor(this.ctx);
    const config = {
      modules: MODULES,
      hostOnlyGlobals: HOST_ONLY_GLOBALS,
      runKey: RUN_KEY,
      proofKey: PROOF_HANDOVER,
      sealKey: SEAL_HANDOVER,
      filename: this.filename,
      dirname: cwd,
      argvJson: JSON.stringify([process.execPath, this.filename]),
      platform: process.platform,
      arch: process.arch,
      version: process.version,
      versionsJson: JSON.stringify(process.versions),
      globalToStringTag: GLOBAL_TO_STRING_TAG,
      lodashFile: lodash.file,
      lodashDir: lodash.file ? path.dirname(lodash.file) : '',
    };
    const boot = BOOTSTRAP_SCRIPT.runInContext(this.ctx);
    this.api = boot((...args) => this.hostCall(...args), JSON.stringify(config), lodash.factory);
  }

  setLimits(outputBytes) {
    this.stdout = new Tail(outputBytes);
    this.stderr = new Tail(outputBytes);
  }

  decline(reason) {
    if (this.declined === null) this.declined = String(reason).slice(0, 200);
    this.stopped = true;
  }

  // The only host function a program can (indirectly) call. It never returns or throws a host object.
  hostCall(op, a, b, c) {
    if (this.stopped) throw this.api.STOP;
    try {
      return this.dispatch(op, a, b, c);
    } catch (e) {
      throw this.toContextThrowable(e, c);
    }
  }

  dispatch(op, a, b, c) {
    switch (op) {
      case 'write':
        (a === 1 ? this.stdout : this.stderr).write(b);
        return undefined;
      case 'console': {
        const con = this.getConsole();
        // profile, profileEnd and timeStamp only exist on the global console (inspector no-ops).
        if (typeof con[a] === 'function') Reflect.apply(con[a], con, b);
        return undefined;
      }
      case 'call':
        return this.callModule(a, b, c);
      case 'newAssertionError': {
        const e = new hostAssert.AssertionError(a);
        return JSON.stringify({ message: e.message, generatedMessage: e.generatedMessage, operator: e.operator });
      }
      case 'decline':
        this.decline(a);
        return undefined;
      case 'exit':
        if (this.exited === null) this.exited = a === undefined || a === null ? (this.exitCode || 0) : a;
        this.stopped = true;
        return undefined;
      case 'setExitCode':
        this.exitCode = a;
        return undefined;
      case 'hrtime':
        return process.hrtime.bigint();
      case 'memoryUsage':
        return JSON.stringify(process.memoryUsage());
      case 'seal':
        return this.sealFunction(a);
      case 'atob':
      case 'btoa':
        if (typeof a !== 'string') { this.decline(`calls ${op} with a non-string`); throw this.api.STOP; }
        return globalThis[op](a);
      default:
        this.decline(`unknown host operation ${op}`);
        throw this.api.STOP;
    }
  }

  // The prologue's body as a function of this context: `new Function(body)` would give the same, but
  // compiled here once per distinct body (there are two: with and without assert) instead of per run.
  sealFunction(body) {
    let script = sealScripts.get(body);
    if (script === undefined) {
      if (body.length > 16384) {
        this.decline('seals with an oversized prologue');
        throw this.api.STOP;
      }
      script = new vm.Script(`(function anonymous(\n) {\n${body}\n})`, { filename: SEAL_FILE });
      if (sealScripts.size < 8) sealScripts.set(body, script);
    }
    return script.runInContext(this.ctx);
  }

  callModule(mod, name, args) {
    let fn;
    if (mod === 'assert') fn = ASSERT_FORWARDED.includes(name) && hostAssert[name];
    else if (mod === 'assertStrict') fn = ASSERT_FORWARDED.includes(name) && hostAssert.strict[name];
    else if (mod === 'util') fn = UTIL_FORWARDED.includes(name) && util[name];
    else if (mod === 'utilTypes') fn = UTIL_TYPES.includes(name) && util.types[name];
    if (typeof fn !== 'function') {
      this.decline(`calls ${mod}.${name}`);
      throw this.api.STOP;
    }
    // assert.ok/assert() failing without a message: node builds the message from the caller's source
    // file, which is not ours to read. Let the fresh process do it.
    if ((name === 'ok' || (mod === 'assertStrict' && name === 'strict')) && args.length > 0 && !args[0]
        && (args.length < 2 || args[1] === undefined || args[1] === null)) {
      this.decline('assert.ok fails without a message');
      throw this.api.STOP;
    }
    const result = Reflect.apply(fn, undefined, args);
    if (result !== null && (typeof result === 'object' || typeof result === 'function')) {
      this.decline(`${mod}.${name} returned an object`);
      throw this.api.STOP;
    }
    return result;
  }

  getConsole() {
    if (this.console === null) {
      const out = { write: (s) => { this.stdout.write(s); return true; } };
      const err = { write: (s) => { this.stderr.write(s); return true; } };
      this.console = new Console({ stdout: out, stderr: err, ignoreErrors: false, colorMode: false });
    }
    return this.console;
  }

  isContextValue(v) {
    let o = v;
    for (let i = 0; i < 10000 && o !== null; i++) {
      if (o === this.api.objectPrototype) return true;
      o = Reflect.getPrototypeOf(o);
    }
    return false;
  }

  // Whatever a host function threw, turned into something safe to throw inside the context.
  toContextThrowable(e, args) {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return e;
    if (e === this.api.STOP) return e;
    try {
      if (this.isContextValue(e)) return e;
    } catch (inner) {
      this.decline('threw an unusual value');
      return this.api.STOP;
    }
    const isArg = (v) => {
      if (!Array.isArray(args)) return false;
      for (let i = 0; i < args.length; i++) if (args[i] === v) return true;
      return false;
    };
    const safe = (v) => v === null || (typeof v !== 'object' && typeof v !== 'function') || isArg(v) || this.isContextValue(v);
    if (e instanceof hostAssert.AssertionError && safe(e.actual) && safe(e.expected)) {
      const fields = JSON.stringify({ message: e.message, generatedMessage: e.generatedMessage, operator: e.operator });
      return this.api.makeAssertionError(fields, e.actual, e.expected);
    }
    if (e instanceof Error && typeof e.message === 'string' && /^(Type|Range|Syntax|Reference)?Error$/.test(e.constructor.name)) {
      return this.api.makeError(e.constructor.name, e.message, typeof e.code === 'string' ? e.code : undefined);
    }
    this.decline(`a host function threw ${e && e.constructor && e.constructor.name}`);
    return this.api.STOP;
  }
}

// A prepared Run, made while idle (after a response is written), so a request finds one ready.
let spareRun = null;
function takeRun() {
  const r = spareRun || new Run();
  spareRun = null;
  return r;
}
function prepareSpare() {
  if (spareRun === null) {
    try {
      spareRun = new Run();
    } catch (e) {
      spareRun = null;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Node's report of an uncaught exception, as printed by a fresh `node main.js`.
// ---------------------------------------------------------------------------------------------------

// Rewrite the frames of a stack as node would show them for a main module: frames of the bootstrap
// are dropped, and the runner's frames under the program's top level become node's module-loading frames.
function nodeLikeStack(text) {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && !/^\s+at /.test(lines[i])) i++;
  const head = lines.slice(0, i);
  const frames = [];
  while (i < lines.length && /^\s+at /.test(lines[i])) frames.push(lines[i++]);
  const rest = lines.slice(i);
  if (frames.length === 0) return text;
  let suffix = '';
  if (/ \{$/.test(frames[frames.length - 1])) {  // util.inspect opens the own-properties block there
    suffix = ' {';
    frames[frames.length - 1] = frames[frames.length - 1].slice(0, -2);
  }
  let out = [];
  let reachedRunner = false;
  for (const f of frames) {
    if (f.includes(RUN_FILE) || f.includes(__filename) || /[( ]node:vm:/.test(f)) { reachedRunner = true; break; }
    if (!f.includes(BOOT_FILE)) out.push(f);
  }
  if (reachedRunner) out = out.concat(NODE_TAIL_FRAMES.slice(0, Math.max(0, 10 - out.length)));
  if (out.length > 0) out[out.length - 1] += suffix;
  else if (suffix && head.length > 0) head[head.length - 1] += suffix;
  return head.concat(out, rest).join('\n');
}

function formatUncaught(err, run) {
  if (err === null || (typeof err !== 'object' && typeof err !== 'function')) {
    const shown = typeof err === 'string' ? err : typeof err === 'symbol' ? '' : util.inspect(err);
    return `\n${run.filename}\n${shown}\n${TRACE_UNCAUGHT_HINT}\n${NODE_FOOTER}`;
  }
  if (!util.types.isNativeError(err)) return `\n${run.filename}\n${util.inspect(err)}\n${NODE_FOOTER}`;
  // vm put its source arrow in front of the stack; node prints the arrow apart from the error.
  let arrow = '';
  const desc = Object.getOwnPropertyDescriptor(err, 'stack');
  if (desc && typeof desc.value === 'string') {
    const m = /^(.*?):(\d+)\n(.*)\n( *\^+ *)\n\n/.exec(desc.value);
    if (m) {
      if (m[1] !== BOOT_FILE && m[1] !== RUN_FILE) arrow = `${m[1]}:${m[2]}\n${m[3]}\n${m[4]}\n\n`;
      try {
        Object.defineProperty(err, 'stack', Object.assign(desc, { value: desc.value.slice(m[0].length) }));
      } catch (e) {
        // a frozen error keeps its arrow in the stack
      }
    }
  }
  if (!arrow && err instanceof run.api.AssertionError) arrow = 'node:assert:90\n  throw new AssertionError(obj);\n  ^\n\n';
  let text;
  try {
    text = util.inspect(err);
  } catch (e) {
    text = String(e && e.message);
  }
  return `${arrow}${nodeLikeStack(text)}\n${NODE_FOOTER}`;
}

function formatSyntaxError(err, filename) {
  let text = String(err && err.stack);
  const m = /^(.*?):(\d+)\n(.*)\n( *\^+ *)\n\n/.exec(text);
  let arrow = '';
  if (m) {
    arrow = `${filename}:${m[2]}\n${m[3]}\n${m[4]}\n\n`;
    text = text.slice(m[0].length);
  }
  const head = text.split('\n').filter((l) => !/^\s+at /.test(l)).join('\n');
  return `${arrow}${head}\n${NODE_TAIL_FRAMES.join('\n')}\n${NODE_FOOTER}`;
}

// ---------------------------------------------------------------------------------------------------
// Running JavaScript
// ---------------------------------------------------------------------------------------------------

let currentRun = null;
process.on('unhandledRejection', () => {
  if (currentRun !== null) currentRun.unhandled = true;
});

function result(fields) {
  return Object.assign({
    fallback: null, exit_code: null, stdout: '', stderr: '', timed_out: false, phase: 'run', duration_s: 0,
    signal: null, stdout_bytes: 0, stderr_bytes: 0,
  }, fields);
}

function fallback(reason) {
  return result({ fallback: String(reason) });
}

function looksLikeModuleSyntax(source) {
  return /\bimport\b|\bexport\b|\bawait\b/.test(source);
}

// Runs `source` as main.js; calls done(response) once the run is over and its consequences known.
function runJavaScript(source, timeoutMs, outputBytes, proof, done) {
  if (/^\s*#!/.test(source)) return done(fallback('starts with a hashbang line'));
  if (/\bimport\b/.test(source)) return done(fallback('mentions import (ES module or dynamic import)'));
  const run = takeRun();
  run.setLimits(outputBytes);
  const t0 = process.hrtime.bigint();
  let main;
  try {
    main = vm.compileFunction(source, CJS_PARAMS, { parsingContext: run.ctx, filename: run.filename });
  } catch (e) {
    if (!(e instanceof SyntaxError) && !(e && e.name === 'SyntaxError')) return done(fallback(`compile error ${e && e.name}`));
    if (ESM_SYNTAX.test(String(e.message)) || looksLikeModuleSyntax(source)) {
      return done(fallback('syntax error in a file that may be an ES module'));
    }
    const stderr = new Tail(outputBytes);
    stderr.write(formatSyntaxError(e, run.filename));
    return done(result({
      exit_code: 1, stderr: stderr.text(), stderr_bytes: stderr.total, duration_s: seconds(t0),
    }));
  }

  run.api.prepare(main, proof, source.includes(PROOF_HANDOVER));
  currentRun = run;
  run.active = true;
  let thrown;
  let threw = false;
  let timedOut = false;
  try {
    RUN_SCRIPT.runInContext(run.ctx, { timeout: Math.max(1, timeoutMs | 0), displayErrors: true });
  } catch (e) {
    // vm's watchdog: an Error with this code and message, thrown no earlier than the deadline.
    if (util.types.isNativeError(e) && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT'
        && /^Script execution timed out after \d+ms$/.test(e.message)
        && Number(process.hrtime.bigint() - t0) / 1e6 >= 0.9 * timeoutMs) timedOut = true;
    else { threw = true; thrown = e; }
  }
  run.active = false;
  run.stopped = true;
  const duration = seconds(t0);

  // Let node process pending promise rejections (they are reported after the current callback).
  setImmediate(() => {
    currentRun = null;
    done(finishJavaScript(run, { threw, thrown, timedOut, duration }));
  });
  return undefined;
}

function finishJavaScript(run, { threw, thrown, timedOut, duration }) {
  if (run.declined !== null) return fallback(run.declined);
  const base = { duration_s: duration };
  let exitCode;
  if (run.exited !== null) {
    exitCode = run.exited;
  } else if (timedOut) {
    if (!DONT_CONTEXTIFY) return fallback('timed out (global lookups are slower in this node version)');
    return result(Object.assign(base, {
      exit_code: null, timed_out: true, stdout: run.stdout.text(), stderr: run.stderr.text(),
      stdout_bytes: run.stdout.total, stderr_bytes: run.stderr.total,
    }));
  } else if (threw) {
    if (thrown === run.api.STOP) return fallback('stopped without a reason');
    if (thrown !== null && (typeof thrown === 'object' || typeof thrown === 'function')) {
      let own = false;
      try { own = run.isContextValue(thrown); } catch (e) { own = false; }
      if (!own) return fallback(`the runner threw ${thrown && thrown.constructor && thrown.constructor.name}`);
    }
    if (thrown instanceof RangeError || (thrown && thrown.name === 'RangeError')) {
      if (/Maximum call stack size exceeded/.test(String(thrown && thrown.message))) {
        return fallback('stack overflow (the stack depth differs from a fresh process)');
      }
    }
    let report;
    try {
      report = formatUncaught(thrown, run);
    } catch (e) {
      return fallback('could not format the uncaught exception');
    }
    if (run.declined !== null) return fallback(run.declined);
    run.stderr.write(report);
    exitCode = 1;
  } else {
    if (run.unhandled) return fallback('unhandled promise rejection');
    exitCode = run.exitCode === undefined || run.exitCode === null ? 0 : run.exitCode;
  }
  return result(Object.assign(base, {
    exit_code: exitCode & 0xff, stdout: run.stdout.text(), stderr: run.stderr.text(),
    stdout_bytes: run.stdout.total, stderr_bytes: run.stderr.total,
  }));
}

function seconds(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// ---------------------------------------------------------------------------------------------------
// TypeScript: tsc's checks and emit through the compiler API, with declaration files parsed once.
// ---------------------------------------------------------------------------------------------------

let ts = null;
let tsOptions = null;
const tsFileCache = new Map();  // file name + language version -> SourceFile (libs, @types: never the program)
const fsCache = new Map();      // 'kind\0path' -> answer, for paths outside the working directory
let moduleCache = null;         // ts module / type-reference resolution caches, kept across programs
let lastProgram = null;         // {dir, program}: the previous program, for structure reuse
let typeRefCache = null;

// The compiler of the `tsc` on PATH (what the fresh path runs), else whatever require finds.
function typescriptModulePath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    try {
      const bin = fs.realpathSync(path.join(dir || '.', 'tsc'));
      const lib = path.join(path.dirname(path.dirname(bin)), 'lib', 'typescript.js');
      if (fs.existsSync(lib)) return lib;
    } catch (e) {
      // not in this directory
    }
  }
  return 'typescript';
}

function loadTypeScript() {
  if (ts !== null) return;
  ts = require(typescriptModulePath());
  const args = ['--target', 'es2021', '--module', 'commonjs', '--lib', 'es2021', '--types', 'node', '--skipLibCheck'];
  if (process.env.PSFT_TS_TYPE_ROOTS) args.push('--typeRoots', process.env.PSFT_TS_TYPE_ROOTS.split(':').join(','));
  const parsed = ts.parseCommandLine(args);
  if (parsed.errors.length) throw new Error(ts.flattenDiagnosticMessageText(parsed.errors[0].messageText, '\n'));
  tsOptions = parsed.options;
  if (tsOptions.typeRoots) tsOptions.typeRoots = tsOptions.typeRoots.map((p) => path.resolve(p));
}

// As tsc would compile <cwd>/<dir>/main.ts, where <dir> holds nothing but main.ts. Answers about the
// file system outside the working directory (the lib files, @types, global node_modules) are cached:
// the sandbox keeps them read-only. The working directory itself is asked afresh each time.
function compileTypeScript(source, filename) {
  loadTypeScript();
  const cwd = process.cwd();
  const dir = path.join(cwd, `.psft-ts-${process.pid}`);
  const mainFile = path.join(dir, filename);
  const inDir = (f) => f === dir || f.startsWith(dir + path.sep);
  const inCwd = (f) => f === cwd || f.startsWith(cwd + path.sep);
  const cached = (kind, f, compute) => {
    if (inCwd(f)) return compute();
    const key = `${kind}\0${f}`;
    if (!fsCache.has(key)) fsCache.set(key, compute());
    return fsCache.get(key);
  };
  const outputs = new Map();
  const host = {
    getSourceFile(fileName, languageVersion, onError) {
      if (fileName === mainFile) return ts.createSourceFile(fileName, source, languageVersion);
      if (inDir(fileName)) return undefined;
      const key = `${fileName}\0${typeof languageVersion === 'object' ? JSON.stringify(languageVersion) : languageVersion}`;
      let sf = tsFileCache.get(key);
      if (sf === undefined) {
        const text = host.readFile(fileName);
        if (text === undefined) {
          if (onError) onError(`File '${fileName}' not found.`);
          return undefined;
        }
        sf = ts.createSourceFile(fileName, text, languageVersion);
        if (!inCwd(fileName)) tsFileCache.set(key, sf);
      }
      return sf;
    },
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    getDefaultLibLocation: () => path.dirname(ts.getDefaultLibFilePath(tsOptions)),
    writeFile: (fileName, text) => { outputs.set(fileName, text); },
    getCurrentDirectory: () => dir,
    getDirectories: (p) => (inDir(p) ? [] : cached('dirs', p, () => ts.sys.getDirectories(p))),
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (f) => (f === mainFile ? true : inDir(f) ? false : cached('file', f, () => ts.sys.fileExists(f))),
    readFile: (f) => (f === mainFile ? source : inDir(f) ? undefined : cached('read', f, () => ts.sys.readFile(f))),
    directoryExists: (d) => (d === dir ? true : inDir(d) ? false : cached('dir', d, () => ts.sys.directoryExists(d))),
    realpath: (p) => (inDir(p) ? p : cached('real', p, () => (ts.sys.realpath ? ts.sys.realpath(p) : p))),
  };
  // Module and type-reference resolutions depend only on the file system as seen above, so they are
  // cached across programs too (the program's own directory is the same, empty, directory every time).
  if (moduleCache === null || moduleCache.dir !== dir) {
    moduleCache = { dir, cache: ts.createModuleResolutionCache(dir, (f) => f, tsOptions) };
    typeRefCache = ts.createTypeReferenceDirectiveResolutionCache(dir, (f) => f, tsOptions, moduleCache.cache.getPackageJsonInfoCache());
  }
  host.resolveModuleNames = (names, containingFile, reused, redirected, options) => names.map((name) => ts.resolveModuleName(
    typeof name === 'string' ? name : name.text, containingFile, options, host, moduleCache.cache, redirected).resolvedModule);
  host.resolveTypeReferenceDirectives = (names, containingFile, redirected, options, containingFileMode) => names.map((entry) => {
    const name = typeof entry === 'string' ? entry : entry.fileName.toLowerCase();
    const mode = typeof entry === 'string' ? containingFileMode : (entry.resolutionMode || containingFileMode);
    return ts.resolveTypeReferenceDirective(name, containingFile, options, host, redirected, typeRefCache, mode)
      .resolvedTypeReferenceDirective;
  });
  // The previous program lets TypeScript reuse what it found for the unchanged files (the whole
  // structure, when the program imports what the previous one did), as its language service does.
  const oldProgram = lastProgram !== null && lastProgram.dir === dir ? lastProgram.program : undefined;
  lastProgram = null;
  const program = ts.createProgram({ rootNames: [mainFile], options: tsOptions, host, oldProgram });
  lastProgram = { dir, program };
  // The order and the exit status of tsc's emitFilesAndReportErrors / executeCommandLine.
  let diagnostics = program.getConfigFileParsingDiagnostics().slice();
  const configCount = diagnostics.length;
  diagnostics = diagnostics.concat(program.getSyntacticDiagnostics());
  if (diagnostics.length === configCount) {
    diagnostics = diagnostics.concat(program.getOptionsDiagnostics(), program.getGlobalDiagnostics());
    if (diagnostics.length === configCount) diagnostics = diagnostics.concat(program.getSemanticDiagnostics());
  }
  const emitted = program.emit();
  diagnostics = diagnostics.concat(emitted.diagnostics);
  diagnostics = ts.sortAndDeduplicateDiagnostics(diagnostics);
  const formatHost = { getCurrentDirectory: () => dir, getCanonicalFileName: (f) => f, getNewLine: () => '\n' };
  const text = diagnostics.map((d) => ts.formatDiagnostic(d, formatHost)).join('');
  let status = 0;
  if (emitted.emitSkipped && diagnostics.length > 0) status = 1;
  else if (diagnostics.length > 0) status = 2;
  const js = outputs.get(path.join(dir, filename.replace(/\.ts$/, '.js')));
  return { status, text, js };
}

// ---------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------

function handle(req, done) {
  const lang = req.lang;
  const timeoutMs = Number.isFinite(req.timeout_ms) ? req.timeout_ms : 10000;
  const outputBytes = Number.isFinite(req.output_bytes) ? req.output_bytes : 16384;
  if (typeof req.source !== 'string') return done(fallback('no source'));
  // The proof token (PROOF in evals/languages/base.py): 32 lowercase hex digits, or absent.
  if (req.proof !== undefined && req.proof !== null && !(typeof req.proof === 'string' && /^[0-9a-f]{32}$/.test(req.proof))) {
    return done(fallback('malformed proof token'));
  }
  const proof = typeof req.proof === 'string' ? req.proof : null;
  if (lang === 'javascript' || lang === 'js') {
    if (req.filename !== undefined && req.filename !== 'main.js') return done(fallback('file name other than main.js'));
    return runJavaScript(req.source, timeoutMs, outputBytes, proof, done);
  }
  if (lang === 'typescript' || lang === 'ts') {
    const filename = req.filename === undefined ? 'main.ts' : req.filename;
    if (filename !== 'main.ts') return done(fallback('file name other than main.ts'));
    const t0 = process.hrtime.bigint();
    let built;
    try {
      built = compileTypeScript(req.source, filename);
    } catch (e) {
      return done(fallback(`TypeScript compiler failed: ${e && e.message}`));
    }
    const ignore = req.ts_type_errors === 'ignore';
    if (built.status === 1 || (built.status === 2 && !ignore) || typeof built.js !== 'string') {
      const out = new Tail(outputBytes);
      out.write(built.text);
      return done(result({
        phase: 'build', exit_code: built.status || 1, stdout: out.text(), stdout_bytes: out.total, duration_s: seconds(t0),
      }));
    }
    return runJavaScript(built.js, timeoutMs, outputBytes, proof, done);
  }
  return done(fallback(`language ${lang}`));
}

function writeLine(obj) {
  const data = Buffer.from(`${JSON.stringify(obj)}\n`, 'utf8');
  let off = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(1, data, off, data.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

const queue = [];
let busy = false;

function pump() {
  if (busy) return;
  const line = queue.shift();
  if (line === undefined) {
    setImmediate(prepareSpare);
    return;
  }
  busy = true;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    writeLine(Object.assign({ id: null }, fallback('bad request line')));
    busy = false;
    setImmediate(pump);
    return;
  }
  let answered = false;
  const done = (resp) => {
    if (answered) return;
    answered = true;
    writeLine(Object.assign({ id: req.id === undefined ? null : req.id }, resp));
    busy = false;
    setImmediate(pump);
  };
  try {
    handle(req, done);
  } catch (e) {
    done(fallback(`runner error: ${e && e.message}`));
  }
}

function main() {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) queue.push(line);
    }
    pump();
  });
  process.stdin.on('end', () => {
    if (pending.trim()) queue.push(pending);
    pending = '';
    pump();
    const check = () => (busy || queue.length ? setTimeout(check, 5) : process.exit(0));
    check();
  });
  setImmediate(prepareSpare);
}

if (require.main === module) main();
module.exports = { handle };  // for in-process experiments; the protocol is stdin/stdout
