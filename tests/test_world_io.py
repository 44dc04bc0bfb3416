"""The world in I/O form (`WorldConfig.form = "io"`): every task a whole stdin/stdout program, one test set
for every language, judged on the host; rewards and evaluation judge both forms through `judged`; the
default form changes nothing; `psft run --recipe micro --set world.form=io` runs end to end."""
from __future__ import annotations

import json
import subprocess

import pytest

from evals.execution import Status
from evals.world import LANGS, IOTask, Task, World, WorldConfig, io_form
from train.recipe import load_recipe

from .conftest import REPO
from .micro_run import PSFT


def _world(**kw) -> World:
    return World(WorldConfig(seed=0, n_tasks=300, form="io", **kw))


def _combinations(world: World) -> list:
    """One task per (parameter types, result type) combination of the world."""
    seen: dict = {}
    for t in world.tasks:
        seen.setdefault((tuple(ty for _, ty in t.pipeline.params), t.pipeline.out_type), t)
    return list(seen.values())


def _covering(world: World) -> list:
    """A few tasks that together read every argument type, write every result type and read two arguments."""
    def features(t):
        return {f"in:{ty}" for _, ty in t.pipeline.params} | {f"out:{t.pipeline.out_type}"} | (
            {"two"} if len(t.pipeline.params) == 2 else set())
    tasks, todo = [], set().union(*(features(t) for t in world.tasks))
    while todo:
        best = max(world.tasks, key=lambda t: len(features(t) & todo))
        tasks.append(best)
        todo -= features(best)
    return tasks


def _judge(executor, items):
    judging = [t.judged(lang, c, id=f"{t.id}/{lang}") for t, lang, c in items]
    return [v(r) for (_, v), r in zip(judging, executor.map([p for p, _ in judging]))]


def test_the_default_form_is_the_function_form_and_io_only_rerenders():
    fn, io = World(WorldConfig(seed=0, n_tasks=300)), _world()
    assert all(type(t) is Task for t in fn.tasks) and all(isinstance(t, IOTask) for t in io.tasks)
    assert [(t.id, t.split, t.tests) for t in fn.tasks] == [(t.id, t.split, t.tests) for t in io.tasks]
    a, b = fn.tasks[0], io.tasks[0]
    assert b.prompt("lua").startswith("-- language: lua\n-- " + a.description)
    assert a.signature_line("lua") not in b.prompt("lua") and a.signature_line("lua") in b.solution("lua")


def test_the_form_enters_the_world_hash_only_when_set():
    fn, io = load_recipe("micro"), load_recipe("micro", {"world.form": "io"})
    assert load_recipe("micro", {"world.form": "function"}).stage_hashes() == fn.stage_hashes()
    assert io.stage_hashes()["world"] != fn.stage_hashes()["world"]
    with pytest.raises(Exception, match="form"):
        load_recipe("micro", {"world.form": "stdin"})


def test_one_test_set_in_the_text_format_serves_every_language():
    t = next(t for t in _world().tasks if [ty for _, ty in t.pipeline.params] == ["list", "int"])
    p = t.problem()
    assert len(p.private_tests) == len(t.tests) and not p.public_tests   # nothing of it is in the prompt
    case, test = t.tests[0], p.private_tests[0]
    xs, k = case.args
    assert test.input == f"{len(xs)}\n{' '.join(map(str, xs))}\n{k}\n"
    assert io_form.write_value("list", ()) == "0\n\n" and io_form.write_value("str", "") == "0\n\n"
    assert io_form.write_value("str", "abC") == "3\nabC\n" and io_form.write_value("int", -4) == "-4\n"


def _references_pass(executor, tasks) -> None:
    items = [(t, la, t.solution(la)) for la in LANGS for t in tasks]
    bad = [(t.id, la, v.detail) for (t, la, _), v in zip(items, _judge(executor, items)) if not v.passed]
    assert not bad, bad[:5]


@pytest.mark.parametrize("naming", ["shared", "per_language"])
def test_references_pass_their_shared_tests_in_all_six_languages(executor, naming):
    """A covering sample: every reader and writer of every language runs (edge inputs, the empty list and
    string, come first among a task's tests)."""
    tasks = _covering(_world(naming=naming))
    assert len(tasks) <= 5
    _references_pass(executor, tasks)


