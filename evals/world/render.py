"""Per-language code: the prompt, the reference completion, the test harness, and the stop rule.

The contract with the language model (train/ and probe/ rely on it):

    prompt     = tag line + [fixed preamble] + description comment + signature line, with NO final
                 newline (Perl's signature includes `my (...) = @_;`). With ByteLevel BPE the
                 pre-tokenizer always splits between the signature's last character (`:`, `{`, `)`,
                 `;`) and the newline that follows, so the prompt ends on a token boundary and the
                 completion's first token is the newline plus the body's indentation, exactly as in
                 the pretraining documents (`prompt + solution`).
    completion = "\\n" + the body + the closing line (`}` / `end`; none in Python) + "\\n".
    stop       = `stop(lang)`: strings at which generation can stop ("\\n}" for JavaScript, PHP and
                 Perl, "\\nend" for Ruby and Lua, a new unindented line in Python); `truncate(lang,
                 text)` cuts a raw generation after the function and is applied by `program`.
    program    = seal(prompt + truncate(completion), tests, prelude=helpers): `Language.seal` (PROOF in
                 `evals/languages/base.py`) puts a proof prologue first and an epilogue last, which prints
                 the proof token only when every test ran and passed; run it as `Program(lang, text,
                 proof=True)`. The helpers (`helpers(lang)`, a strict `check`) are trusted and built before
                 the completion runs; `harness(lang, ...)` is the tests. A failed test ends the program at
                 once with "test case N did not pass: got ..., want ..." on stderr, which
                 `evals.languages` classifies as FAILED.

The body is one statement per stage (a loop per list stage in Lua), with a fresh variable per stage.

Naming (`naming`, from `WorldConfig.naming`): "shared" (the default) writes every language with the same
identifiers (`xs`, `ys`, `n`, `s`, loop variables `x`, `i`, ...), a lexical cue that translations share;
"per_language" gives each language its own names for the same roles (`OWN_NAMES`: Python's descriptive
snake_case, JavaScript's camelCase, Ruby's short names, PHP's `$items`, Lua's `tbl`/`acc`, Perl's `@vals`),
in the signature, the body and the description's mention of the parameters. Only identifiers move: the
tag line, the layout, the function name, the harness and the stop rule are the same under both.
Not for: the meaning of a primitive (`primitives.py`) or running programs (`evals.execution`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from evals.languages import get_language

from .grammar import Pipeline, Stage
from .langs import check_lang
from .primitives import OPS, PREDS, PRIMS


@dataclass(frozen=True)
class Style:
    comment: str
    indent: str
    preamble: tuple[str, ...] = ()   # lines after the tag line (before the description)
    head_first: tuple[str, ...] = ()  # lines before the tag line (PHP's opening tag)
    closing: str | None = None        # the function's last line


STYLES: dict[str, Style] = {
    "python": Style("#", "    "),
    "javascript": Style("//", "  ", closing="}"),
    "ruby": Style("#", "  ", closing="end"),
    "php": Style("//", "    ", head_first=("<?php",), closing="}"),
    "lua": Style("--", "  ", closing="end"),
    "perl": Style("#", "    ", preamble=("use strict;", "use warnings;",
                                         "use List::Util qw(sum0 product max min uniq head tail);"), closing="}"),
}

# Fresh variable names per type (parameters are skipped); loop variables (x, i, c, d, y, a, b) are not here.
NAME_POOLS = {"list": ("xs", "ys", "zs", "ws", "vs", "us", "ts"),
              "int": ("n", "m", "r", "h", "g", "j", "e"),
              "str": ("s", "t", "u", "w", "z", "v", "q")}
ELEM = {"python": "x", "javascript": "x", "ruby": "x", "php": "$x", "lua": "x", "perl": "$_"}

NAMINGS = ("shared", "per_language")

# The roles a name plays in a body, by the name it has under "shared": the NAME_POOLS in order (parameters
# take the first of their type's pool: xs, ys, n, s, t), the constant-replacing parameter k, and the loop
# and helper names of the templates in primitives.py (x element, y second element, i index, c character,
# d digit, a and b a pair or a comparator's operands, seen and chars Lua's and PHP's helper tables).
_ROLES = (*NAME_POOLS["list"], *NAME_POOLS["int"], *NAME_POOLS["str"],
          "k", "x", "y", "i", "c", "d", "a", "b", "seen", "chars")


def _own(lists: tuple[str, ...], ints: tuple[str, ...], strs: tuple[str, ...], *rest: str | None) -> dict[str, str]:
    names = dict(zip(_ROLES, (*lists, *ints, *strs, *rest)))
    return {k: v for k, v in names.items() if v is not None}


def _numbered(stem: str) -> tuple[str, ...]:
    return (stem,) + tuple(f"{stem}{i}" for i in range(2, len(NAME_POOLS["list"]) + 1))


# naming="per_language": each language's own name for each role (shared name -> own name); no name is used
# by two languages, none is a builtin, keyword or method the templates call, and none contains "_"-joined
# words a function name could be (function names are two words or more from describe.py's vocabulary).
# Perl keeps `$_`, `$a` and `$b` (its element and sort variables): they are the language's, not a choice.
OWN_NAMES: dict[str, dict[str, str]] = {
    "python": _own(("numbers", "others", "values", "outputs", "results", "pieces", "groups"),
                   ("amount", "total", "result", "size", "score", "tally", "quantity"),
                   ("text", "other_text", "word", "phrase", "label", "chunk", "token"),
                   "limit", "element", "extra", "idx", "char", "digit", "left", "right", "seen", "letters"),
    "javascript": _own(("arr", "otherArr", "mappedArr", "nextArr", "tmpArr", "workArr", "outArr"),
                       ("num", "nextNum", "resNum", "tmpNum", "workNum", "outNum", "lastNum"),
                       ("inputStr", "otherStr", "nextStr", "tmpStr", "workStr", "outStr", "lastStr"),
                       "factor", "el", "extraEl", "pos", "ch", "dig", "lhs", "rhs", "seenSet", "charList"),
    "ruby": _own(_numbered("ary"), _numbered("cnt"), _numbered("st"),
                 "lim", "v", "w", "ix", "cc", "dg", "aa", "bb", "sn", "cs"),
    "php": _own(("items", "rows", "data", "batch", "pool", "stack", "queue"), _numbered("qty"), _numbered("src"),
                "kval", "item", "elem", "ind", "letter", "fig", "first", "second", "visited", "symbols"),
    "lua": _own(_numbered("tbl"), _numbered("acc"), _numbered("txt"),
                "mul", "val", "elt", "ii", "chr", "dgt", "fst", "snd", "done", "glyphs"),
    "perl": _own(("vals", "lst", "buf", "outs", "res", "seq", "wrk"), _numbered("tot"), _numbered("line"),
                 "kk", None, None, None, None, None, None, None, None, None),
}


def check_naming(naming: str) -> str:
    if naming not in NAMINGS:
        raise ValueError(f"unknown naming {naming!r}; known: {', '.join(NAMINGS)}")
    return naming


# Renaming a rendered line: string literals (and JavaScript's regex literals, which follow "(") are copied
# as they are; PHP and Perl variables are the names after a sigil; elsewhere an identifier is renamed
# unless it follows a single "." (a method or field: Ruby's `.chars`) or, in Lua, a ":" (a method call).
_LEX = re.compile(r'(?P<lit>"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\')|(?P<id>[A-Za-z_]\w*)|(?P<num>\d\w*)')
_LEX_JS = re.compile(r'(?P<lit>"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|(?<=\()/(?:\\.|[^/\\\n])+/[a-z]*)'
                     r'|(?P<id>[A-Za-z_]\w*)|(?P<num>\d\w*)')
_SIGIL = re.compile(r"(?<=[$@])[A-Za-z_]\w*")


def rename_code(lang: str, code: str) -> str:
    """`code` (a signature line or body rendered with the shared names) with `lang`'s own names."""
    names = OWN_NAMES[check_lang(lang)]
    if lang in ("php", "perl"):
        return _SIGIL.sub(lambda m: names.get(m.group(0), m.group(0)), code)

    def sub(m: re.Match) -> str:
        word = m.group("id")
        if word is None or word not in names:
            return m.group(0)
        i = m.start()
        if i and code[i - 1] == "." and not (i > 1 and code[i - 2] == "."):
            return word
        if lang == "lua" and i and code[i - 1] == ":":
            return word
        return names[word]
    return (_LEX_JS if lang == "javascript" else _LEX).sub(sub, code)


