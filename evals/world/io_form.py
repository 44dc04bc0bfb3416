"""The world in I/O form (`WorldConfig.form = "io"`): every task as a whole program that reads its
arguments from standard input and prints its result, judged on the host against ONE test set shared by
every language (`evals.benchmarks.io_judge`), as contest data is.

The contract with the language model (as `render.py`'s, with the program in place of the function body):

    prompt     = tag line + [fixed preamble] + description comment + the I/O statement (two comment lines:
                 the arguments and result with their types, then the text format), NO final newline; with
                 `describe=False` (a program shown beside its translation) the tag line and preamble only.
    completion = "\\n" + the whole program + "\\n": the function (the world's signature and body), a `main`
                 that reads the arguments, calls it and prints the result, and a last line calling `main`
                 (`main()`, `main();` or `main`).
    stop       = that last line: `stop(lang)` holds it, `truncate(lang, text)` cuts a generation right after
                 it (nothing generated after the program runs).
    program    = prompt + truncate(completion): comments, then the code, no harness and no seal.

The text format (the same bytes for every language, so one test set judges all six): an int is one
line; a list of ints is a line with its length, then a line with its elements separated by single spaces
(an empty line for the empty list); a string is a line with its length, then a line with the string (world
strings have no spaces; the length keeps the empty string visible to a token-based checker). The
arguments come in signature order; the result is printed in the same format. Outputs are compared token by
token (`OutputRule()`), so a program may read by tokens or by lines and end lines as it likes; a value in
the wrong type's text (`1.0`, `True`, `[1, 2]`) fails.

Nothing a program prints can pass a test it did not compute: it runs once per test with that test's input
only, the expected outputs stay in the host process, and the comparison runs there. Not for: the function
form (`render.py`), judging (`evals.benchmarks.io_judge`).
"""
from __future__ import annotations

import re

from .grammar import Pipeline
from .langs import check_lang
from .render import STYLES, check_naming, fn_name, rename_code, rename_prose, signature_line, solution

FORMS = ("function", "io")

_TYPE_WORDS = {"int": "an int", "list": "a list of ints", "str": "a string"}
FORMAT_LINE = ("Format: an int is one line; a list is its length on one line, then its elements separated by "
               "spaces on the next; a string is its length, then the string on the next line.")


def check_form(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"unknown world form {form!r}; known: {', '.join(FORMS)}")
    return form


# ---- the text format ------------------------------------------------------------------------------

def write_value(typ: str, value) -> str:
    """One value in the text format (`typ`: "int", "list" or "str", or the signature's "list[int]")."""
    if isinstance(value, bool):
        raise TypeError("booleans are not world values")
    typ = "list" if typ == "list[int]" else typ
    if typ == "int" and isinstance(value, int):
        return f"{value}\n"
    if typ == "list" and isinstance(value, (tuple, list)) and all(isinstance(x, int) and not isinstance(x, bool)
                                                                  for x in value):
        return f"{len(value)}\n{' '.join(str(x) for x in value)}\n"
    if typ == "str" and isinstance(value, str):
        if any(c.isspace() for c in value):
            raise ValueError(f"world strings have no whitespace: {value!r}")
        return f"{len(value)}\n{value}\n"
    raise TypeError(f"{value!r} is not a world {typ}")


def write_input(params: tuple[tuple[str, str], ...], args: tuple) -> str:
    """A test's standard input: its arguments in signature order."""
    if len(params) != len(args):
        raise ValueError(f"{len(args)} arguments for {len(params)} parameters")
    return "".join(write_value(t, a) for (_, t), a in zip(params, args))


# ---- the prompt -----------------------------------------------------------------------------------

def statement(params: tuple[tuple[str, str], ...], out_type: str) -> str:
    """The I/O line of the prompt: the arguments by name and type, then the result's type."""
    args = ", ".join(f"{name} ({_TYPE_WORDS[typ]})" for name, typ in params)
    return f"Input: {args}. Output: the result ({_TYPE_WORDS[out_type]})."


