"""The primitives of the world: what each operation means (its Python semantics, which computes the
expected test outputs), how it reads in English, and how it is written in each of the six languages.

Three tables:
- `OPS`: element arithmetic `int -> int` (multiply by c, add c, square, ...), used inside `map`,
  `map_when` and on plain integers (`arith`);
- `PREDS`: element tests `int -> bool` (greater than c, even, ...), used inside `filter`, `count` and
  `map_when`;
- `PRIMS`: the pipeline stages `T -> U` over the types `int`, `list` (of ints) and `str`, plus head-only
  stages that read two parameters (`list2`, `str2`) or a constrained integer (`nat` >= 1, `count` >= 0).

Semantics are chosen so that all six languages agree without special cases: no division, no modulo
of a negative number except `% 2 == 0`-style tests (which agree everywhere), `max`/`min` of an empty
list is 0, strings are ASCII letters (plus digits, '-' and ',' once numbers are turned into text).
The evaluator raises `Domain` on inputs outside a primitive's domain or on values too large for
every runtime; the test generator then picks other inputs.

Code templates: a string is an expression; a tuple of lines is a block of statements that must define
the output variable `{o}` ("\\t" is one indentation level). Placeholders: `{v}` the input value (a
variable, with the language's sigils and dereferencing), `{o}` the output variable name, `{f}` the
rendered op, `{p}` the rendered predicate, `{c}` `{c1}` (c + 1) constants, `{w}` a quoted word,
`{a}` `{b}` raw characters; in op/predicate templates `{x}` is the operand and `{c}`, `{lo}`, `{hi}`
the constants. Not for: sampling compositions (`grammar.py`) or assembling functions (`render.py`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from .langs import LANGS

# Largest magnitude of any integer a program may produce (exact in JavaScript doubles, Lua/PHP/Perl
# 64-bit integers); longest list and string.
INT_LIMIT = 10**9
MAX_LIST = 24
MAX_STR = 40
VOWELS = "aeiouAEIOU"
WORDS = ("ab", "xy", "no", "ok", "hi", "yo", "z", "q")
CHARS_FROM = ("a", "e", "i", "o", "s", "t", "r", "n")
CHARS_TO = ("x", "y", "z", "u", "b", "k")


class Domain(ValueError):
    """An input outside a primitive's domain (or a value too large for some runtime)."""


def _langs(py: str | tuple, js: str | tuple, rb: str | tuple, php: str | tuple, lua: str | tuple,
           pl: str | tuple) -> dict[str, Any]:
    return dict(zip(LANGS, (py, js, rb, php, lua, pl)))


def _same(t: str) -> dict[str, str]:
    return {lang: t for lang in LANGS}


@dataclass(frozen=True)
class Op:
    """Element arithmetic `x -> int` with 0 or 1 constant."""

    name: str
    phrase: str          # English with {t} (the target, e.g. "each element of xs") and {c}
    word: str            # for function names
    fn: Callable[..., int]
    code: dict[str, str]  # per language, with {x} and {c}
    consts: tuple[int, ...] = ()   # choices for c; empty: no constant
    kable: bool = False  # may the constant be the parameter k?
    weight: float = 1.0
    bind: Callable[..., Callable[[int], int]] | None = None  # fast `fn` with the constant bound (tested equal)


@dataclass(frozen=True)
class Pred:
    """Element test `x -> bool` with 0, 1 ({c}) or 2 ({lo}, {hi}) constants."""

    name: str
    phrase: str          # English after "that are": "greater than {c}"
    word: str
    fn: Callable[..., bool]
    code: dict[str, str]
    consts: tuple = ()   # choices: ints for {c}, or (lo, hi) pairs
    kable: bool = False
    weight: float = 1.0
    bind: Callable[..., Callable[[int], bool]] | None = None  # fast `fn` with the constants bound (tested equal)


@dataclass(frozen=True)
class Prim:
    """A pipeline stage `in_t -> out_t`."""

    name: str
    in_t: str
    out_t: str
    kind: str            # "transform" (a verb phrase) or "value" (a noun phrase: "the sum of xs")
    phrase: str          # English with {obj}, {of}, {op}, {pred}, {c}, {w}, {a}, {b}
    word: str            # for function names; {op}/{pred} insert the op's/pred's word
    fn: Callable[..., Any]  # fn(value, a) with a.f (op), a.p (pred), a.args (constants)
    code: dict[str, Any]
    uses_op: bool = False
    uses_pred: bool = False
    args: tuple[str, ...] = ()   # constant slots: "c", "w", "a", "b"
    choices: dict[str, tuple] = field(default_factory=dict)
    target: str = ""     # English target for the op ({t}), e.g. "each element{of}"
    weight: float = 1.0
    grows: bool = True   # may the output be larger than the input (then it is checked against the limits)

    @property
    def head_only(self) -> bool:
        return self.in_t in HEAD_TYPES