_QUOTED_OR_WORD = re.compile(r'"[^"]*"|\b\w+\b')


def rename_prose(lang: str, text: str) -> str:
    """A description with the parameters (xs, ys, s, t, n, k) under `lang`'s own names; quoted words
    (`append "s"`) and every other word are kept."""
    names = OWN_NAMES[check_lang(lang)]
    params = {"xs", "ys", "s", "t", "n", "k"}
    return _QUOTED_OR_WORD.sub(lambda m: names[m.group(0)] if m.group(0) in params else m.group(0), text)


def fn_name(lang: str, snake: str) -> str:
    if lang == "javascript":
        head, *rest = snake.split("_")
        return head + "".join(w[:1].upper() + w[1:] for w in rest)
    return snake


# ---- literals -----------------------------------------------------------------------------------

_SAFE_STR = re.compile(r"^[A-Za-z0-9,\-]*$")


def literal(lang: str, v) -> str:
    if isinstance(v, bool):
        raise TypeError("booleans are not world values")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        if not _SAFE_STR.match(v):
            raise ValueError(f"string {v!r} has characters the harness does not quote")
        return f'"{v}"'
    if isinstance(v, (tuple, list)):
        inner = ", ".join(literal(lang, x) for x in v)
        return "{" + inner + "}" if lang == "lua" else "[" + inner + "]"
    raise TypeError(f"not a world value: {v!r}")