def prompt(lang: str, description: str, pipe: Pipeline, naming: str = "shared", describe: bool = True) -> str:
    """Tag line, preamble, description and I/O statement (or the tag line and preamble alone when not
    `describe`); no trailing newline."""
    st = STYLES[check_lang(lang)]
    io_line = statement(pipe.params, pipe.out_type)
    if check_naming(naming) != "shared":
        description, io_line = rename_prose(lang, description), rename_prose(lang, io_line)
    described = [f"{st.comment} {description}", f"{st.comment} {io_line}", f"{st.comment} {FORMAT_LINE}"] \
        if describe else []
    return "\n".join([*st.head_first, f"{st.comment} language: {lang}", *st.preamble, *described])


# ---- the program ----------------------------------------------------------------------------------

# Per language: the lines before the function, the opening of `main` with the word reader, one statement
# per argument type ({v}: the variable), the call ({r} = {call}), the printing per result type, the closing
# of `main` and the call that ends the program. Every name here other than the arguments' ("words", "pos",
# "take", "word", "left", "result") is outside render._ROLES, so per-language naming renames the arguments
# (as in the signature) and nothing else.
_MAIN: dict[str, dict] = {
    "python": {
        "head": ["import sys"],
        "open": ["def main():", "    words = iter(sys.stdin.read().split())"],
        "int": ["    {v} = int(next(words))"],
        "list": ["    {v} = [int(next(words)) for _ in range(int(next(words)))]"],
        "str": ['    {v} = next(words) if int(next(words)) > 0 else ""'],
        "call": ["    result = {call}"],
        "out_int": ["    print(result)"],
        "out_list": ["    print(len(result))", '    print(" ".join(map(str, result)))'],
        "out_str": ["    print(len(result))", "    print(result)"],
        "close": [], "end": "main()",
    },
    "javascript": {
        "head": [],
        "open": ["function main() {",
                 '  const words = require("fs").readFileSync(0, "utf8").split(/\\s+/).filter((word) => word.length > 0);',
                 "  let pos = 0;"],
        "int": ["  const {v} = Number(words[pos++]);"],
        "list": ["  const {v} = Array.from({ length: Number(words[pos++]) }, () => Number(words[pos++]));"],
        "str": ['  const {v} = Number(words[pos++]) > 0 ? words[pos++] : "";'],
        "call": ["  const result = {call};"],
        "out_int": ["  console.log(String(result));"],
        "out_list": ["  console.log(String(result.length));", '  console.log(result.join(" "));'],
        "out_str": ["  console.log(String(result.length));", "  console.log(result);"],
        "close": ["}"], "end": "main();",
    },
    "ruby": {
        "head": [],
        "open": ["def main", "  words = STDIN.read.split"],
        "int": ["  {v} = words.shift.to_i"],
        "list": ["  {v} = Array.new(words.shift.to_i) { words.shift.to_i }"],
        "str": ['  {v} = words.shift.to_i > 0 ? words.shift : ""'],
        "call": ["  result = {call}"],
        "out_int": ["  puts result"],
        "out_list": ["  puts result.size", '  puts result.join(" ")'],
        "out_str": ["  puts result.size", "  puts result"],
        "close": ["end"], "end": "main",
    },
    "php": {
        "head": [],
        "open": ["function main() {",
                 "    $words = preg_split('/\\s+/', stream_get_contents(STDIN), -1, PREG_SPLIT_NO_EMPTY);"],
        "int": ["    ${v} = (int)array_shift($words);"],
        "list": ["    ${v} = [];",
                 "    for ($left = (int)array_shift($words); $left > 0; $left--) {",
                 "        ${v}[] = (int)array_shift($words);",
                 "    }"],
        "str": ['    ${v} = (int)array_shift($words) > 0 ? array_shift($words) : "";'],
        "call": ["    $result = {call};"],
        "out_int": ['    echo $result, "\\n";'],
        "out_list": ['    echo count($result), "\\n", implode(" ", $result), "\\n";'],
        "out_str": ['    echo strlen($result), "\\n", $result, "\\n";'],
        "close": ["}"], "end": "main();",
    },
    "lua": {
        "head": [],
        "open": ["local function main()",
                 "  local words = {}",
                 '  for word in io.read("a"):gmatch("%S+") do words[#words + 1] = word end',
                 "  local pos = 0",
                 "  local function take() pos = pos + 1 return words[pos] end"],
        "int": ["  local {v} = tonumber(take())"],
        "list": ["  local {v} = {}", "  for _ = 1, tonumber(take()) do {v}[#{v} + 1] = tonumber(take()) end"],
        "str": ['  local {v} = ""', "  if tonumber(take()) > 0 then {v} = take() end"],
        "call": ["  local result = {call}"],
        "out_int": ["  print(result)"],
        "out_list": ["  print(#result)", '  print(table.concat(result, " "))'],
        "out_str": ["  print(#result)", "  print(result)"],
        "close": ["end"], "end": "main()",
    },
    "perl": {
        "head": [],
        "open": ["sub main {", "    my @words = split ' ', do { local $/; <STDIN> } // '';"],
        "int": ["    my ${v} = 0 + shift(@words);"],
        "list": ["    my ${v} = [map { 0 + shift(@words) } 1 .. shift(@words)];"],
        "str": ["    my ${v} = shift(@words) > 0 ? shift(@words) : '';"],
        "call": ["    my $result = {call};"],
        "out_int": ['    print "$result\\n";'],
        "out_list": ['    print scalar(@$result), "\\n", join(\' \', @$result), "\\n";'],
        "out_str": ['    print length($result), "\\n", "$result\\n";'],
        "close": ["}"], "end": "main();",
    },
}


