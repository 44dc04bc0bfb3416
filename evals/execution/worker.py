"""One sandboxed worker seen from the host: starts the supervisor in its sandbox and exchanges JSON lines.

A worker serves one request at a time. When it dies (a program killed it, or it hung), `request`
returns None and the worker restarts itself on the next request. Not for: scheduling many programs
(see `executor.py`) or judging results.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time

from . import sandbox

BASE_ENV = {"PATH": sandbox.RUNTIME_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class Worker:
    def __init__(self, slot: int, level: str, node_argv: list[str] | None, node_env: dict[str, str]):
        self.slot = slot
        self.level = level
        self.node_argv = node_argv
        self.node_env = node_env
        self.proc: subprocess.Popen | None = None
        self.restarts = -1
        self.user = sandbox.worker_user()  # kept across restarts

    def _start(self) -> None:
        python = sandbox.which("python3")
        env = {"PSFT_SCRATCH": sandbox.SCRATCH, "PSFT_PIDNS": "1" if self.level == "bwrap" else "0",
               "PSFT_BASE_ENV": json.dumps(BASE_ENV), "PSFT_NODE_RUNNER": json.dumps(self.node_argv),
               "PSFT_NODE_ENV": json.dumps(self.node_env), **BASE_ENV}
        if self.level == "process":  # no private /tmp: give each worker a scratch dir of its own
            import tempfile
            env["PSFT_SCRATCH"] = tempfile.mkdtemp(prefix=f"psft-w{self.slot}-")
        user = self.user
        if user and self.level == "process":
            os.chown(env["PSFT_SCRATCH"], *user)
        argv = sandbox.command(self.level, python, env)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env if self.level == "process" else BASE_ENV, cwd="/",
            user=user[0] if user else None, group=user[1] if user else None,
            extra_groups=[] if user else None, start_new_session=True)
        self.restarts += 1
        line = self._readline(30.0)
        if not line or not json.loads(line).get("ready"):
            self.close()
            raise sandbox.SandboxUnavailable(
                f"the {self.level} sandbox did not start (argv: {' '.join(argv[:6])} ...); "
                "is bubblewrap installed and are user namespaces enabled?")

    def _readline(self, timeout: float) -> bytes:
        assert self.proc and self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else b""

    def request(self, req: dict, timeout: float) -> dict | None:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc and self.proc.stdin
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            line = self._readline(max(deadline - time.monotonic(), 0.1))
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            self.close()  # dead or hung: the next request starts a fresh one
            return None
        return json.loads(line)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 9)
        except OSError:
            pass
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f and f.close()
            except OSError:
                pass
        self.proc = None
