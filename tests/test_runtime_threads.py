"""`threads = 0` (auto): every core on an idle machine, one thread while other processes run."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from train.config import RuntimeConfig, auto_threads


def test_explicit_thread_counts_are_kept():
    assert auto_threads(3) == 3 and auto_threads(1) == 1
    with pytest.raises(ValueError, match="threads"):
        RuntimeConfig(threads=-1)


def _detached_spinners(n: int) -> list[int]:
    """`n` busy processes that are not our descendants (their parent exits at once): other processes. Each
    stops by itself after 30 s, should this test be killed before it kills them."""
    spin = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
    code = ("import subprocess, sys\nfor _ in range(int(sys.argv[1])): print(subprocess.Popen([sys.executable, '-c', "
            f"{spin!r}], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)")
    out = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True, timeout=30)
    return [int(x) for x in out.stdout.split()]


def test_auto_is_one_thread_while_other_processes_run():
    cores = len(os.sched_getaffinity(0))
    assert 1 <= auto_threads(0) <= cores
    if cores < 2:
        pytest.skip("one core: auto is always 1")
    spinners = _detached_spinners(cores)
    try:
        time.sleep(0.3)
        assert auto_threads(0) == 1
    finally:
        for pid in spinners:
            os.kill(pid, 9)


def test_a_runs_own_children_are_not_other_processes():
    """The sandbox workers of a run, and anything else it started, do not make it think the machine is busy."""
    from train.config import runnable_elsewhere
    cores = len(os.sched_getaffinity(0))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not their ancestor
    try:
        time.sleep(0.3)
        seen = []
        for _ in range(3):
            mine, theirs = runnable_elsewhere(), runnable_elsewhere(root=bystander.pid)
            seen.append((mine, theirs))
            if theirs >= mine + cores:   # seen from elsewhere, our spinners run; from here they do not count
                break
        else:
            pytest.fail(f"our {cores} spinning children were counted as other processes: {seen}")
    finally:
        for p in [*spinners, bystander]:
            p.kill()
            p.wait()
