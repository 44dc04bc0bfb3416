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


def test_auto_is_one_thread_while_other_processes_run():
    cores = len(os.sched_getaffinity(0))
    assert 1 <= auto_threads(0) <= cores
    if cores < 2:
        pytest.skip("one core: auto is always 1")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.3)
        assert auto_threads(0) == 1
    finally:
        for p in spinners:
            p.kill()
            p.wait()