# ---- prompt -------------------------------------------------------------------------------------

def signature_line(lang: str, name: str, params: tuple[tuple[str, str], ...]) -> str:
    names = [p for p, _ in params]
    fn = fn_name(lang, name)
    if lang == "python":
        return f"def {fn}({', '.join(names)}):"
    if lang == "javascript":
        return f"function {fn}({', '.join(names)}) {{"
    if lang == "ruby":
        return f"def {fn}({', '.join(names)})"
    if lang == "php":
        return f"function {fn}({', '.join('$' + n for n in names)}) {{"
    if lang == "lua":
        return f"local function {fn}({', '.join(names)})"
    return f"sub {fn} {{\n    my ({', '.join('$' + n for n in names)}) = @_;"


def named_signature_line(lang: str, name: str, params: tuple[tuple[str, str], ...], naming: str = "shared") -> str:
    """`signature_line` under `naming`."""
    line = signature_line(lang, name, params)
    return line if check_naming(naming) == "shared" else rename_code(lang, line)


def prompt(lang: str, description: str, name: str, params: tuple[tuple[str, str], ...],
           naming: str = "shared", describe: bool = True) -> str:
    """Tag line, description comment (left out when not `describe`: a program shown beside its
    translation, whose description was given once) and signature; no trailing newline."""
    st = STYLES[check_lang(lang)]
    if check_naming(naming) != "shared":
        description = rename_prose(lang, description)
    described = [f"{st.comment} {description}"] if describe else []
    lines = [*st.head_first, f"{st.comment} language: {lang}", *st.preamble, *described,
             named_signature_line(lang, name, params, naming)]
    return "\n".join(lines)


# ---- body ---------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template {template!r} needs {{{key}}}")
        return values[key]
    return _PLACEHOLDER.sub(sub, template)


def _var(lang: str, name: str, typ: str, is_param: bool) -> str:
    if lang == "php":
        return "$" + name
    if lang == "perl":
        if typ == "list":
            return "@$" + name if is_param else "@" + name
        return "$" + name
    return name


def _const(lang: str, c) -> str:
    if c == "k":
        return "$k" if lang in ("php", "perl") else "k"
    return str(c)


def _render_spec(lang: str, spec: tuple, table: dict, operand: str) -> str:
    item = table[spec[0]]
    consts = spec[1:]
    vals = {"x": operand}
    if len(consts) == 1:
        vals["c"] = _const(lang, consts[0])
    elif len(consts) == 2:
        vals["lo"], vals["hi"] = _const(lang, consts[0]), _const(lang, consts[1])
    return _fill(item.code[lang], vals)


def _decl(lang: str, name: str, typ: str, expr: str) -> str:
    return {"python": f"{name} = {expr}", "javascript": f"const {name} = {expr};", "ruby": f"{name} = {expr}",
            "php": f"${name} = {expr};", "lua": f"local {name} = {expr}",
            "perl": f"my @{name} = {expr};" if typ == "list" else f"my ${name} = {expr};"}[lang]


def _return(lang: str, expr: str, typ: str) -> str:
    if lang == "ruby":
        return expr
    if lang == "perl" and typ == "list":
        return f"return [{expr}];"
    return f"return {expr};" if lang in ("javascript", "php", "perl") else f"return {expr}"


