"""Python's seal handover (see SEAL_SOURCE in evals/languages/python.py): the fork server compiles the seal
once per worker and hands it to a sealed program as a one-shot builtin; a plain `python3 -I -S main.py`
gets no handover and the prologue exec's the same text. Both paths must prove a right program, and a
completion must neither find the handover nor get a token out of it."""
from __future__ import annotations

import subprocess

import pytest

from evals.execution import Program, Status
from evals.languages import get_language
from evals.languages.base import PROOF_FILE
from evals.languages.python import SEAL_HANDOVER

python = get_language("python")
RIGHT = "def f(x):\n    return x + 1\n"
WRONG = "def f(x):\n    return x\n"
TESTS = "assert f(1) == 2\nassert f(4) == 5\n"
WHERE = f"import builtins\nprint(__psft_end__.__code__.co_filename, {SEAL_HANDOVER!r} in vars(builtins))\n"
ATTACKS = {
    # the handover, looked up where the fork server put it: already gone
    "builtin": (f"import builtins, os\nh = vars(builtins).get({SEAL_HANDOVER!r})\nprint(h, flush=True)\n"
                "h and print(h('x'), flush=True)\nos._exit(0)\n"),
    # every function the interpreter still holds: the handover (if alive) and the seal give no token,
    # since the proof file is gone; calling them must not print a token either
    "gc": ("import gc, os, sys\nfor o in gc.get_objects():\n"
           "    if callable(o) and getattr(getattr(o, '__code__', None), 'co_filename', '') == '<psft seal>':\n"
           "        try:\n            e = o(sys._getframe(0), 0)\n            e()\n"
           "        except Exception:\n            pass\nos._exit(0)\n"),
}


def test_the_fork_server_hands_over_the_precompiled_seal(executor):
    r, = executor.map([Program("python", python.seal(RIGHT + WHERE, TESTS), proof=True)])
    assert (r.status, r.stdout.strip()) == (Status.PASSED, "<psft seal> False"), r


def test_a_fresh_interpreter_runs_the_same_seal_from_the_prologue(tmp_path):
    (tmp_path / "main.py").write_text(python.seal(RIGHT + WHERE, TESTS))
    (tmp_path / PROOF_FILE).write_text("ab" * 16)
    out = subprocess.run(["python3", "-I", "-S", "main.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "<string> False\n\n" + "ab" * 16 + "\n", out.stdout
    assert not (tmp_path / PROOF_FILE).exists()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_completion_gets_no_token_from_the_handover(executor, attack):
    wrong, right = executor.map([Program("python", python.seal(WRONG + ATTACKS[attack], TESTS), proof=True),
                                 Program("python", python.seal(RIGHT, TESTS), proof=True)])
    assert wrong.status is Status.FAILED, wrong
    assert right.status is Status.PASSED, right
    if attack == "builtin":
        assert wrong.stdout.startswith("None"), wrong
