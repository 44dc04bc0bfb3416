"""English for a pipeline: the one-line task description and the function name.

The description is the stages in order, as imperative clauses joined by commas and a final "then":
"Keep the elements of xs that are greater than 2, multiply each element by 3, then return the sum."
The first stage names the parameter(s); later stages say "the list" / "the string" / "the number".
A value stage (sum, length, ...) reads "take ..." in the middle and "return ..." at the end; a final
transform adds "and return the result". One phrasing per primitive: the world is regular on purpose.
Not for: code (`render.py`).
"""
from __future__ import annotations

import re

from .grammar import Pipeline, Stage
from .primitives import OPS, PREDS, PRIMS

_LATER = {"list": "the list", "str": "the string", "int": "the number"}
_NOUN = {"list": "list", "str": "string", "int": "number"}
_PLURAL_ONE = re.compile(r"the first 1 (element|character)s")


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _const(c) -> str:
    return str(c)


def _pred_phrase(s: Stage) -> str:
    p = PREDS[s.pred[0]]
    consts = s.pred[1:]
    vals = {"c": _const(consts[0])} if len(consts) == 1 else (
        {"lo": _const(consts[0]), "hi": _const(consts[1])} if consts else {})
    return _fill(p.phrase, vals)


def stage_phrase(s: Stage, subject: str | None, last: bool) -> str:
    """The clause for one stage; `subject` is the parameter text for the first stage, else None."""
    p = PRIMS[s.prim]
    obj = subject if subject else _LATER.get(p.in_t, "the input")
    vals = {"obj": obj, "of": f" of {subject}" if subject else ""}
    if p.uses_pred:
        vals["pred"] = _pred_phrase(s)
    for slot, value in zip(p.args, s.args):
        vals[slot] = f'"{value}"' if slot == "w" else str(value)
    if p.uses_op:
        op = OPS[s.op[0]]
        target = _fill(p.target, vals)
        vals["op"] = _fill(op.phrase, {"t": target, **({"c": _const(s.op[1])} if len(s.op) > 1 else {})})
    text = _PLURAL_ONE.sub(r"the first \1", _fill(p.phrase, vals))
    if p.kind == "value":
        return ("return " if last else "take ") + text
    if last:
        return text + (", and return the result" if ", " in text else " and return the result")
    return text


def describe(pipe: Pipeline) -> str:
    names = [n for n, _ in pipe.params if n != "k"]
    subject = " and ".join(names)
    parts = [stage_phrase(s, subject if i == 0 else None, i == pipe.depth - 1) for i, s in enumerate(pipe.stages)]
    if len(parts) == 1:
        text = parts[0]
    else:
        text = ", ".join(parts[:-1]) + ", then " + parts[-1]
    return text[0].upper() + text[1:] + "."


def _word(s: Stage) -> str:
    p = PRIMS[s.prim]
    vals = {}
    if p.uses_op:
        vals["op"] = OPS[s.op[0]].word
    if p.uses_pred:
        vals["pred"] = PREDS[s.pred[0]].word
    for slot, value in zip(p.args, s.args):
        vals[slot] = str(value)
    return _fill(p.word, vals)


def function_name(pipe: Pipeline) -> str:
    """snake_case, from the last stage backwards: `sum_scaled_above`; always two words or more, so it
    never shadows a builtin (`sum`, `max`, `reverse`, ...)."""
    words: list[str] = []
    for s in reversed(pipe.stages[-3:]):
        for w in _word(s).split("_"):
            if not words or words[-1] != w:
                words.append(w)
    words = words[:4]
    if len(words) == 1:
        first_in = PRIMS[pipe.stages[0].prim].in_t
        words.append(_NOUN.get(first_in, "pair" if first_in in ("list2", "str2") else "number"))
    return "_".join(words)
