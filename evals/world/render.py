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
    program    = prompt + truncate(completion) + harness; it exits 0 iff every test passes, else it
                 fails with an assertion-like message that `evals.languages` classifies as FAILED.

The body is one statement per stage (a loop per list stage in Lua), with a fresh variable per stage.
Not for: the meaning of a primitive (`primitives.py`) or running programs (`evals.execution`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

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


def prompt(lang: str, description: str, name: str, params: tuple[tuple[str, str], ...]) -> str:
    st = STYLES[check_lang(lang)]
    lines = [*st.head_first, f"{st.comment} language: {lang}", *st.preamble, f"{st.comment} {description}",
             signature_line(lang, name, params)]
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


def solution(lang: str, pipe: Pipeline) -> str:
    st = STYLES[check_lang(lang)]
    lines = body_lines(lang, pipe) + ([st.closing] if st.closing else [])
    return "\n" + "\n".join(lines) + "\n"


# ---- harness ------------------------------------------------------------------------------------

_HELPERS = {
    "python": '''

def check(got, want, case):
    assert got == want, f"test case {case} did not pass: got {got!r}, want {want!r}"

''',
    "javascript": '''
function check(got, want, i) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`test case ${i} did not pass: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}
''',
    "ruby": '''
def check(got, want, i)
  raise "test case #{i} did not pass: got #{got.inspect}, want #{want.inspect}" unless got == want
end
''',
    "php": '''
function check($got, $want, $i) {
    if ($got !== $want) {
        throw new Exception("Test failed: test case $i did not pass: got " . json_encode($got) . ", want " . json_encode($want));
    }
}
''',
    "lua": '''
local function same(a, b)
  if type(a) == "table" and type(b) == "table" then
    if #a ~= #b then return false end
    for i = 1, #a do
      if not same(a[i], b[i]) then return false end
    end
    return true
  end
  return a == b and math.type(a) == math.type(b)
end

local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for i = 1, #v do parts[i] = show(v[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function check(got, want, i)
  if not same(got, want) then
    error("test case " .. i .. " did not pass: got " .. show(got) .. ", want " .. show(want))
  end
end
''',
    "perl": '''
sub show {
    my ($v) = @_;
    return 'undef' unless defined $v;
    return '[' . join(', ', map { show($_) } @$v) . ']' if ref $v eq 'ARRAY';
    return "$v";
}

sub check {
    my ($got, $want, $i) = @_;
    my ($g, $w) = (show($got), show($want));
    die "test case $i did not pass: got $g, want $w\\n" unless $g eq $w;
}
''',
}


def harness(lang: str, name: str, tests) -> str:
    """Helper functions and one `check(f(args), want, i)` line per test, after the function."""
    fn = fn_name(check_lang(lang), name)
    calls = []
    for i, t in enumerate(tests, 1):
        args = ", ".join(literal(lang, a) for a in t.args)
        call = f"{fn}({args})"
        if lang == "perl":
            call = f"scalar({call})"
        end = ";" if lang in ("javascript", "php", "perl") else ""
        calls.append(f"check({call}, {literal(lang, t.expected)}, {i}){end}")
    return _HELPERS[lang] + "\n" + "\n".join(calls) + "\n"


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
    return prompt_text + truncate(lang, completion) + harness_text
