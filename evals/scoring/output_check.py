"""The output checker of stdin/stdout problems: does a program's standard output match the expected one?

As contest judges' default checkers do, outputs are compared token by token (tokens are what
`str.split()` yields: any run of spaces, tabs, line breaks, carriage returns separates them), so trailing
spaces, a missing final newline or Windows line ends never decide a verdict. Two options come from the
problem statement (`OutputRule.from_statement`):
- `float_tol`: a token pair where both sides are decimal numbers matches when the absolute or the
  relative error is at most the tolerance ("absolute or relative error does not exceed 10^{-6}");
- `ignore_case`: tokens compare case-insensitively ("you may print YES/NO in any case").
Written here rather than taken from a library: the rules are a few lines, and the contest libraries
(testlib's checkers) are C++ programs that would run inside the sandbox, where no comparison may happen.

Not for: special judges (problems with many valid answers: their checkers are programs, which this lab
does not run); `psft check-bench` shows such problems as failing references.

>>> check("1 2\\n3\\n", "1 2 3").ok
True
>>> check("0.333333", "0.3333335", OutputRule(float_tol=1e-6)).ok
True
>>> check("YES", "yes").reason
"token 1: expected 'YES', got 'yes'"
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# A decimal number as contest outputs write them (no hex, no underscores, no 'inf' or 'nan').
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
# "absolute or relative error ... 10^{-6}" and its spellings: 10^-6, 10^{-6}, 10<sup>-6</sup>, 1e-6, 10−6.
_TOL_CONTEXT = re.compile(r"(?:absolute|relative)\s+(?:or\s+relative\s+|or\s+absolute\s+)?error", re.IGNORECASE)
_TOL_VALUE = re.compile(r"10\s*(?:\^|\*\*)?\s*\{?\s*<?(?:sup>)?\s*[-−‐–]\s*(\d{1,2})|1\s*[eE]\s*[-−]\s*(\d{1,2})")
_ANY_CASE = re.compile(r"\bin any (?:letter\s+)?case\b|\bany (?:letter )?case\b.{0,40}\b(?:accept|allow|correct)"
                       r"|\bcase[- ]insensitive\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class OutputRule:
    """How one problem's outputs are compared."""

    float_tol: float | None = field(default=None, metadata={
        "help": "Absolute-or-relative tolerance for numeric tokens; None: numbers compare as text."})
    ignore_case: bool = field(default=False, metadata={"help": "Compare tokens case-insensitively."})

    @classmethod
    def from_statement(cls, statement: str) -> OutputRule:
        """The rule a statement asks for: a tolerance where it speaks of an absolute or relative error of
        10^-k near that phrase, case-insensitive where it accepts answers in any case.

        >>> OutputRule.from_statement("Your answer is correct if its absolute or relative error does not "
        ...                           "exceed 10^{-6}.")
        OutputRule(float_tol=1e-06, ignore_case=False)
        >>> OutputRule.from_statement("Print YES or NO. You can print each letter in any case.").ignore_case
        True
        """
        tol = None
        for m in _TOL_CONTEXT.finditer(statement):
            window = statement[max(0, m.start() - 200): m.end() + 200]
            v = _TOL_VALUE.search(window)
            if v:
                tol = 10.0 ** -int(v.group(1) or v.group(2))
                break
        return cls(float_tol=tol, ignore_case=bool(_ANY_CASE.search(statement)))

    def to_dict(self) -> dict:
        return {"float_tol": self.float_tol, "ignore_case": self.ignore_case}


@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str = ""   # why not: the first differing token (or the token counts)


def _same_number(expected: str, actual: str, tol: float) -> bool:
    if not (_NUMBER.match(expected) and _NUMBER.match(actual)):
        return False
    e, a = float(expected), float(actual)
    if not (math.isfinite(e) and math.isfinite(a)):  # 1e999 parses as inf: only the exact text matches
        return False
    return abs(a - e) <= tol * max(1.0, abs(e)) + 1e-15


def _show(token: str) -> str:
    return repr(token if len(token) <= 40 else token[:37] + "...")


def check(expected: str, actual: str, rule: OutputRule = OutputRule()) -> Check:
    """Compare an expected output with a program's output under `rule`."""
    want, got = expected.split(), actual.split()
    for i, (e, a) in enumerate(zip(want, got), 1):
        if e == a:
            continue
        if rule.ignore_case and e.casefold() == a.casefold():
            continue
        if rule.float_tol is not None and _same_number(e, a, rule.float_tol):
            continue
        return Check(False, f"token {i}: expected {_show(e)}, got {_show(a)}")
    if len(want) != len(got):
        more = f"extra token {_show(got[len(want)])}" if len(got) > len(want) else f"missing {_show(want[len(got)])}"
        return Check(False, f"expected {len(want)} tokens, got {len(got)} ({more})")
    return Check(True)
