"""Compositions: a task is a pipeline of typed stages applied to the function's parameters, e.g.
`list: filter[gt 2] | map[mul 3] | sum` ("keep the elements greater than 2, multiply each by 3, then
return the sum"). This module samples pipelines, names their parts (canonical form, templates,
adjacent template pairs) and evaluates them with Python semantics.

A *template* is a stage without its constants (`map:mul`, `filter:even`, `map_when:gt:add`); held-out
compositions are pairs of adjacent templates. Depth is the number of stages. A constant may be the
parameter `k` (domain `list+k` / `int+k`). Not for: English (`describe.py`), code (`render.py`),
choosing test inputs (`tests_gen.py`).
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from .primitives import OPS, PREDS, PRIMS, Domain, check_value

# Parameters of each domain (the first stage's input), and the first stage's input type.
DOMAIN_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "list": (("xs", "list"),), "str": (("s", "str"),), "int": (("n", "int"),),
    "nat": (("n", "int"),), "count": (("n", "int"),),
    "list2": (("xs", "list"), ("ys", "list")), "str2": (("s", "str"), ("t", "str")),
}
DOMAIN_WEIGHTS: dict[str, float] = {"list": 0.50, "str": 0.27, "int": 0.08, "nat": 0.04, "count": 0.03,
                                    "list2": 0.05, "str2": 0.03}
DOMAIN_IN_TYPE = {"list": "list", "str": "str", "int": "int", "nat": "nat", "count": "count", "list2": "list2",
                  "str2": "str2"}  # the first stage's input type
K_DOMAINS = ("list", "int")  # domains whose tasks may take the extra parameter k


def base_domain(domain: str) -> str:
    return domain.split("+", 1)[0]


def domain_params(domain: str) -> tuple[tuple[str, str], ...]:
    params = DOMAIN_PARAMS[base_domain(domain)]
    return params + (("k", "int"),) if domain.endswith("+k") else params


@dataclass(frozen=True)
class Stage:
    """One stage: a primitive plus its op / predicate (name, constants...) and its own constants."""

    prim: str
    op: tuple = ()
    pred: tuple = ()
    args: tuple = ()

    @property
    def template(self) -> str:
        return ":".join([self.prim] + ([self.pred[0]] if self.pred else []) + ([self.op[0]] if self.op else []))

    @property
    def canonical(self) -> str:
        s = self.prim
        if self.pred:
            s += "[" + " ".join(map(str, self.pred)) + "]"
        if self.op:
            s += "[" + " ".join(map(str, self.op)) + "]"
        if self.args:
            s += "(" + ",".join(map(str, self.args)) + ")"
        return s

    @property
    def uses_k(self) -> bool:
        return "k" in self.op[1:] or "k" in self.pred[1:]


@dataclass(frozen=True)
class Pipeline:
    domain: str
    stages: tuple[Stage, ...]

    @property
    def depth(self) -> int:
        return len(self.stages)

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        return domain_params(self.domain)

    @property
    def out_type(self) -> str:
        return PRIMS[self.stages[-1].prim].out_t

    @property
    def canonical(self) -> str:
        return f"{self.domain}: " + " | ".join(s.canonical for s in self.stages)

    @property
    def templates(self) -> tuple[str, ...]:
        return tuple(s.template for s in self.stages)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        t = self.templates
        return tuple(zip(t, t[1:]))

    def without(self, i: int) -> Pipeline:
        return Pipeline(self.domain, self.stages[:i] + self.stages[i + 1:])


# ---- templates ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    name: str
    prim: str
    pred: str | None
    op: str | None
    weight: float  # probability of this template given its primitive was chosen, times the prim weight

    @property
    def in_t(self) -> str:
        return PRIMS[self.prim].in_t

    @property
    def out_t(self) -> str:
        return PRIMS[self.prim].out_t


def _all_templates() -> dict[str, Template]:
    out = {}
    op_total = sum(o.weight for o in OPS.values())
    pred_total = sum(p.weight for p in PREDS.values())
    for p in PRIMS.values():
        preds = list(PREDS.values()) if p.uses_pred else [None]
        ops = list(OPS.values()) if p.uses_op else [None]
        for pr in preds:
            for op in ops:
                w = p.weight * (pr.weight / pred_total if pr else 1.0) * (op.weight / op_total if op else 1.0)
                t = Template("", p.name, pr.name if pr else None, op.name if op else None, w)
                name = ":".join([p.name] + ([t.pred] if t.pred else []) + ([t.op] if t.op else []))
                out[name] = Template(name, p.name, t.pred, t.op, w)
    return out


TEMPLATES: dict[str, Template] = _all_templates()


def feasible_pairs() -> list[tuple[str, str]]:
    """Adjacent template pairs that type-check (sorted: deterministic whatever the hash seed)."""
    return sorted((a.name, b.name) for a in TEMPLATES.values() for b in TEMPLATES.values()
                  if a.out_t == b.in_t and not PRIMS[b.prim].head_only and a.name != b.name)


# ---- sampling -----------------------------------------------------------------------------------

def _pick(rng: random.Random, items: list, weights: list[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def _draw_consts(rng: random.Random, choices: tuple) -> tuple:
    if not choices:
        return ()
    c = rng.choice(choices)
    return tuple(c) if isinstance(c, tuple) else (c,)


def instantiate(rng: random.Random, t: Template) -> Stage:
    """Draw the constants of a template."""
    p = PRIMS[t.prim]
    op = (t.op,) + _draw_consts(rng, OPS[t.op].consts) if t.op else ()
    pred = (t.pred,) + _draw_consts(rng, PREDS[t.pred].consts) if t.pred else ()
    args = []
    for slot in p.args:
        choices = p.choices[slot]
        if slot == "b":  # a replacement character differs from the replaced one
            choices = tuple(c for c in choices if c != args[0])
        args.append(rng.choice(choices))
    return Stage(p.name, op, pred, tuple(args))


def _templates_from(in_t: str, out_t: str | None = None) -> list[Template]:
    return [t for t in TEMPLATES.values() if t.in_t == in_t and (out_t is None or t.out_t == out_t)]


_BY_IN: dict[str, tuple[list[Template], list[float]]] = {}

# Successions that are (almost) always no-ops, pruned while sampling to save evaluation time; the
# probe-based check in tests_gen.py is what guarantees that no stage is a no-op.
_ORDER_ONLY = {"reverse", "sort", "sort_desc", "unique", "str_reverse", "sort_chars"}
_ORDER_BLIND = {"sum", "product", "max", "min", "length", "sort", "sort_desc", "count",
                "str_length", "count_vowels", "count_char", "count_upper", "sort_chars"}
_SMALL_NONNEG = {"length", "count", "str_length", "count_vowels", "count_char", "count_upper", "digit_sum",
                 "arith:last_digit", "arith:abs"}
_NONNEG_NOOP = {"arith:abs", "arith:last_digit", "digit_sum"}
_DIGIT_TEXT = {"to_str", "join"}
_LETTER_OPS = {"upper", "lower", "capitalize", "no_vowels", "only_vowels", "remove_char", "replace_char",
               "count_vowels", "count_upper", "count_char"}
_CASE_OPS = {"upper", "lower", "capitalize"}
_CASE_BLIND = {"upper", "lower", "capitalize", "str_length", "count_vowels"}


def pruned(prev: Template | None, t: Template) -> bool:
    """True for a succession `prev -> t` that is pruned while sampling (see above)."""
    if prev is None:
        return False
    a, b = prev.prim, t.prim
    ta, tb = prev.name, t.name
    if a in _ORDER_ONLY and b in _ORDER_BLIND and not (a == "unique" and b in ("sum", "product", "length",
                                                                                  "count", "str_length")):
        return True
    if (a in _SMALL_NONNEG or ta in _SMALL_NONNEG) and (b in _NONNEG_NOOP or tb in _NONNEG_NOOP):
        return True
    if a in _DIGIT_TEXT and b in _LETTER_OPS:
        return True
    return a in _CASE_OPS and b in _CASE_BLIND


def _candidates(in_t: str, out_t: str | None) -> tuple[list[Template], list[float]]:
    key = in_t if out_t is None else f"{in_t}>{out_t}"
    if key not in _BY_IN:
        cands = _templates_from(in_t, out_t)
        cum, total = [], 0.0
        for c in cands:
            total += c.weight
            cum.append(total)
        _BY_IN[key] = (cands, cum)
    return _BY_IN[key]


def _sample_template(rng: random.Random, in_t: str, out_t: str | None, prev: Template | None) -> Template | None:
    cands, cum = _candidates(in_t, out_t)
    if not cands:
        return None
    for _ in range(8):
        t = rng.choices(cands, cum_weights=cum, k=1)[0]
        if prev is None or (t.name != prev.name and not pruned(prev, t)):
            return t
    return None


def sample(rng: random.Random, depth: int, k_prob: float = 0.0,
           forced: tuple[str, str] | None = None) -> Pipeline | None:
    """A random pipeline of `depth` stages (None on a dead end: the caller retries). With `forced`,
    the pipeline contains that adjacent template pair at a random position."""
    if forced is not None:
        a, b = TEMPLATES[forced[0]], TEMPLATES[forced[1]]
        j = 0 if PRIMS[a.prim].head_only else rng.randrange(depth - 1)
    if forced is not None and j == 0:
        domain = next(d for d, t in DOMAIN_IN_TYPE.items() if t == a.in_t)
    else:
        doms = list(DOMAIN_WEIGHTS)
        domain = _pick(rng, doms, [DOMAIN_WEIGHTS[d] for d in doms])
    cur = DOMAIN_IN_TYPE[domain]
    stages: list[Stage] = []
    prev = None
    for i in range(depth):
        if forced is not None and i in (j, j + 1):
            t = a if i == j else b
            if t.in_t != cur or (prev is not None and (t.name == prev.name or pruned(prev, t))):
                return None
        else:
            need = a.in_t if forced is not None and i == j - 1 else None
            t = _sample_template(rng, cur, need, prev)
            if t is None:
                return None
        if i > 0 and PRIMS[t.prim].head_only:
            return None
        stages.append(instantiate(rng, t))
        prev, cur = t, t.out_t
    pipe = Pipeline(domain, tuple(stages))
    if k_prob and domain in K_DOMAINS and rng.random() < k_prob:
        pipe = _with_k(rng, pipe)
    return pipe


def _with_k(rng: random.Random, pipe: Pipeline) -> Pipeline:
    """Replace one k-able constant by the parameter k (if there is one)."""
    spots = [(i, part) for i, s in enumerate(pipe.stages) for part in ("op", "pred")
             if getattr(s, part) and len(getattr(s, part)) == 2
             and (OPS if part == "op" else PREDS)[getattr(s, part)[0]].kable]
    if not spots:
        return pipe
    i, part = rng.choice(spots)
    s = pipe.stages[i]
    new = Stage(s.prim, (s.op[0], "k") if part == "op" else s.op, (s.pred[0], "k") if part == "pred" else s.pred,
                s.args)
    return Pipeline(pipe.domain + "+k", pipe.stages[:i] + (new,) + pipe.stages[i + 1:])


# ---- evaluation ---------------------------------------------------------------------------------

def _bind(spec: tuple, table: dict, k: int | None) -> Callable | None:
    if not spec:
        return None
    item = table[spec[0]]
    consts = tuple(k if c == "k" else c for c in spec[1:])
    if not consts:
        return item.fn
    if item.bind is not None:
        return item.bind(*consts)
    fn = item.fn
    if len(consts) == 1:
        c = consts[0]
        return lambda x: fn(x, c)
    return lambda x: fn(x, *consts)


def initial_value(pipe: Pipeline, args: tuple) -> Any:
    dom = base_domain(pipe.domain)
    return (args[0], args[1]) if dom in ("list2", "str2") else args[0]


@lru_cache(maxsize=1 << 16)
def _compile_stage(s: Stage) -> Callable[[Any, Any], Any]:
    prim = PRIMS[s.prim]
    fn = prim.fn
    if not s.uses_k:
        ns = SimpleNamespace(f=_bind(s.op, OPS, None), p=_bind(s.pred, PREDS, None), args=s.args)
        step = lambda v, k: fn(v, ns)  # noqa: E731
    else:
        step = lambda v, k: fn(v, SimpleNamespace(f=_bind(s.op, OPS, k), p=_bind(s.pred, PREDS, k),  # noqa: E731
                                                  args=s.args))
    return (lambda v, k: check_value(step(v, k))) if prim.grows else step


def compile_pipeline(pipe: Pipeline, keep_trace: bool = False) -> Callable[[tuple], Any]:
    """A Python function of the arguments (in `pipe.params` order; lists are tuples) that returns the
    output (or, with `keep_trace`, the list of values after each stage); it raises `Domain`."""
    steps = [_compile_stage(s) for s in pipe.stages]
    has_k = pipe.domain.endswith("+k")
    two = base_domain(pipe.domain) in ("list2", "str2")

    def run(args: tuple):
        k = args[-1] if has_k else None
        v = (args[0], args[1]) if two else args[0]
        values = []
        for g in steps:
            v = g(v, k)
            if keep_trace:
                values.append(v)
        return values if keep_trace else v
    return run


def trace(pipe: Pipeline, args: tuple) -> list[Any]:
    """The value after each stage (raises `Domain`)."""
    return compile_pipeline(pipe, keep_trace=True)(args)


def evaluate(pipe: Pipeline, args: tuple) -> Any:
    """The pipeline's output on `args` (raises `Domain` outside the domain). `args` follow
    `pipe.params`; list values are tuples."""
    return compile_pipeline(pipe)(args)


__all__ = ["DOMAIN_PARAMS", "Domain", "Pipeline", "Stage", "TEMPLATES", "Template", "compile_pipeline", "evaluate",
           "feasible_pairs", "instantiate", "sample", "trace"]