def _call(lang: str, name: str, params: tuple[tuple[str, str], ...]) -> str:
    sigil = "$" if lang in ("php", "perl") else ""
    return f"{fn_name(lang, name)}({', '.join(sigil + p for p, _ in params)})"


def program_lines(lang: str, name: str, pipe: Pipeline) -> list[str]:
    """The whole program under the shared names: head, the function, main, the final call."""
    m = _MAIN[check_lang(lang)]
    function = signature_line(lang, name, pipe.params) + solution(lang, pipe).rstrip("\n")
    lines = [*m["head"], *function.split("\n"), *m["open"]]
    for p, typ in pipe.params:
        lines += [x.replace("{v}", p) for x in m[typ]]
    lines += [x.replace("{call}", _call(lang, name, pipe.params)) for x in m["call"]]
    lines += m[f"out_{pipe.out_type}"] + m["close"] + [m["end"]]
    return lines


def io_solution(lang: str, name: str, pipe: Pipeline, naming: str = "shared") -> str:
    """The reference completion: "\\n" + the whole program + "\\n"."""
    lines = program_lines(lang, name, pipe)
    if check_naming(naming) != "shared":
        lines = [rename_code(lang, line) for line in lines]
    return "\n" + "\n".join(lines) + "\n"


# ---- stopping -------------------------------------------------------------------------------------

_END = {lang: re.compile(r"\n" + re.escape(m["end"]) + r"(?=[ \t]*(?:\n|$))") for lang, m in _MAIN.items()}


def stop(lang: str) -> tuple[str, ...]:
    """The program's last line (after a newline): generation stops there."""
    return ("\n" + _MAIN[check_lang(lang)]["end"],)


def truncate(lang: str, text: str) -> str:
    """Cut a generation right after the line that calls `main` (and append its newline); the text as it is
    when no such line came. Idempotent on reference completions."""
    m = _END[check_lang(lang)].search(text)
    return text[:m.end()] + "\n" if m else text
