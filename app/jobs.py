"""Running a stage graph's independent stages at once, each in its own process (`psft run --jobs N`).

A stage is ready when every stage it reads (`Stage.after`) is done; up to `jobs` ready stages run at a
time, in graph order, each in a child process that `launch` starts (for a run: `app.stage_job`, which
rebuilds the recipe the parent resolved, checks the stage's hash and runs that stage alone, as `psft run
--stage NAME --resume` does). The child writes the stage's outputs and marker; the parent counts a stage
done when its marker holds the hash the parent computed. A child's output goes to `logs/<stage>.log`.

Failure: a failed stage starts no other one; the running ones finish (their markers stay, so `--resume`
goes on from there) and `StageFailed` names the stage and its log. Interruption (Ctrl-C, SIGTERM): every
child is the leader of its own process group, which gets SIGTERM, then SIGKILL after `GRACE` seconds, so
nothing a stage started outlives the run; a child also gets SIGTERM when the parent dies (`app.stage_job`).
Polling the children every `POLL` seconds is enough: stages last seconds to hours. Not for: what a stage
does (`pipeline.py`), hashes and markers (`stages.py`).
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .stages import Stage, StageOrderError, StageRunner, graph_hashes

POLL = 0.2    # seconds between looks at the running children
GRACE = 10.0  # seconds a stopped child has to exit after SIGTERM before its group gets SIGKILL

# launch(stage name, its expected hash, its torch threads, the open log file) -> the started child (its own
# process group)
Launch = Callable[[str, str, int, IO], subprocess.Popen]


class StageFailed(Exception):
    """A stage's process failed; `str(e)` is one line naming the stage and where its traceback is."""


def stage_threads(threads: int, jobs: int, alone: bool) -> int:
    """Torch threads of one stage process: all the run's `threads` (resolved, >= 1) for a stage that runs alone
    while every stage still to run waits for it (pretraining: what jobs = 1 gives it), else `threads` split
    over `jobs`, at least 1, so one each when `jobs` >= the cores."""
    return threads if alone else max(1, threads // jobs)


def log_path(root: Path, stage: str) -> Path:
    return Path(root) / "logs" / f"{stage}.log"


@dataclass
class _Job:
    stage: str
    proc: subprocess.Popen
    log: IO
    t0: float


def run_jobs(stages: list[Stage], runner: StageRunner, jobs: int, launch: Launch, threads: int = 1) -> None:
    """Run `stages` as `StageRunner.run_graph` does, but up to `jobs` at a time, each as `launch` starts it with
    its share of the run's `threads` (`stage_threads`): once its upstream stages are done, a stage whose marker
    holds its hash is skipped, any other runs. Fills `runner.hashes`, `.ran` and `.skipped`."""
    hashes = graph_hashes(stages)
    runner.hashes.update(hashes)
    after = {s.name: s.after for s in stages}
    below = downstream(stages)
    done: set[str] = set()          # done with its upstream: what a stage waits for
    pending = [s.name for s in stages]
    running: dict[str, _Job] = {}
    failure: str | None = None
    main_thread = threading.current_thread() is threading.main_thread()   # where signal handlers may be set
    old_term = signal.signal(signal.SIGTERM, _exit_on_sigterm) if main_thread else None
    try:
        while pending or running:
            while failure is None:
                ready = next((n for n in pending if all(a in done for a in after[n])), None)
                if ready is None:
                    break
                if runner.done(ready, hashes[ready]):   # checked once its upstream is done, as run_graph does
                    pending.remove(ready)
                    done.add(ready)
                    runner.skipped.append(ready)
                    runner.log("stage_skipped", stage=ready, hash=hashes[ready])
                    continue
                if len(running) >= jobs:
                    break
                pending.remove(ready)
                alone = not running and all(n in below[ready] for n in pending)
                running[ready] = _start(ready, hashes[ready], stage_threads(threads, jobs, alone), runner, launch)
            if not running:
                break
            time.sleep(POLL)
            for name, job in list(running.items()):
                if job.proc.poll() is None:
                    continue
                del running[name]
                why = _finish(job, hashes[name], runner)
                if why is None:
                    done.add(name)
                elif failure is None:
                    failure = why
                    if running:
                        runner.say(f"[{name}] failed: no new stage starts; waiting for {', '.join(running)}")
    finally:
        if running:
            _stop(list(running.values()), runner)
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
    if failure is not None:
        raise StageFailed(failure)
    if pending:   # a stage reads one that is not in the graph
        raise StageOrderError(f"stages {', '.join(pending)} wait for stages that are not in the graph")


def downstream(stages: list[Stage]) -> dict[str, set[str]]:
    """Stage name -> every stage that reads it, directly or not."""
    below: dict[str, set[str]] = {s.name: set() for s in stages}
    for s in reversed(stages):   # graph order: a stage comes after what it reads
        for a in s.after:
            below[a] |= {s.name} | below[s.name]
    return below


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)   # unwinds through run_jobs' `finally`, which stops the children


def _start(name: str, h: str, threads: int, runner: StageRunner, launch: Launch) -> _Job:
    path = log_path(runner.root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "w")
    proc = launch(name, h, threads, log)
    runner.log("job_start", stage=name, hash=h, pid=proc.pid, threads=threads,
               log=str(path.relative_to(runner.root)))
    runner.say(f"[{name}] started (output: {path})")
    return _Job(name, proc, log, time.time())


def _finish(job: _Job, h: str, runner: StageRunner) -> str | None:
    """Record a finished child; None when its stage is done, else one line saying why not."""
    job.log.close()
    rc, seconds = job.proc.returncode, round(time.time() - job.t0, 2)
    runner.log("job_end", stage=job.stage, returncode=rc, seconds=seconds)
    path = log_path(runner.root, job.stage)
    if rc == 0 and runner.done(job.stage, h):
        runner.ran.append(job.stage)
        runner.say(f"[{job.stage}] done in {seconds:.1f}s")
        return None
    if rc == 0:
        return (f"stage {job.stage} exited without its marker holding hash {h} (did the stage process resolve "
                f"another recipe?): see {path}")
    last = _last_line(path)
    return f"stage {job.stage} failed (exit {rc}{': ' + last if last else ''}); its output and traceback: {path}"


def _last_line(path: Path, limit: int = 300) -> str:
    """The log's last non-empty line (a traceback's exception line), cut to `limit` characters."""
    try:
        lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1][:limit] if lines else ""


def _stop(running: list[_Job], runner: StageRunner) -> None:
    """SIGTERM every running child's process group, then SIGKILL what is left after `GRACE` seconds."""
    runner.say(f"stopping {', '.join(j.stage for j in running)}")
    for job in running:
        _signal_group(job.proc, signal.SIGTERM)
    deadline = time.time() + GRACE
    for job in running:
        try:
            job.proc.wait(timeout=max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(job.proc, signal.SIGKILL)   # the stage's own children too, even once it has exited
        job.proc.wait()
        job.log.close()
        runner.log("job_stopped", stage=job.stage, returncode=job.proc.returncode)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)   # the child leads its own group (start_new_session)
    except ProcessLookupError:
        pass