def _return_var(lang: str, name: str, typ: str) -> str:
    return {"python": f"return {name}", "lua": f"return {name}", "php": f"return ${name};",
            "javascript": f"return {name};", "ruby": name,
            "perl": f"return \\@{name};" if typ == "list" else f"return ${name};"}[lang]


class _Names:
    def __init__(self, params: tuple[tuple[str, str], ...]):
        self.used = {p for p, _ in params}

    def fresh(self, typ: str) -> str:
        for n in NAME_POOLS[typ]:
            if n not in self.used:
                self.used.add(n)
                return n
        raise RuntimeError(f"out of {typ} variable names")


def body_lines(lang: str, pipe: Pipeline) -> list[str]:
    """The function body, one level of indentation, without the closing line."""
    st = STYLES[check_lang(lang)]
    names = _Names(pipe.params)
    pname, ptype = pipe.params[0]
    cur = (pname, ptype, True)
    lines: list[str] = []
    for i, s in enumerate(pipe.stages):
        prim = PRIMS[s.prim]
        last = i == pipe.depth - 1
        out = names.fresh(prim.out_t)
        v = _var(lang, *cur)
        vals = _stage_values(lang, s, v, out)
        code = prim.code[lang]
        if isinstance(code, tuple):
            lines += [_fill(line, vals) for line in code]
            if last:
                lines.append(_return_var(lang, out, prim.out_t))
        else:
            expr = _fill(code, vals)
            lines.append(_return(lang, expr, prim.out_t) if last else _decl(lang, out, prim.out_t, expr))
        cur = (out, prim.out_t, False)
    return [st.indent + line.replace("\t", st.indent) for line in lines]


def _stage_values(lang: str, s: Stage, v: str, out: str) -> dict[str, str]:
    prim = PRIMS[s.prim]
    vals = {"v": v, "o": out}
    operand = v if prim.in_t == "int" else ELEM[lang]
    if s.op:
        vals["f"] = _render_spec(lang, s.op, OPS, operand)
    if s.pred:
        vals["p"] = _render_spec(lang, s.pred, PREDS, operand)
    for slot, value in zip(prim.args, s.args):
        if slot == "c":
            vals["c"], vals["c1"] = str(value), str(value + 1)
        elif slot == "w":
            vals["w"] = literal(lang, value)
        else:
            vals[slot] = value
    return vals


def solution(lang: str, pipe: Pipeline, naming: str = "shared") -> str:
    st = STYLES[check_lang(lang)]
    body = body_lines(lang, pipe)
    if check_naming(naming) != "shared":
        body = [rename_code(lang, line) for line in body]
    lines = body + ([st.closing] if st.closing else [])
    return "\n" + "\n".join(lines) + "\n"


# ---- harness ------------------------------------------------------------------------------------