HEAD_TYPES = ("nat", "count", "list2", "str2")
VALUE_TYPES = ("int", "list", "str")


# ---- element arithmetic -------------------------------------------------------------------------

OPS: dict[str, Op] = {o.name: o for o in [
    Op("mul", "multiply {t} by {c}", "scaled", lambda x, c: x * c, _same("{x} * {c}"),
       consts=(2, 3, 4, 5, 10), kable=True, weight=2.0, bind=lambda c: c.__mul__),
    Op("add", "add {c} to {t}", "shifted", lambda x, c: x + c, _same("{x} + {c}"),
       consts=tuple(range(1, 10)), kable=True, weight=2.0, bind=lambda c: c.__add__),
    Op("sub", "subtract {c} from {t}", "lowered", lambda x, c: x - c, _same("{x} - {c}"),
       consts=tuple(range(1, 10)), kable=True, weight=1.5, bind=lambda c: (-c).__add__),
    Op("square", "square {t}", "squared", lambda x: x * x, _same("{x} * {x}")),
    Op("neg", "negate {t}", "negated", lambda x: -x, _same("-{x}"), weight=0.7),
    Op("abs", "replace {t} by its absolute value", "abs", abs,
       _langs("abs({x})", "Math.abs({x})", "{x}.abs", "abs({x})", "math.abs({x})", "abs({x})"), weight=0.7),
    Op("min", "cap {t} at {c}", "capped", min,
       _langs("min({x}, {c})", "Math.min({x}, {c})", "[{x}, {c}].min", "min({x}, {c})", "math.min({x}, {c})",
              "min({x}, {c})"), consts=tuple(range(0, 7)), kable=True, weight=0.8, bind=lambda c: partial(min, c)),
    Op("max", "raise {t} to at least {c}", "floored", max,
       _langs("max({x}, {c})", "Math.max({x}, {c})", "[{x}, {c}].max", "max({x}, {c})", "math.max({x}, {c})",
              "max({x}, {c})"), consts=tuple(range(0, 7)), kable=True, weight=0.8, bind=lambda c: partial(max, c)),
    Op("last_digit", "replace {t} by its last digit", "last_digit", lambda x: abs(x) % 10,
       _langs("abs({x}) % 10", "Math.abs({x}) % 10", "{x}.abs % 10", "abs({x}) % 10", "math.abs({x}) % 10",
              "abs({x}) % 10"), weight=0.7),
]}

# ---- element tests ------------------------------------------------------------------------------

_BETWEEN = tuple((lo, hi) for lo in range(-2, 5) for hi in range(lo + 2, lo + 6))

