"""Ruby's proof factory (see `seal` in evals/languages/ruby.py): the fork server builds it once before its
first fork and hands each child its token in memory, a plain `ruby main.rb` evaluates the same source
from the prologue and reads the proof file. Both paths must prove a
right program, and a completion must not reach the factory nor get a token out of it."""
from __future__ import annotations

import pytest

from evals.execution import Program, Status
from evals.languages import get_language

ruby = get_language("ruby")
pytestmark = pytest.mark.skipif(bool(ruby.missing()), reason="ruby not installed")

RIGHT = "def f(x)\n  x + 1\nend\n"
TESTS = "raise 'f(1)' unless f(1) == 2\nraise 'f(4)' unless f(4) == 5\n"
# `Set` sends a program to a fresh `ruby -rset` (no server): the prologue's own copy of the factory runs.
PATHS = {"server": "", "fresh": "Set.new\n"}
ATTACKS = {
    # the server's global, cleared by the prologue before this line runs
    "global": "p $__psft_factory\n(($__psft_factory.call(1, '.psft_proof').call) rescue nil)\nexit!(0)\n",
    # the token the server's child got in its request line: taken and cleared by the prologue
    "token": "p $__psft_token\nputs($__psft_token) rescue nil\nexit!(0)\n",
    # every two-argument lambda, the factory included: the token file is already deleted
    "object_space": ("ObjectSpace.each_object(Proc) { |pr| (pr.call(__LINE__, '.psft_proof').call "
                     "if pr.lambda? && pr.arity == 2) rescue nil }\nexit!(0)\n"),
}


@pytest.mark.parametrize("path", PATHS)
def test_a_right_program_is_proved_on_both_paths(executor, path):
    r, = executor.map([Program("ruby", ruby.seal(PATHS[path] + RIGHT, TESTS), proof=True)])
    assert r.status is Status.PASSED, r


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_a_completion_gets_no_token_from_the_factory(executor, path, attack):
    wrong = "def f(x)\n  x\nend\n" + PATHS[path] + ATTACKS[attack]
    r, = executor.map([Program("ruby", ruby.seal(wrong, TESTS), proof=True)])
    assert r.status is not Status.PASSED, r
    if attack in ("global", "token"):
        assert r.stdout.startswith("nil\n"), r


def test_the_server_builds_the_factory_and_a_sealed_program_runs_without_a_proof(executor):
    probe = "print(File.read(\"/proc/#{Process.ppid}/cmdline\").include?('ruby_server.rb'))\n"
    r, = executor.map([Program("ruby", ruby.seal(RIGHT + probe, TESTS))])
    assert (r.status, r.stdout) == (Status.PASSED, "true"), r