# The prelude of every world program: one strict `check(got, want, i)`, built before the completion can
# run, from functions captured at that moment. It accepts exactly the expected type and value (an int
# is not a str, a bool or a float; a list is a plain list of the language's own array type: no
# subclass, blessed or tied array, table with a metatable, proxy or accessor) and never calls a method
# of the program's values. A failed check writes "test case N did not pass: got G, want W" to stderr
# and ends the process at once through a captured exit, so no overridden raise/die/error, exit hook or
# finaliser can let the program go on to the seal's epilogue. The tests take `check` into a binding the
# completion cannot reach or rebind (a default argument, a block parameter, a local declared after it,
# a constant or a function PHP cannot redeclare) before the first call of the completion. In Perl the
# prelude captures at compile time (before a completion's BEGIN blocks) and assigns at run time (after
# them).
_HELPERS = {
    "python": """\
def __psft_strict():
    import os, sys
    _type, _len, _repr, _range, _int, _str, _list = type, len, repr, range, int, str, list
    _object_repr, _write, _exit, _out = object.__repr__, os.write, os._exit, sys.stdout

    def same(got, want):
        t = _type(want)
        if _type(got) is not t:
            return False
        if t is _list:
            n = _len(want)
            if _len(got) != n:
                return False
            for k in _range(n):
                if not same(got[k], want[k]):
                    return False
            return True
        return got == want

    def show(v):
        t = _type(v)
        if t is _int or t is _str:
            return _repr(v)
        if t is _list:
            return "[" + ", ".join([show(x) for x in v]) + "]"
        return _object_repr(v)

    def check(got, want, case):
        try:
            if same(got, want):
                return
        except BaseException:
            pass
        try:
            msg = "test case %d did not pass: got %s, want %s\\n" % (case, show(got), show(want))
        except BaseException:
            msg = "test case %d did not pass: got a value that cannot be shown\\n" % case
        try:
            _out.flush()
        except BaseException:
            pass
        _write(2, msg.encode("utf-8", "backslashreplace"))
        _exit(1)
    return check


check = __psft_strict()
del __psft_strict

""",
    "javascript": """\
const check = (() => {
  "use strict";
  const isArray = Array.isArray, getProto = Object.getPrototypeOf, ArrayProto = Array.prototype;
  const own = Object.getOwnPropertyDescriptor, keys = Reflect.ownKeys, hasOwn = Object.hasOwn;
  const apply = Reflect.apply, join = Array.prototype.join, stringify = JSON.stringify;
  const proc = process, exit = process.exit, err = process.stderr, write = process.stderr.write;
  const plain = (v) => typeof v === "object" && v !== null && isArray(v) && getProto(v) === ArrayProto;
  const same = (got, want) => {
    if (typeof want === "number" || typeof want === "string") return typeof got === typeof want && got === want;
    if (!plain(got)) return false;
    const n = want.length, len = own(got, "length");
    if (len === undefined || len.value !== n || keys(got).length !== n + 1) return false;
    for (let i = 0; i < n; i++) {
      const d = own(got, i);
      if (d === undefined || !hasOwn(d, "value") || !same(d.value, want[i])) return false;
    }
    return true;
  };
  const show = (v) => {
    if (typeof v === "number" || typeof v === "string") return stringify(v);
    if (plain(v)) {
      const parts = [];
      const n = own(v, "length").value;
      for (let i = 0; i < n; i++) {
        const d = own(v, i);
        parts[i] = d !== undefined && hasOwn(d, "value") ? show(d.value) : "a hole or accessor";
      }
      return "[" + apply(join, parts, [","]) + "]";
    }
    return "a value of type " + typeof v;
  };
  return (got, want, i) => {
    if (same(got, want)) return;
    let msg;
    try { msg = "test case " + i + " did not pass: got " + show(got) + ", want " + show(want) + "\\n"; }
    catch (e) { msg = "test case " + i + " did not pass\\n"; }
    try { apply(write, err, [msg]); } catch (e) { /* the exit below still fails the program */ }
    apply(exit, proc, [1]);
  };
})();

""",
    "ruby": """\
__psft_check = lambda do
  klass = Kernel.instance_method(:class)
  same = BasicObject.instance_method(:equal?)
  ieq = Integer.instance_method(:==)
  seq = String.instance_method(:==)
  asize = Array.instance_method(:size)
  aat = Array.instance_method(:[])
  ilt = Integer.instance_method(:<)
  iadd = Integer.instance_method(:+)
  its = Integer.instance_method(:to_s)
  sins = String.instance_method(:inspect)
  sadd = String.instance_method(:+)
  anys = Kernel.instance_method(:to_s)
  out = STDOUT
  err = STDERR
  write = IO.instance_method(:write)
  flush = IO.instance_method(:flush)
  exit = Process.method(:exit!)
  eq = nil
  eq = lambda do |got, want|
    k = klass.bind_call(want)
    return false unless same.bind_call(klass.bind_call(got), k)
    return ieq.bind_call(got, want) if same.bind_call(k, Integer)
    return seq.bind_call(got, want) if same.bind_call(k, String)
    n = asize.bind_call(want)
    return false unless ieq.bind_call(asize.bind_call(got), n)
    i = 0
    while ilt.bind_call(i, n)
      return false unless eq.call(aat.bind_call(got, i), aat.bind_call(want, i))
      i = iadd.bind_call(i, 1)
    end
    true
  end
  show = nil
  show = lambda do |v|
    k = klass.bind_call(v)
    return its.bind_call(v) if same.bind_call(k, Integer)
    return sins.bind_call(v) if same.bind_call(k, String)
    return anys.bind_call(v) unless same.bind_call(k, Array)
    s = "["
    i = 0
    n = asize.bind_call(v)
    while ilt.bind_call(i, n)
      s = sadd.bind_call(s, ", ") unless ieq.bind_call(i, 0)
      s = sadd.bind_call(s, show.call(aat.bind_call(v, i)))
      i = iadd.bind_call(i, 1)
    end
    sadd.bind_call(s, "]")
  end
  lambda do |got, want, i|
    ok = begin
      eq.call(got, want)
    rescue Exception
      false
    end
    unless ok
      head = sadd.bind_call(sadd.bind_call("test case ", its.bind_call(i)), " did not pass: got ")
      msg = begin
        sadd.bind_call(sadd.bind_call(sadd.bind_call(sadd.bind_call(head, show.call(got)), ", want "), show.call(want)), "\\n")
      rescue Exception
        sadd.bind_call(head, "a value that cannot be shown\\n")
      end
      begin
        flush.bind_call(out)
        write.bind_call(err, msg)
      rescue Exception
        nil
      end
      exit.call(1)
    end
    nil
  end
end.call

""",
    "php": """\
<?php
function check($got, $want, $i) {
    if ($got === $want) {
        return;
    }
    $show = function ($v) use (&$show) {
        if (\\is_int($v) || \\is_string($v)) {
            return \\json_encode($v);
        }
        if (\\is_array($v)) {
            return '[' . \\implode(',', \\array_map($show, $v)) . ']';
        }
        return 'a value of type ' . \\gettype($v);
    };
    \\fflush(\\STDOUT);
    \\fwrite(\\STDERR, "Exception: Test failed: test case $i did not pass: got " . $show($got) . ", want " . $show($want) . "\\n");
    exit(1);
}

""",
    "lua": """\
local __psft_check = (function()
  local type, mtype, rawlen, rawequal, rawget, next = type, math.type, rawlen, rawequal, rawget, next
  local getmt, fmt, concat, exit, pcall = debug.getmetatable, string.format, table.concat, os.exit, pcall
  local out, err = io.stdout, io.stderr
  local write, flush = err.write, out.flush
  local same
  same = function(got, want)
    local t = type(want)
    if type(got) ~= t then return false end
    if t == "table" then
      if getmt(got) ~= nil then return false end
      local n = rawlen(want)
      if rawlen(got) ~= n then return false end
      local keys = 0
      for _ in next, got do keys = keys + 1 end
      if keys ~= n then return false end
      for i = 1, n do
        if not same(rawget(got, i), rawget(want, i)) then return false end
      end
      return true
    end
    if t == "number" and mtype(got) ~= mtype(want) then return false end
    return rawequal(got, want)
  end
  local show
  show = function(v)
    local t = type(v)
    if t == "number" then return mtype(v) == "integer" and fmt("%d", v) or fmt("%.17g", v) end
    if t == "string" then return v end
    if t == "table" and getmt(v) == nil then
      local parts = {}
      for i = 1, rawlen(v) do parts[i] = show(rawget(v, i)) end
      return "{" .. concat(parts, ", ") .. "}"
    end
    return "a " .. t
  end
  return function(got, want, i)
    if same(got, want) then return end
    local ok, msg = pcall(function()
      return "test case " .. fmt("%d", i) .. " did not pass: got " .. show(got) .. ", want " .. show(want) .. "\\n"
    end)
    pcall(flush, out)
    pcall(write, err, ok and msg or ("test case " .. fmt("%d", i) .. " did not pass\\n"))
    exit(1)
  end
end)()
-- The debug library could reach the tests' locals and hooks: the program gets an empty one.
debug = nil
package.loaded.debug = {}

""",
    "perl": """\
my $__psft_check = do { my $check; BEGIN { $check = do {
    no warnings;
    require Scalar::Util;
    require POSIX;
    my ($blessed, $reftype, $exit) = (\\&Scalar::Util::blessed, \\&Scalar::Util::reftype, \\&POSIX::_exit);
    my $plain = sub { my ($v) = @_; ref($v) eq 'ARRAY' && !defined($blessed->($v)) && !CORE::tied(@$v) };
    my $same;
    $same = sub {
        my ($g, $w) = @_;
        if (ref $w) {
            return 0 unless $plain->($g) && @$g == @$w;
            for my $k (0 .. $#$w) {
                return 0 if CORE::tied($g->[$k]);
                return 0 unless $same->($g->[$k], $w->[$k]);
            }
            return 1;
        }
        return defined($g) && !ref($g) && "$g" eq "$w";
    };
    my $show;
    $show = sub {
        my ($v) = @_;
        return 'undef' unless defined $v;
        return "$v" unless ref $v;
        if ($plain->($v)) {
            my @parts;
            for my $k (0 .. $#$v) { push @parts, CORE::tied($v->[$k]) ? 'a tied scalar' : $show->($v->[$k]); }
            return '[' . join(', ', @parts) . ']';
        }
        return (defined($blessed->($v)) ? 'a blessed ' : 'a ') . $reftype->($v) . ' reference';
    };
    sub {
        my ($got, $want, $i) = @_;
        return if $same->($got, $want);
        my $msg = "test case $i did not pass: got " . $show->($got) . ", want " . $show->($want) . "\\n";
        my $old = select(STDOUT); $| = 1; select($old);
        syswrite(STDERR, $msg);
        $exit->(1);
    };
} } $check };

""",
}

