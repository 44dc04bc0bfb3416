"""TestReward through the real sandboxed executor: correct -> 1, wrong -> 0, partially right -> a fraction."""
from __future__ import annotations

import pytest

from evals.world import LANGS
from train.rewards import TestReward, completion_text

from .tiny_lm import world


@pytest.fixture(scope="module")
def tasks():
    return world().split("test")[:4]


def _wrong(task, lang):
    """A function that returns null: no world value (int, list, str) equals it."""
    return "\n" + {"python": "    return None\n", "ruby": "  nil\nend\n", "lua": "  return nil\nend\n"}.get(
        lang, "    return null;\n}\n" if lang != "perl" else "    return undef;\n}\n")


def test_reference_completions_score_one_and_broken_ones_zero(executor, tasks):
    reward = TestReward(executor, tasks, mode="all")
    prompts, completions, ids, langs = [], [], [], []
    for t in tasks:
        for lang in LANGS:
            for good in (True, False):
                prompts.append(t.prompt(lang))
                completions.append(t.solution(lang) if good else _wrong(t, lang))
                ids.append(t.id)
                langs.append(lang)
    out = reward(prompts, completions, task_id=ids, lang=langs)
    assert out == [1.0, 0.0] * (len(tasks) * len(LANGS))
    assert len(reward.timings) == 1 and reward.timings[0]["programs"] == len(out)
    assert reward.pop_seconds() > 0 and reward.pop_seconds() == 0.0


def test_text_after_the_function_is_cut_by_the_stop_rule(executor, tasks):
    t = tasks[0]
    reward = TestReward(executor, tasks)
    garbage = {"python": "\nthis is not python(", "javascript": "\n}}} ((", "php": "\n}}} ((",
               "perl": "\n}}} ((", "ruby": "\nend end end (", "lua": "\nend end end ("}
    out = reward([t.prompt(la) for la in LANGS], [t.solution(la) + garbage[la] for la in LANGS],
                 task_id=[t.id] * len(LANGS), lang=list(LANGS))
    assert out == [1.0] * len(LANGS)


def test_conversational_completions_are_accepted(executor, tasks):
    t = tasks[0]
    reward = TestReward(executor, tasks)
    conv = [[{"role": "assistant", "content": t.solution("python")}]]
    assert reward([t.prompt("python")], conv, task_id=[t.id], lang=["python"]) == [1.0]
    assert completion_text({"content": "x"}) == "x"


def _py(v):
    return repr(list(v)) if isinstance(v, (tuple, list)) else repr(v)


def _partial_python(task):
    """A completion that returns the right answer for the first test's arguments only."""
    case = task.tests[0]
    params = [p for p, _ in task.signature.params]
    cond = " and ".join(f"{p} == {_py(a)}" for p, a in zip(params, case.args)) or "True"
    return f"\n    if {cond}:\n        return {_py(case.expected)}\n    return None\n"


def test_fraction_mode_counts_passing_tests(executor, tasks):
    reward_all = TestReward(executor, tasks, mode="all")
    reward_frac = TestReward(executor, tasks, mode="fraction")
    comps = [_partial_python(t) for t in tasks]
    kw = dict(task_id=[t.id for t in tasks], lang=["python"] * len(tasks))
    prompts = [t.prompt("python") for t in tasks]
    assert reward_all(prompts, comps, **kw) == [0.0] * len(tasks)
    frac = reward_frac(prompts, comps, **kw)
    for t, f in zip(tasks, frac):
        # at least the first test passes (others pass only where they share its expected value)
        n_ok = sum(1 for c in t.tests if c.args == t.tests[0].args)
        assert 1 / len(t.tests) <= f < 1.0 and f >= n_ok / len(t.tests)
    # full solutions and syntax errors need no second round
    assert reward_frac(prompts, [t.solution("python") for t in tasks], **kw) == [1.0] * len(tasks)
    assert reward_frac(prompts, ["\n    return (((\n"] * len(tasks), **kw) == [0.0] * len(tasks)
    assert reward_frac.timings[-1]["programs"] == len(tasks)


def test_unknown_task_and_bad_mode_are_errors(executor, tasks):
    with pytest.raises(ValueError, match="mode"):
        TestReward(executor, tasks, mode="some")
    with pytest.raises(KeyError, match="unknown task"):
        TestReward(executor, tasks)(["p"], ["c"], task_id=["nope"], lang=["python"])


EARLY_EXIT = {"python": "\n    import os\n    os._exit(0)\n", "javascript": "\n  process.exit(0);\n}\n",
              "ruby": "\n  exit!(0)\nend\n", "php": "\n    exit(0);\n}\n", "lua": "\n  os.exit(0)\nend\n",
              "perl": "\n    exit 0;\n}\n"}


@pytest.mark.parametrize("mode", ["all", "fraction"])
def test_an_early_exit_earns_no_reward(executor, tasks, mode):
    t = tasks[0]
    reward = TestReward(executor, tasks, mode=mode)
    out = reward([t.prompt(la) for la in LANGS] * 2, [EARLY_EXIT[la] for la in LANGS] + [t.solution(la) for la in LANGS],
                 task_id=[t.id] * 2 * len(LANGS), lang=list(LANGS) * 2)
    assert out == [0.0] * len(LANGS) + [1.0] * len(LANGS)