PREDS: dict[str, Pred] = {p.name: p for p in [
    Pred("gt", "greater than {c}", "above", lambda x, c: x > c, _same("{x} > {c}"),
         consts=tuple(range(-2, 7)), kable=True, weight=2.0, bind=lambda c: c.__lt__),
    Pred("lt", "less than {c}", "below", lambda x, c: x < c, _same("{x} < {c}"),
         consts=tuple(range(-1, 8)), kable=True, weight=1.5, bind=lambda c: c.__gt__),
    Pred("eq", "equal to {c}", "equal", lambda x, c: x == c,
         _langs("{x} == {c}", "{x} === {c}", "{x} == {c}", "{x} === {c}", "{x} == {c}", "{x} == {c}"),
         consts=tuple(range(0, 6)), weight=0.5, bind=lambda c: c.__eq__),
    Pred("ne", "different from {c}", "other", lambda x, c: x != c,
         _langs("{x} != {c}", "{x} !== {c}", "{x} != {c}", "{x} !== {c}", "{x} ~= {c}", "{x} != {c}"),
         consts=tuple(range(0, 6)), weight=0.5, bind=lambda c: c.__ne__),
    Pred("even", "even", "evens", lambda x: x % 2 == 0,
         _langs("{x} % 2 == 0", "{x} % 2 === 0", "{x}.even?", "{x} % 2 === 0", "{x} % 2 == 0", "{x} % 2 == 0"),
         weight=1.5),
    # x % 2 is 1 for odd negatives in Python, Lua and Perl, but -1 in JavaScript and PHP.
    Pred("odd", "odd", "odds", lambda x: x % 2 == 1,
         _langs("{x} % 2 == 1", "{x} % 2 !== 0", "{x}.odd?", "{x} % 2 !== 0", "{x} % 2 == 1", "{x} % 2 == 1")),
    Pred("pos", "positive", "positives", lambda x: x > 0,
         _langs("{x} > 0", "{x} > 0", "{x}.positive?", "{x} > 0", "{x} > 0", "{x} > 0")),
    Pred("neg", "negative", "negatives", lambda x: x < 0,
         _langs("{x} < 0", "{x} < 0", "{x}.negative?", "{x} < 0", "{x} < 0", "{x} < 0"), weight=0.8),
    Pred("div", "divisible by {c}", "multiples", lambda x, c: x % c == 0,
         _langs("{x} % {c} == 0", "{x} % {c} === 0", "{x} % {c} == 0", "{x} % {c} === 0", "{x} % {c} == 0",
                "{x} % {c} == 0"), consts=(3, 4, 5)),
    Pred("between", "between {lo} and {hi}", "in_range", lambda x, lo, hi: lo <= x <= hi,
         _langs("{lo} <= {x} <= {hi}", "{x} >= {lo} && {x} <= {hi}", "{x}.between?({lo}, {hi})",
                "{x} >= {lo} && {x} <= {hi}", "{x} >= {lo} and {x} <= {hi}", "{x} >= {lo} && {x} <= {hi}"),
         consts=_BETWEEN, weight=0.8),
]}


# ---- Python semantics of the stages --------------------------------------------------------------

def _digits(n: int) -> tuple[int, ...]:
    return tuple(int(d) for d in str(abs(n)))


def _range(n: int) -> tuple[int, ...]:
    if not 1 <= n <= 12:
        raise Domain("range needs 1 <= n <= 12")
    return tuple(range(1, n + 1))


def _pattern(n: int, w: str) -> str:
    if not 0 <= n <= 8:
        raise Domain("repeat count must be in 0..8")
    return w * n


def _zip(xs: tuple, ys: tuple, fn: Callable[[int, int], int]) -> tuple[int, ...]:
    if len(xs) != len(ys):
        raise Domain("element-wise operations need equal lengths")
    return tuple(fn(x, y) for x, y in zip(xs, ys))


# ---- the stages ---------------------------------------------------------------------------------

_LUA_LOOP = "for _, x in ipairs({v}) do"