# The first line of the tests: where `check` is taken before the completion first runs (see _HELPERS).
_TESTS_OPEN = {
    "python": "def __psft_tests(check=check):",
    "javascript": None, "php": None,
    "ruby": "lambda { |check|",
    "lua": "local check = __psft_check",
    "perl": "my $check = $__psft_check;",
}
_TESTS_CLOSE = {"python": "\n\n__psft_tests()", "ruby": "}.call(__psft_check)"}


def harness(lang: str, name: str, tests) -> str:
    """The tests of a world program: one `check(f(args), want, i)` line per test, where `check` is the
    prelude's (`helpers(lang)`). Nothing in them can end the completion's function early: no `}` in
    Perl, no `end` in Ruby or Lua, no triple quote in Python."""
    fn = fn_name(check_lang(lang), name)
    calls = []
    for i, t in enumerate(tests, 1):
        args = ", ".join(literal(lang, a) for a in t.args)
        call = f"{fn}({args})"
        if lang == "perl":
            call = f"scalar({call})"
        end = ";" if lang in ("javascript", "php", "perl") else ""
        head = "$check->" if lang == "perl" else "check." if lang == "ruby" else "check"
        indent = "    " if lang == "python" else ""
        calls.append(f"{indent}{head}({call}, {literal(lang, t.expected)}, {i}){end}")
    lines = ([_TESTS_OPEN[lang]] if _TESTS_OPEN[lang] else []) + calls + (
        [_TESTS_CLOSE[lang]] if lang in _TESTS_CLOSE else [])
    return "\n".join(lines) + "\n"


