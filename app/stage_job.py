"""`python -m app.stage_job`: the child process of `psft run --jobs N`, one stage of a run
(`app.pipeline.run_stage_job`; what it reads on stdin: `app.pipeline.stage_launcher`).

It dies with the process that started it (Linux: the parent-death signal), and SIGTERM ends it through
Python's exit path, so the stage's temporary output folder and its sandbox workers are cleaned up. Not for
users: `psft run --stage NAME --resume` runs one stage by hand.
"""
from __future__ import annotations

import json
import os
import signal
import sys


def die_with_parent(parent: int) -> None:
    """SIGTERM this process when `parent` exits (Linux prctl PR_SET_PDEATHSIG; elsewhere nothing); exit now if
    it already has."""
    if sys.platform.startswith("linux"):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit(143)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    spec = json.loads(sys.stdin.read())
    die_with_parent(spec["parent"])
    from app.pipeline import run_stage_job
    run_stage_job(spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