PRIMS: dict[str, Prim] = {p.name: p for p in [
    # list -> list
    Prim("map", "list", "list", "transform", "{op}", "{op}", lambda v, a: tuple(map(a.f, v)),
         _langs("[{f} for x in {v}]", "{v}.map((x) => {f})", "{v}.map { |x| {f} }", "array_map(fn($x) => {f}, {v})",
                ("local {o} = {}", _LUA_LOOP, "\t{o}[#{o} + 1] = {f}", "end"), "map { {f} } {v}"),
         uses_op=True, target="each element{of}", weight=3.0),
    Prim("filter", "list", "list", "transform", "keep the elements{of} that are {pred}", "{pred}",
         lambda v, a: tuple(filter(a.p, v)),
         _langs("[x for x in {v} if {p}]", "{v}.filter((x) => {p})", "{v}.select { |x| {p} }",
                "array_values(array_filter({v}, fn($x) => {p}))",
                ("local {o} = {}", _LUA_LOOP, "\tif {p} then {o}[#{o} + 1] = x end", "end"),
                "grep { {p} } {v}"),
         uses_pred=True, weight=3.0),
    Prim("map_when", "list", "list", "transform", "{op}, leaving the others unchanged", "{op}_{pred}",
         lambda v, a: tuple(a.f(x) if a.p(x) else x for x in v),
         _langs("[{f} if {p} else x for x in {v}]", "{v}.map((x) => ({p} ? {f} : x))",
                "{v}.map { |x| {p} ? {f} : x }", "array_map(fn($x) => {p} ? {f} : $x, {v})",
                ("local {o} = {}", _LUA_LOOP, "\t{o}[#{o} + 1] = {p} and {f} or x", "end"),
                "map { {p} ? {f} : $_ } {v}"),
         uses_op=True, uses_pred=True, target="each element{of} that is {pred}", weight=1.5),
    Prim("reverse", "list", "list", "transform", "reverse {obj}", "reversed", lambda v, a: v[::-1],
         _langs("{v}[::-1]", "[...{v}].reverse()", "{v}.reverse", "array_reverse({v})",
                ("local {o} = {}", "for i = #{v}, 1, -1 do", "\t{o}[#{o} + 1] = {v}[i]", "end"), "reverse {v}"),
         weight=0.6),
    Prim("sort", "list", "list", "transform", "sort {obj} in ascending order", "sorted",
         lambda v, a: tuple(sorted(v)),
         _langs("sorted({v})", "[...{v}].sort((a, b) => a - b)", "{v}.sort", ("${o} = {v};", "sort(${o});"),
                ("local {o} = {table.unpack({v})}", "table.sort({o})"), "sort { $a <=> $b } {v}"),
         weight=0.8),
    Prim("sort_desc", "list", "list", "transform", "sort {obj} in descending order", "sorted_desc",
         lambda v, a: tuple(sorted(v, reverse=True)),
         _langs("sorted({v}, reverse=True)", "[...{v}].sort((a, b) => b - a)", "{v}.sort.reverse",
                ("${o} = {v};", "rsort(${o});"),
                ("local {o} = {table.unpack({v})}", "table.sort({o}, function(a, b) return a > b end)"),
                "sort { $b <=> $a } {v}"),
         weight=0.5),
    Prim("take", "list", "list", "transform", "keep the first {c} elements{of}", "head",
         lambda v, a: v[:a.args[0]],
         _langs("{v}[:{c}]", "{v}.slice(0, {c})", "{v}.first({c})", "array_slice({v}, 0, {c})",
                ("local {o} = {}", "for i = 1, math.min({c}, #{v}) do", "\t{o}[#{o} + 1] = {v}[i]", "end"),
                "head({c}, {v})"),
         args=("c",), choices={"c": (1, 2, 3, 4)}, weight=0.6),
    Prim("drop", "list", "list", "transform", "drop the first {c} elements{of}", "tail",
         lambda v, a: v[a.args[0]:],
         _langs("{v}[{c}:]", "{v}.slice({c})", "{v}.drop({c})", "array_slice({v}, {c})",
                ("local {o} = {}", "for i = {c1}, #{v} do", "\t{o}[#{o} + 1] = {v}[i]", "end"),
                "tail(-{c}, {v})"),
         args=("c",), choices={"c": (1, 2, 3)}, weight=0.5),
    Prim("unique", "list", "list", "transform",
         "remove repeated elements{of}, keeping the first occurrence of each", "unique",
         lambda v, a: tuple(dict.fromkeys(v)),
         _langs("list(dict.fromkeys({v}))", "[...new Set({v})]", "{v}.uniq", "array_values(array_unique({v}))",
                ("local {o}, seen = {}, {}", _LUA_LOOP, "\tif not seen[x] then", "\t\tseen[x] = true",
                 "\t\t{o}[#{o} + 1] = x", "\tend", "end"),
                "uniq {v}"),
         weight=0.6),
    # list -> int
    Prim("sum", "list", "int", "value", "the sum{of}", "sum", lambda v, a: sum(v),
         _langs("sum({v})", "{v}.reduce((a, b) => a + b, 0)", "{v}.sum", "array_sum({v})",
                ("local {o} = 0", _LUA_LOOP, "\t{o} = {o} + x", "end"), "sum0({v})"),
         weight=2.0),
    Prim("product", "list", "int", "value", "the product{of}", "product", lambda v, a: math.prod(v),
         _langs(("{o} = 1", "for x in {v}:", "\t{o} *= x"), "{v}.reduce((a, b) => a * b, 1)", "{v}.reduce(1, :*)",
                "array_product({v})", ("local {o} = 1", _LUA_LOOP, "\t{o} = {o} * x", "end"), "product({v})"),
         weight=0.6),
    Prim("max", "list", "int", "value", "the largest element{of} (0 if there is none)", "max",
         lambda v, a: max(v, default=0),
         _langs("max({v}, default=0)", "{v}.length ? Math.max(...{v}) : 0", "{v}.max || 0", "{v} ? max({v}) : 0",
                ("local {o} = {v}[1] or 0", _LUA_LOOP, "\t{o} = math.max({o}, x)", "end"), "max({v}) // 0")),
    Prim("min", "list", "int", "value", "the smallest element{of} (0 if there is none)", "min",
         lambda v, a: min(v, default=0),
         _langs("min({v}, default=0)", "{v}.length ? Math.min(...{v}) : 0", "{v}.min || 0", "{v} ? min({v}) : 0",
                ("local {o} = {v}[1] or 0", _LUA_LOOP, "\t{o} = math.min({o}, x)", "end"), "min({v}) // 0")),
    Prim("length", "list", "int", "value", "the number of elements{of}", "length", lambda v, a: len(v),
         _langs("len({v})", "{v}.length", "{v}.length", "count({v})", "#{v}", "scalar({v})"), weight=0.6),
    Prim("count", "list", "int", "value", "the number of elements{of} that are {pred}", "count_{pred}",
         lambda v, a: sum(1 for x in v if a.p(x)),
         _langs("sum(1 for x in {v} if {p})", "{v}.filter((x) => {p}).length", "{v}.count { |x| {p} }",
                "count(array_filter({v}, fn($x) => {p}))",
                ("local {o} = 0", _LUA_LOOP, "\tif {p} then {o} = {o} + 1 end", "end"), "scalar(grep { {p} } {v})"),
         uses_pred=True, weight=1.5),
    # list -> str
    Prim("join", "list", "str", "value", "the elements{of} joined by commas", "joined",
         lambda v, a: ",".join(str(x) for x in v),
         _langs('",".join(str(x) for x in {v})', '{v}.join(",")', '{v}.join(",")', 'implode(",", {v})',
                'table.concat({v}, ",")', 'join(",", {v})'),
         weight=0.5),
    # int -> int / list / str
    Prim("arith", "int", "int", "transform", "{op}", "{op}", lambda v, a: a.f(v), _same("{f}"),
         uses_op=True, target="{obj}", weight=4.0),
    Prim("digit_sum", "int", "int", "value", "the sum of the digits of {obj}", "digit_sum",
         lambda v, a: sum(_digits(v)),
         _langs("sum(int(d) for d in str(abs({v})))",
                'String(Math.abs({v})).split("").reduce((a, d) => a + Number(d), 0)', "{v}.abs.digits.sum",
                "array_sum(str_split((string) abs({v})))",
                ("local {o} = 0", 'for d in tostring(math.abs({v})):gmatch("%d") do', "\t{o} = {o} + tonumber(d)",
                 "end"),
                "sum0(split(//, abs({v})))"),
         weight=0.6),
    Prim("digits", "int", "list", "value", "the list of the digits of {obj}", "digits", lambda v, a: _digits(v),
         _langs("[int(d) for d in str(abs({v}))]", 'String(Math.abs({v})).split("").map(Number)',
                "{v}.abs.digits.reverse", 'array_map("intval", str_split((string) abs({v})))',
                ("local {o} = {}", 'for d in tostring(math.abs({v})):gmatch("%d") do',
                 "\t{o}[#{o} + 1] = tonumber(d)", "end"),
                "split(//, abs({v}))"),
         weight=0.6),
    Prim("to_str", "int", "str", "transform", "convert {obj} to a string", "text", lambda v, a: str(v),
         _langs("str({v})", "String({v})", "{v}.to_s", "(string) {v}", "tostring({v})", '"{v}"'), weight=0.5),
    # heads
    Prim("range", "nat", "list", "value", "the list of the numbers from 1 to n", "range", lambda v, a: _range(v),
         _langs("list(range(1, {v} + 1))", "Array.from({ length: {v} }, (_, i) => i + 1)", "(1..{v}).to_a",
                "range(1, {v})", ("local {o} = {}", "for i = 1, {v} do", "\t{o}[i] = i", "end"), "1 .. {v}")),
    Prim("pattern", "count", "str", "value", "{w} repeated n times", "pattern",
         lambda v, a: _pattern(v, a.args[0]),
         _langs("{w} * {v}", "{w}.repeat({v})", "{w} * {v}", "str_repeat({w}, {v})", "string.rep({w}, {v})",
                "{w} x {v}"),
         args=("w",), choices={"w": WORDS}),
    Prim("zip_add", "list2", "list", "value", "the element-wise sums of xs and ys", "pair_sums",
         lambda v, a: _zip(v[0], v[1], lambda x, y: x + y),
         _langs("[a + b for a, b in zip(xs, ys)]", "xs.map((x, i) => x + ys[i])", "xs.zip(ys).map { |a, b| a + b }",
                "array_map(fn($a, $b) => $a + $b, $xs, $ys)",
                ("local {o} = {}", "for i = 1, #xs do", "\t{o}[i] = xs[i] + ys[i]", "end"),
                "map { $xs->[$_] + $ys->[$_] } 0 .. $#$xs")),
    Prim("zip_mul", "list2", "list", "value", "the element-wise products of xs and ys", "pair_products",
         lambda v, a: _zip(v[0], v[1], lambda x, y: x * y),
         _langs("[a * b for a, b in zip(xs, ys)]", "xs.map((x, i) => x * ys[i])", "xs.zip(ys).map { |a, b| a * b }",
                "array_map(fn($a, $b) => $a * $b, $xs, $ys)",
                ("local {o} = {}", "for i = 1, #xs do", "\t{o}[i] = xs[i] * ys[i]", "end"),
                "map { $xs->[$_] * $ys->[$_] } 0 .. $#$xs"),
         weight=0.7),
    Prim("zip_sub", "list2", "list", "value", "the element-wise differences of xs minus ys", "pair_diffs",
         lambda v, a: _zip(v[0], v[1], lambda x, y: x - y),
         _langs("[a - b for a, b in zip(xs, ys)]", "xs.map((x, i) => x - ys[i])", "xs.zip(ys).map { |a, b| a - b }",
                "array_map(fn($a, $b) => $a - $b, $xs, $ys)",
                ("local {o} = {}", "for i = 1, #xs do", "\t{o}[i] = xs[i] - ys[i]", "end"),
                "map { $xs->[$_] - $ys->[$_] } 0 .. $#$xs"),
         weight=0.7),
    Prim("concat", "list2", "list", "value", "xs followed by ys", "concat", lambda v, a: v[0] + v[1],
         _langs("xs + ys", "[...xs, ...ys]", "xs + ys", "array_merge($xs, $ys)",
                ("local {o} = {table.unpack(xs)}", "for _, y in ipairs(ys) do", "\t{o}[#{o} + 1] = y", "end"),
                "(@$xs, @$ys)")),
    Prim("str_concat", "str2", "str", "value", "s followed by t", "concat", lambda v, a: v[0] + v[1],
         _langs("s + t", "s + t", "s + t", "$s . $t", "s .. t", "$s . $t")),
    # str -> str
    Prim("str_reverse", "str", "str", "transform", "reverse {obj}", "reversed", lambda v, a: v[::-1],
         _langs("{v}[::-1]", '[...{v}].reverse().join("")', "{v}.reverse", "strrev({v})", "{v}:reverse()",
                "scalar reverse({v})")),
    Prim("upper", "str", "str", "transform", "convert {obj} to upper case", "upper", lambda v, a: v.upper(),
         _langs("{v}.upper()", "{v}.toUpperCase()", "{v}.upcase", "strtoupper({v})", "{v}:upper()", "uc({v})")),
    Prim("lower", "str", "str", "transform", "convert {obj} to lower case", "lower", lambda v, a: v.lower(),
         _langs("{v}.lower()", "{v}.toLowerCase()", "{v}.downcase", "strtolower({v})", "{v}:lower()", "lc({v})"),
         weight=0.7),
    Prim("capitalize", "str", "str", "transform", "capitalize {obj} (first letter upper case, the rest lower case)",
         "capitalized", lambda v, a: v.capitalize(),
         _langs("{v}.capitalize()", "{v}.charAt(0).toUpperCase() + {v}.slice(1).toLowerCase()", "{v}.capitalize",
                "ucfirst(strtolower({v}))", "{v}:sub(1, 1):upper() .. {v}:sub(2):lower()", "ucfirst(lc({v}))"),
         weight=0.7),
    Prim("str_repeat", "str", "str", "transform", "repeat {obj} {c} times", "repeated",
         lambda v, a: v * a.args[0],
         _langs("{v} * {c}", "{v}.repeat({c})", "{v} * {c}", "str_repeat({v}, {c})", "{v}:rep({c})", "{v} x {c}"),
         args=("c",), choices={"c": (2, 3)}, weight=0.7),
    Prim("append", "str", "str", "transform", "append {w} to {obj}", "suffixed", lambda v, a: v + a.args[0],
         _langs("{v} + {w}", "{v} + {w}", "{v} + {w}", "{v} . {w}", "{v} .. {w}", "{v} . {w}"),
         args=("w",), choices={"w": WORDS}, weight=0.8),
    Prim("prepend", "str", "str", "transform", "prepend {w} to {obj}", "prefixed", lambda v, a: a.args[0] + v,
         _langs("{w} + {v}", "{w} + {v}", "{w} + {v}", "{w} . {v}", "{w} .. {v}", "{w} . {v}"),
         args=("w",), choices={"w": WORDS}, weight=0.8),
    Prim("mirror", "str", "str", "transform", "follow {obj} by its reverse", "mirrored", lambda v, a: v + v[::-1],
         _langs("{v} + {v}[::-1]", '{v} + [...{v}].reverse().join("")', "{v} + {v}.reverse", "{v} . strrev({v})",
                "{v} .. {v}:reverse()", "{v} . scalar reverse({v})"),
         weight=0.7),
    Prim("no_vowels", "str", "str", "transform", "remove the vowels from {obj}", "no_vowels",
         lambda v, a: "".join(ch for ch in v if ch not in VOWELS),
         _langs('"".join(c for c in {v} if c not in "aeiouAEIOU")', '{v}.replace(/[aeiou]/gi, "")',
                '{v}.delete("aeiouAEIOU")', 'preg_replace("/[aeiou]/i", "", {v})', '({v}:gsub("[aeiouAEIOU]", ""))',
                "{v} =~ s/[aeiou]//gir")),
    Prim("only_vowels", "str", "str", "transform", "keep only the vowels of {obj}", "vowels",
         lambda v, a: "".join(ch for ch in v if ch in VOWELS),
         _langs('"".join(c for c in {v} if c in "aeiouAEIOU")', '{v}.replace(/[^aeiou]/gi, "")',
                '{v}.delete("^aeiouAEIOU")', 'preg_replace("/[^aeiou]/i", "", {v})',
                '({v}:gsub("[^aeiouAEIOU]", ""))', "{v} =~ s/[^aeiou]//gir"),
         weight=0.7),
    Prim("remove_char", "str", "str", "transform", 'remove every "{a}" from {obj}', "without_{a}",
         lambda v, a: v.replace(a.args[0], ""),
         _langs('{v}.replace("{a}", "")', '{v}.replaceAll("{a}", "")', '{v}.delete("{a}")',
                'str_replace("{a}", "", {v})', '({v}:gsub("{a}", ""))', "{v} =~ s/{a}//gr"),
         args=("a",), choices={"a": CHARS_FROM}),
    Prim("replace_char", "str", "str", "transform", 'replace every "{a}" in {obj} by "{b}"', "replaced",
         lambda v, a: v.replace(a.args[0], a.args[1]),
         _langs('{v}.replace("{a}", "{b}")', '{v}.replaceAll("{a}", "{b}")', '{v}.tr("{a}", "{b}")',
                'str_replace("{a}", "{b}", {v})', '({v}:gsub("{a}", "{b}"))', "{v} =~ tr/{a}/{b}/r"),
         args=("a", "b"), choices={"a": CHARS_FROM, "b": CHARS_TO}),
    Prim("sort_chars", "str", "str", "transform", "sort the characters of {obj}", "sorted_chars",
         lambda v, a: "".join(sorted(v)),
         _langs('"".join(sorted({v}))', '[...{v}].sort().join("")', "{v}.chars.sort.join",
                ("$chars = str_split({v});", "sort($chars);", '${o} = implode("", $chars);'),
                ("local chars = {}", 'for c in {v}:gmatch(".") do', "\tchars[#chars + 1] = c", "end",
                 "table.sort(chars)", "local {o} = table.concat(chars)"),
                'join("", sort(split(//, {v})))'),
         weight=0.7),
    Prim("str_take", "str", "str", "transform", "keep the first {c} characters of {obj}", "prefix",
         lambda v, a: v[:a.args[0]],
         _langs("{v}[:{c}]", "{v}.slice(0, {c})", "{v}[0, {c}]", "substr({v}, 0, {c})", "{v}:sub(1, {c})",
                "substr({v}, 0, {c})"),
         args=("c",), choices={"c": (1, 2, 3, 4)}, weight=0.8),
    Prim("double_chars", "str", "str", "transform", "double every character of {obj}", "doubled",
         lambda v, a: "".join(ch * 2 for ch in v),
         _langs('"".join(c * 2 for c in {v})', '[...{v}].map((c) => c + c).join("")', "{v}.chars.map { |c| c * 2 }.join",
                "preg_replace(\"/(.)/\", '$1$1', {v})", '({v}:gsub(".", "%0%0"))', "{v} =~ s/(.)/$1$1/gr"),
         weight=0.6),
    # str -> int / list
    Prim("str_length", "str", "int", "value", "the length of {obj}", "length", lambda v, a: len(v),
         _langs("len({v})", "{v}.length", "{v}.length", "strlen({v})", "#{v}", "length({v})")),
    Prim("count_vowels", "str", "int", "value", "the number of vowels in {obj}", "count_vowels",
         lambda v, a: sum(1 for ch in v if ch in VOWELS),
         _langs('sum(1 for c in {v} if c in "aeiouAEIOU")', "({v}.match(/[aeiou]/gi) || []).length",
                '{v}.count("aeiouAEIOU")', 'preg_match_all("/[aeiou]/i", {v})',
                ('local _, {o} = {v}:gsub("[aeiouAEIOU]", "")',), "({v} =~ tr/aeiouAEIOU//)"),
         weight=0.8),
    Prim("count_char", "str", "int", "value", 'the number of times "{a}" occurs in {obj}', "count_{a}",
         lambda v, a: v.count(a.args[0]),
         _langs('{v}.count("{a}")', '{v}.split("{a}").length - 1', '{v}.count("{a}")', 'substr_count({v}, "{a}")',
                ('local _, {o} = {v}:gsub("{a}", "")',), "({v} =~ tr/{a}//)"),
         args=("a",), choices={"a": CHARS_FROM}, weight=0.8),
    Prim("count_upper", "str", "int", "value", "the number of upper-case letters in {obj}", "count_upper",
         lambda v, a: sum(1 for ch in v if ch.isupper()),
         _langs("sum(1 for c in {v} if c.isupper())", "({v}.match(/[A-Z]/g) || []).length", '{v}.count("A-Z")',
                'preg_match_all("/[A-Z]/", {v})', ('local _, {o} = {v}:gsub("%u", "")',), "({v} =~ tr/A-Z//)"),
         weight=0.5),
    Prim("char_codes", "str", "list", "value", "the list of the character codes of {obj}", "codes",
         lambda v, a: tuple(ord(ch) for ch in v),
         _langs("[ord(c) for c in {v}]", "[...{v}].map((c) => c.charCodeAt(0))", "{v}.bytes",
                'array_map("ord", str_split({v}))', "{{v}:byte(1, -1)}", "map { ord } split(//, {v})"),
         weight=0.5),
]}


