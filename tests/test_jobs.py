"""`psft run --jobs N`: independent stages run at once in child processes, with the results of one after
another. The scheduler is tested on a small graph whose stages are real processes; the rest on copies of the
session's real micro run (tests/micro_run.py) with a few stages' markers and outputs deleted."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.jobs import StageFailed, run_jobs, stage_threads
from app.runfs import EventLog
from app.stages import Stage, StageRunner

from .conftest import REPO
from .micro_run import PSFT

# A synthetic stage process: sleeps, then fails or writes the marker the runner expects, with its times.
STAGE_SCRIPT = """
import json, sys, time
root, name, h, sleep, fail, threads = sys.argv[1:]
t0 = time.time()
time.sleep(float(sleep))
if fail == "1":
    raise ValueError("boom in " + name)
with open(f"{root}/stages/{name}.json", "w") as f:
    json.dump({"stage": name, "hash": h, "t0": t0, "t1": time.time(), "threads": int(threads)}, f)
"""


def _synthetic(root: Path, sleeps: dict[str, float], fail=()):
    launched = []

    def launch(name, h, threads, log):
        launched.append(name)
        return subprocess.Popen([sys.executable, "-c", STAGE_SCRIPT, str(root), name, h, str(sleeps[name]),
                                 "1" if name in fail else "0", str(threads)], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    (root / "stages").mkdir(parents=True, exist_ok=True)
    return StageRunner(root, EventLog(root / "events.jsonl"), quiet=True), launch, launched


def _stage(name, after=()):
    return Stage(name, {"name": name}, lambda: None, after=list(after))


def test_ready_stages_run_at_most_n_at_once_and_only_after_their_upstream(tmp_path):
    graph = [_stage("a"), _stage("b", ["a"]), _stage("c", ["a"]), _stage("d", ["a"]), _stage("e", ["b", "c", "d"])]
    # c outlasts b by far, so d starts beside c (were b and c to end in one poll, d would start alone, every
    # stage left waiting for it: all the threads, as for a)
    runner, launch, launched = _synthetic(tmp_path, {"a": 0.4, "b": 0.3, "c": 1.5, "d": 0.3, "e": 0.3})
    run_jobs(graph, runner, 2, launch, threads=4)
    marks = {n: json.loads((tmp_path / "stages" / f"{n}.json").read_text()) for n in "abcde"}
    assert sorted(runner.ran) == list("abcde") and runner.skipped == []
    # a and e run alone with everything left waiting for them: all the threads; b, c, d share them
    assert {n: marks[n]["threads"] for n in "abcde"} == {"a": 4, "b": 2, "c": 2, "d": 2, "e": 4}
    assert all(marks[n]["t0"] >= marks["a"]["t1"] for n in "bcd")
    assert marks["e"]["t0"] >= max(marks[n]["t1"] for n in "bcd")
    overlap = [sum(marks[n]["t0"] <= marks[m]["t0"] < marks[n]["t1"] for n in "abcde") for m in "abcde"]
    assert max(overlap) == 2   # b and c ran together (counting itself), never three at once
    # done and matching: nothing starts again
    again, launch2, launched2 = _synthetic(tmp_path, dict.fromkeys("abcde", 0.0))
    run_jobs(graph, again, 2, launch2)
    assert launched2 == [] and again.skipped == list("abcde")
    # as one after another: a done stage is skipped once its upstream is done, so e waits for a again
    for n in "ae":
        (tmp_path / "stages" / f"{n}.json").unlink()
    redo, launch3, launched3 = _synthetic(tmp_path, dict.fromkeys("abcde", 0.4))
    run_jobs(graph, redo, 2, launch3)
    marks = {n: json.loads((tmp_path / "stages" / f"{n}.json").read_text()) for n in "ae"}
    assert launched3 == ["a", "e"] and redo.skipped == list("bcd") and marks["e"]["t0"] >= marks["a"]["t1"]


def test_a_failed_stage_starts_nothing_new_and_its_running_sibling_finishes(tmp_path):
    graph = [_stage("a"), _stage("b", ["a"]), _stage("c", ["a"]), _stage("d", ["a"]), _stage("e", ["b", "c", "d"])]
    runner, launch, launched = _synthetic(tmp_path, {"a": 0, "b": 0, "c": 1.5, "d": 0, "e": 0}, fail={"b"})
    with pytest.raises(StageFailed) as e:
        run_jobs(graph, runner, 2, launch)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("stage b failed (exit 1: ValueError: boom in b)")
    assert msg.endswith(str(tmp_path / "logs" / "b.log"))
    assert "Traceback" in (tmp_path / "logs" / "b.log").read_text()
    assert launched == ["a", "b", "c"] and (tmp_path / "stages" / "c.json").exists()
    assert not (tmp_path / "stages" / "d.json").exists() and not (tmp_path / "logs" / "d.log").exists()


def test_event_log_lines_from_several_processes_never_interleave(tmp_path):
    path = tmp_path / "events.jsonl"
    code = ("import sys; from pathlib import Path; from app.runfs import EventLog; log = EventLog(Path(sys.argv[1]))\n"
            "for i in range(40): log('big', writer=sys.argv[2], i=i, blob=sys.argv[2] * 300_000)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), w], env=env) for w in "wxyz"]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 160 and all(r["blob"] == r["writer"] * 300_000 for r in rows)


def test_jobs_is_for_cpu_runs_and_splits_the_threads():
    from app.preflight import BadInput, check_jobs
    from train.recipe import load_recipe
    check_jobs(load_recipe("micro", {"runtime.jobs": "2"}))
    with pytest.raises(BadInput, match=r"jobs = 2: parallel stages are for CPU runs.*\[rl\].device = 'cuda'"):
        check_jobs(load_recipe("micro", {"runtime.jobs": "2", "rl.device": "cuda"}))
    with pytest.raises(BadInput, match=r"\[runtime\].device = 'auto'"):
        check_jobs(load_recipe("micro", {"runtime.jobs": "2", "runtime.device": "auto"}))
    check_jobs(load_recipe("micro", {"runtime.device": "auto"}))   # jobs = 1: anything goes
    assert [stage_threads(t, j, False) for t, j in [(4, 2), (2, 2), (1, 3)]] == [2, 1, 1]
    assert stage_threads(2, 2, alone=True) == 2


def test_jobs_below_one_is_refused_before_the_run_folder_is_touched(tmp_path, capsys):
    assert main(["run", "--recipe", "micro", "--out", str(tmp_path / "r"), "--jobs", "0"]) == 2
    assert "jobs" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_a_stage_process_rebuilds_every_builtin_recipe_to_the_same_stage_hashes():
    """What `stage_launcher` hands a stage process (the resolved recipe as JSON) rebuilds the same recipe, so
    the same graph and hashes, whatever the seed; jobs and the threads it sets are in no hash."""
    import dataclasses

    from app.pipeline import build_graph
    from app.preflight import interventions_config, probe_config
    from app.sources import source_for
    from app.stages import graph_hashes
    from train.bench_recipe import BENCH_BUILTIN
    from train.recipe import BUILTIN, load_recipe, recipe_from_dict

    def hashes(r):
        s = source_for(r)
        return graph_hashes(build_graph(r, s, None, probe_config(r, s), interventions_config(r, s)))
    for name in [*BUILTIN, *BENCH_BUILTIN]:
        recipe = load_recipe(name).with_seed(3)
        data = json.loads(json.dumps(recipe.to_dict()))
        if name in BENCH_BUILTIN:
            data["path"] = recipe.path
        child = recipe_from_dict(data)
        child = dataclasses.replace(child, runtime=dataclasses.replace(child.runtime, threads=1, jobs=1))
        assert child == dataclasses.replace(recipe, runtime=child.runtime), name
        assert hashes(child) == hashes(load_recipe(name, {"runtime.jobs": "4"}).with_seed(3)), name


def test_a_stage_process_refuses_a_recipe_whose_hash_differs(tmp_path):
    from app.pipeline import run_stage_job
    from app.stages import StageOrderError
    from train.recipe import load_recipe
    spec = {"recipe": load_recipe("micro").to_dict(), "root": str(tmp_path), "stage": "eval-base",
            "hash": "000000000000", "threads": 1, "quiet": True, "parent": os.getpid()}
    with pytest.raises(StageOrderError, match=r"eval-base: hash .* \(not the same recipe\)"):
        run_stage_job(spec)
    assert not (tmp_path / "stages").exists()


# ---- on a copy of the real micro run ----------------------------------------------------------------

@pytest.fixture(scope="module")
def micro_run(tmp_path_factory):
    from .micro_run import shared_micro_run
    return shared_micro_run(tmp_path_factory).root


def _copy_without(micro_run: Path, dest: Path, evals: list[str], more=()) -> Path:
    shutil.copytree(micro_run, dest)
    for c in evals:
        (dest / "stages" / f"eval-{c}.json").unlink()
        for f in (dest / "evals").glob(f"{c}.*"):
            f.unlink()
    for name in more:
        (dest / "stages" / f"{name}.json").unlink()
    return dest


def _rows(path: Path) -> list[dict]:
    """Evaluation rows less `detail`, the tail of a failed program's error output, which quotes the sandbox's
    own program folder (/tmp/run/p<N>/: a counter of that process), so its cut shifts with N's digits."""
    return [{k: v for k, v in json.loads(x).items() if k != "detail"} for x in path.read_text().splitlines()]