@pytest.mark.slow
@pytest.mark.parametrize("naming", ["shared", "per_language"])
def test_references_pass_for_every_combination_of_types(executor, naming):
    tasks = _combinations(_world(naming=naming))
    assert len(tasks) >= 15
    _references_pass(executor, tasks)


def test_outputs_are_judged_on_the_host_per_test(executor):
    t = next(t for t in _world().tasks if t.pipeline.out_type == "int" and len(t.pipeline.params) == 1
             and t.pipeline.params[0][1] == "list")
    want = t.problem().private_tests[0].output.strip()
    cheat = {"python": f"\ndef main():\n    print({want})\nmain()\n",
             "lua": f"\nlocal function main() print({want}) end\nmain()\n",
             "perl": f'\nprint "{want}\\n";\nsub main {{}}\nmain();\n'}
    other = next(o for o in _world().tasks if o.pipeline.params == t.pipeline.params and o.id != t.id
                 and o.pipeline.out_type == "int")
    items = [(t, la, c) for la, c in cheat.items()] + [(t, "ruby", other.solution("ruby"))]
    verdicts = _judge(executor, items)
    for v in verdicts[:3]:   # printing the first expected output passes that test only
        assert v.status is Status.FAILED and v.tests[0].passed and v.n_passed < v.n_tests, v.detail
    assert not verdicts[3].passed and verdicts[3].n_passed < verdicts[3].n_tests


def test_generation_stops_at_the_call_of_main_and_nothing_after_it_runs(executor):
    t = _world().tasks[5]
    for la in LANGS:
        ref = t.solution(la)
        assert t.truncate(la, ref) == ref and ref.rstrip().endswith(t.stop(la)[0].strip())
        assert t.truncate(la, ref + "garbage that does not parse (\n") == ref
        assert t.truncate(la, ref[:-8]) == ref[:-8]           # not finished: kept as it is
    v = _judge(executor, [(t, "python", t.solution("python") + "raise SystemExit(3)\n")])[0]
    assert v.passed


def test_rewards_and_evaluation_judge_io_tasks_by_their_outputs(executor):
    from train.evaluate import EvalConfig, evaluate_checkpoint
    from train.rewards import TestReward
    tasks = _combinations(_world())[:4]
    wrong = "\nprint(0)\nmain()\n"
    reward = TestReward(executor, tasks, mode="fraction")
    got = reward([""] * 8, [t.solution("python") for t in tasks] + [wrong] * 4, [t.id for t in tasks] * 2, "python")
    assert got[:4] == [1.0] * 4 and all(0.0 <= g < 1.0 for g in got[4:])
    assert reward.timings[-1]["programs"] == 8    # one round: the verdicts count their tests
    assert TestReward(executor, tasks, mode="all")([""] * 4, [wrong] * 4, [t.id for t in tasks], "python") == [0.0] * 4

    def refs(chosen, lang, params):
        return [[t.solution(lang) if i % 2 == 0 else wrong] for i, t in enumerate(chosen)]
    cfg = EvalConfig(langs=("lua", "perl"), n_tasks=0, n_boot=200)
    rows, scores = evaluate_checkpoint(None, None, tasks, cfg, executor, progress=False, generate_fn=refs)
    assert {la: scores[la]["pass@1"] for la in cfg.langs} == {"lua": 0.5, "perl": 0.5}
    failed = [r for r in rows if not r["passed"]]
    assert failed and all(r["detail"].startswith("private test") for r in failed)


@pytest.mark.slow
def test_psft_run_micro_in_io_form_runs_end_to_end(tmp_path):
    """The whole pipeline (world -> ... -> RL -> evaluation -> probes -> report) on the world in I/O form:
    ~4 minutes on 2 loaded cores."""
    root = tmp_path / "io"
    done = subprocess.run([*PSFT, "run", "--recipe", "micro", "--set", "world.form=io", "--out", str(root), "--quiet"],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((root / "config.json").read_text())["world"]["form"] == "io"
    rows = [json.loads(x) for x in (root / "evals" / "rl-parallel.jsonl").read_text().splitlines()]
    assert {r["lang"] for r in rows} == set(LANGS)
    assert all(r["prompt"].rstrip().endswith("the string on the next line.") for r in rows)
    assert all(r["passed"] or r["detail"] for r in rows)
    scores = json.loads((root / "scores.json").read_text())
    assert set(scores["rl-parallel"]) == set(LANGS)
    assert (root / "report.html").is_file() and (root / "probes").is_dir()
