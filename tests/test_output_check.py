"""The stdin/stdout output checker: tokens compared whitespace-insensitively, a float tolerance and case
folding only where the statement asks for them, and a reason naming the first differing token."""
from __future__ import annotations

import doctest

import evals.scoring.output_check as output_check
from evals.scoring.output_check import OutputRule, check

FLOAT6 = OutputRule(float_tol=1e-6)


def test_whitespace_and_line_ends_never_decide():
    assert check("1 2\n3\n", "1\t2   3").ok
    assert check("YES\r\n", "YES").ok
    assert check("a\n\nb\n", "  a b  \n\n").ok
    assert check("", "\n \n").ok


def test_a_different_token_or_count_fails_and_names_it():
    r = check("1 2 3\n", "1 2 4\n")
    assert not r.ok and r.reason == "token 3: expected '3', got '4'"
    assert check("1 2", "1 2 3").reason == "expected 2 tokens, got 3 (extra token '3')"
    assert check("1 2", "1").reason == "expected 2 tokens, got 1 (missing '2')"
    assert not check("12", "1 2").ok          # tokens are not glued together
    assert not check("", "0").ok


def test_numbers_compare_as_text_unless_the_problem_gives_a_tolerance():
    assert not check("0.5", "0.50").ok
    assert not check("1", "1.0").ok
    assert check("0.5", "0.50", FLOAT6).ok
    assert check("1", "1.0000000", FLOAT6).ok


def test_float_tolerance_is_absolute_or_relative():
    assert check("0.333333333", "0.3333338", FLOAT6).ok          # absolute error 5e-7
    assert not check("0.333333333", "0.333335", FLOAT6).ok       # 1.7e-6
    assert check("3141592.6535", "3141595.0", FLOAT6).ok          # relative error 7.5e-7
    assert not check("3141592.6535", "3141600.0", FLOAT6).ok      # relative error 2.3e-6
    assert check("1e-7", "0", FLOAT6).ok


def test_float_tolerance_accepts_only_decimal_numbers():
    assert not check("1", "nan", FLOAT6).ok
    assert not check("1e300", "inf", FLOAT6).ok
    assert check("1e999", "1e999", FLOAT6).ok                  # the same text is the same token
    assert not check("1e999", "2e999", FLOAT6).ok              # both overflow to inf: not numbers to compare
    assert not check("10", "0x0a", FLOAT6).ok
    assert not check("1000", "1_000", FLOAT6).ok
    assert not check("YES", "YES1", FLOAT6).ok


def test_case_is_ignored_only_when_the_problem_says_so():
    assert not check("YES", "yes").ok
    assert check("YES\nNo", "yes\nNO", OutputRule(ignore_case=True)).ok


def test_rules_read_from_statements():
    tol = OutputRule.from_statement
    assert tol("Your answer will be considered correct if its absolute or relative error does not exceed "
               "$10^{-6}$.").float_tol == 1e-6
    assert tol("The answer is accepted if the absolute error does not exceed 10^-4").float_tol == 1e-4
    assert tol("with relative or absolute error at most 1e-9").float_tol == 1e-9
    assert tol("absolute or relative error doesn't exceed 10<sup>-6</sup>").float_tol == 1e-6
    assert tol("Print the sum modulo 10^9+7.").float_tol is None
    assert tol("Print 10 - 6 numbers.").float_tol is None      # a power of ten far from any 'error'
    assert tol("You can output each letter in any case (upper or lower).").ignore_case
    assert tol("Print YES or NO.").ignore_case is False


def test_doctests():
    assert doctest.testmod(output_check).failed == 0