# Stages whose output is never larger or longer than the limits when their input is within them: their
# outputs skip `check_value` (generation speed).
_BOUNDED = {"filter", "reverse", "sort", "sort_desc", "take", "drop", "unique", "max", "min", "length", "count",
            "digit_sum", "digits", "to_str", "str_reverse", "upper", "lower", "capitalize", "no_vowels",
            "only_vowels", "remove_char", "replace_char", "sort_chars", "str_take", "str_length", "count_vowels",
            "count_char", "count_upper"}
PRIMS = {name: replace(p, grows=False) if name in _BOUNDED else p for name, p in PRIMS.items()}


def check_value(v: Any) -> Any:
    """Raise `Domain` when a value is too large for some runtime (or too long to be a good test)."""
    t = type(v)
    if t is int:
        if -INT_LIMIT <= v <= INT_LIMIT:
            return v
    elif t is tuple:
        if len(v) <= MAX_LIST and (not v or (max(v) <= INT_LIMIT and min(v) >= -INT_LIMIT)):
            return v
    elif t is str:
        if len(v) <= MAX_STR:
            return v
    else:
        raise Domain(f"not a world value: {v!r}")
    raise Domain("value too large or too long")


def _validate() -> None:
    for table in (OPS, PREDS, PRIMS):
        for item in table.values():
            missing = set(LANGS) - set(item.code)
            assert not missing, f"{item.name}: no template for {sorted(missing)}"
    for p in PRIMS.values():
        assert p.in_t in VALUE_TYPES + HEAD_TYPES and p.out_t in VALUE_TYPES, p.name
        assert p.kind in ("transform", "value"), p.name
        assert set(p.args) == set(p.choices), p.name


_validate()