def _events(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_failed_stage_stops_the_run_in_one_line_and_resume_with_jobs_gives_the_original_outputs(
        micro_run, tmp_path, capsys):
    evals = ["rl-mono", "rl-multi", "rl-parallel"]
    root = _copy_without(micro_run, tmp_path / "micro", evals, more=["tables"])
    weights = root / "checkpoints" / "rl-mono" / "model.safetensors"
    weights.write_bytes(b"not a safetensors file")
    argv = ["run", "--recipe", "micro", "--out", str(root), "--resume", "--jobs", "2", "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("psft run: stage eval-rl-mono failed (exit 1: ")
    assert str(root / "logs" / "eval-rl-mono.log") in err[0]
    # the sibling that was running finished; nothing started after the failure
    assert json.loads((root / "stages" / "eval-rl-multi.json").read_text())["hash"] == \
        json.loads((micro_run / "stages" / "eval-rl-multi.json").read_text())["hash"]
    assert not (root / "stages" / "eval-rl-parallel.json").exists() and not (root / "logs" / "eval-rl-parallel.log").exists()

    shutil.copy(micro_run / "checkpoints" / "rl-mono" / "model.safetensors", weights)
    assert main(argv) == 0
    ends = [e for e in _events(root) if e["event"] == "run_end"]
    assert set(ends[-1]["ran"]) == {"eval-rl-mono", "eval-rl-parallel", "tables"}
    starts = {e["stage"]: e["t"] for e in _events(root) if e["event"] == "job_start"}
    finished = {e["stage"]: e["t"] for e in _events(root) if e["event"] == "job_end"}
    assert starts["eval-rl-parallel"] < finished["eval-rl-mono"]   # the two ran at once
    for stage in ["eval-rl-mono", "eval-rl-multi", "eval-rl-parallel", "tables", "report"]:
        assert json.loads((root / "stages" / f"{stage}.json").read_text())["hash"] == \
            json.loads((micro_run / "stages" / f"{stage}.json").read_text())["hash"], stage
    for c in evals:
        assert (root / "evals" / f"{c}.scores.json").read_text() == (micro_run / "evals" / f"{c}.scores.json").read_text()
        assert _rows(root / "evals" / f"{c}.jsonl") == _rows(micro_run / "evals" / f"{c}.jsonl")
    for f in ["scores.json", "transfer.json"]:
        assert (root / f).read_text() == (micro_run / f).read_text()


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of group `pgid` that are not zombies (a zombie may wait for a reaper in a container)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_run_leaves_no_stage_process_running(micro_run, tmp_path, sig):
    root = _copy_without(micro_run, tmp_path / "micro", ["rl-mono", "rl-multi"])
    parent = subprocess.Popen([*PSFT, "run", "--recipe", "micro", "--out", str(root), "--resume", "--jobs", "2",
                               "--quiet"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pids, deadline = [], time.time() + 120
    while len(pids) < 2 and time.time() < deadline and parent.poll() is None:
        time.sleep(0.1)
        if (root / "events.jsonl").exists():
            pids = [e["pid"] for e in _events(root) if e["event"] == "job_start"]
    assert len(pids) == 2, parent.stderr.read() if parent.poll() is not None else "no stage started"
    parent.send_signal(sig)
    assert parent.wait(timeout=60) == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    deadline = time.time() + 30
    while any(_alive_in_group(p) for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive_in_group(p) for p in pids)