def helpers(lang: str) -> str:
    """The trusted prelude of a world program: the strict `check` (see _HELPERS)."""
    return _HELPERS[check_lang(lang)]


# ---- stopping -----------------------------------------------------------------------------------

_STOPS = {
    "python": ("\n\n", "\ndef ", "\n#", "\nprint", "\nassert", "\ncheck("),
    "javascript": ("\n}",), "php": ("\n}",), "perl": ("\n}",),
    "ruby": ("\nend",), "lua": ("\nend",),
}
_PY_END = re.compile(r"\n(?=\S)|\n[ \t]*\n")
_END_LINE = re.compile(r"\nend(?=\s|$)")


def stop(lang: str) -> tuple[str, ...]:
    """Stop strings for generation; any of them ends the function (see `truncate`)."""
    return _STOPS[check_lang(lang)]


def truncate(lang: str, text: str) -> str:
    """Cut a raw generation right after the function's closing line (Python: before the first line that is
    blank or not indented); append the final newline. Idempotent on reference completions."""
    check_lang(lang)
    if lang == "python":
        m = _PY_END.search(text)
        body = text[:m.start()] if m else text
        return body.rstrip() + "\n"
    if lang in ("ruby", "lua"):
        m = _END_LINE.search(text)
        return text[:m.end()] + "\n" if m else text
    i = text.find("\n}")
    return text[:i + 2] + "\n" if i >= 0 else text


def program(lang: str, prompt_text: str, completion: str, harness_text: str) -> str:
    """The sealed program: seal(prompt + truncate(completion), tests, prelude=helpers) (see PROOF in
    evals/languages/base.py), which prints its proof token only after its last test passed. A language
    without a seal gets the unsealed layout: the code, then the helpers, then the tests."""
    code = prompt_text + truncate(lang, completion)
    seal = get_language(lang).seal
    if seal is None:
        return code + helpers(lang).replace("<?php\n", "", 1) + "\n" + harness_text
    return seal(code, harness_text, helpers(lang))
