"""Test cases for a pipeline, and the semantic checks that decide whether it makes a good task.

Inputs are small (lists of at most 7 ints in -9..9, mostly non-negative; strings of at most 8 ASCII
letters, a few upper-case; ints in -30..40; k in -2..6), so that every value stays exact in every
language. Tests are chosen to exercise branches: edge inputs (empty list / string, 0) come first,
then inputs that produce outputs not seen yet, then the rest.

A pipeline is rejected when its output is constant over the fixed probe inputs, when one of its
stages can be removed without changing any probe output (a no-op such as `upper` after `to_str`, or
`reverse` before `sum`), or when fewer than `n_tests` inputs (or 3 distinct outputs) are available.
Its *signature* (outputs on the fixed probes of its domain) identifies it semantically: the world
keeps one task per signature. Not for: sampling pipelines (`grammar.py`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from .grammar import Pipeline, base_domain, compile_pipeline, initial_value
from .primitives import PRIMS, Domain

LOWER = "abcdeiklmnorstuy"
UPPER = "AEIKMORST"
N_PROBES = 12
N_RANDOM = 6
POOL = 512
MIN_DISTINCT_OUTPUTS = 3


@dataclass(frozen=True)
class TestCase:
    """Arguments (in signature order; lists are tuples) and the expected return value."""

    args: tuple
    expected: Any

    def to_json(self) -> dict:
        def j(v):
            return list(v) if isinstance(v, tuple) else v
        return {"args": [j(a) for a in self.args], "expected": j(self.expected)}


def _elem(rng: random.Random) -> int:
    return rng.randint(0, 9) if rng.random() < 0.75 else rng.randint(-9, -1)


def _list(rng: random.Random, n: int | None = None) -> tuple[int, ...]:
    n = rng.choice((0, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7)) if n is None else n
    return tuple(_elem(rng) for _ in range(n))


def _str(rng: random.Random, max_len: int = 8) -> str:
    n = rng.randint(0, max_len)
    return "".join(rng.choice(UPPER) if rng.random() < 0.15 else rng.choice(LOWER) for _ in range(n))


def sample_input(rng: random.Random, domain: str) -> tuple:
    base = base_domain(domain)
    if base == "list":
        args: tuple = (_list(rng),)
    elif base == "str":
        args = (_str(rng),)
    elif base == "int":
        args = (rng.randint(-30, 40),)
    elif base == "nat":
        args = (rng.randint(1, 9),)
    elif base == "count":
        args = (rng.randint(0, 5),)
    elif base == "list2":
        n = rng.randint(0, 6)
        args = (_list(rng, n), _list(rng, n))
    elif base == "str2":
        args = (_str(rng, 5), _str(rng, 5))
    else:
        raise ValueError(f"unknown domain {domain!r}")
    return args + (rng.randint(-2, 6),) if domain.endswith("+k") else args


def _edges(domain: str) -> list[tuple]:
    base = base_domain(domain)
    e = {"list": [((),), ((4,),)], "str": [("",)], "int": [(0,)], "nat": [(1,)], "count": [(0,)],
         "list2": [((), ())], "str2": [("", "")]}[base]
    return [a + (2,) for a in e] if domain.endswith("+k") else e


@cache
def probes(domain: str) -> tuple[tuple, ...]:
    """Fixed inputs of a domain (the same for every seed): the basis of semantic signatures."""
    rng = random.Random(f"probe-{domain}")
    out = list(dict.fromkeys(_edges(domain)))
    for _ in range(50 * N_PROBES):  # small domains (nat, count) have fewer than N_PROBES inputs
        if len(out) == N_PROBES:
            break
        a = sample_input(rng, domain)
        if a not in out:
            out.append(a)
    return tuple(out)


@cache
def pool(domain: str) -> tuple[tuple, ...]:
    """Random inputs of a domain to draw test inputs from (drawing from a pool is cheaper than sampling)."""
    rng = random.Random(f"pool-{domain}")
    return tuple(dict.fromkeys(sample_input(rng, domain) for _ in range(POOL)))


_BOTTOM = None  # an input outside the pipeline's domain


def _runner(pipe: Pipeline):
    fn = compile_pipeline(pipe) if pipe.depth else (lambda args: initial_value(pipe, args))

    def run(args: tuple):
        try:
            return fn(args)
        except Domain:
            return _BOTTOM
    return run


@dataclass(frozen=True)
class Analysis:
    tests: tuple[TestCase, ...]
    signature: tuple


def signature(pipe: Pipeline, run=None) -> tuple:
    run = run or _runner(pipe)
    return (pipe.domain, tuple(run(a) for a in probes(pipe.domain)))


def analyze(pipe: Pipeline, rng: random.Random, n_tests: int, seen: set | None = None) -> Analysis | None:
    """Tests and signature of a good pipeline; None if it is degenerate (see the module docstring) or if
    its signature is in `seen` (a semantic duplicate)."""
    run = _runner(pipe)
    sig = signature(pipe, run)
    if seen is not None and sig in seen:
        return None
    outs = sig[1]
    valid = [(a, o) for a, o in zip(probes(pipe.domain), outs) if o is not _BOTTOM]
    if len({o for _, o in valid}) < 2:
        return None
    for i, s in enumerate(pipe.stages):
        p = PRIMS[s.prim]
        if p.in_t != p.out_t:
            continue
        run_reduced = _runner(pipe.without(i))
        if all(run_reduced(a) == o for a, o in reversed(valid)):  # edge inputs (first) rarely differ
            return None
    cands: list[tuple[tuple, Any]] = []
    seen_args = set()
    edges = set(_edges(pipe.domain))
    for a, o in [(a, o) for a, o in valid if a in edges]:
        cands.append((a, o))
        seen_args.add(a)
    inputs = pool(pipe.domain)
    for _ in range(N_RANDOM):
        a = inputs[rng.randrange(len(inputs))]
        if a in seen_args:
            continue
        o = run(a)
        if o is not _BOTTOM:
            cands.append((a, o))
            seen_args.add(a)
    rest = [(a, o) for a, o in valid if a not in seen_args]
    rng.shuffle(rest)
    cands += rest
    chosen: list[tuple[tuple, Any]] = []
    seen_out = set()
    for a, o in cands:  # first pass: new outputs (edges first)
        if len(chosen) == n_tests:
            break
        if o not in seen_out:
            chosen.append((a, o))
            seen_out.add(o)
    for a, o in cands:  # second pass: fill up
        if len(chosen) == n_tests:
            break
        if (a, o) not in chosen:
            chosen.append((a, o))
    if len(chosen) < n_tests or len(seen_out) < min(MIN_DISTINCT_OUTPUTS, n_tests):
        return None
    return Analysis(tuple(TestCase(a, o) for a, o in chosen), sig)
