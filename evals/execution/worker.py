"""One sandboxed worker seen from the host: starts the supervisor in its sandbox and exchanges JSON lines.

A worker serves one request at a time. Every request carries a fresh nonce; the answer must be exactly
one line with that nonce. A missing, unparsable or mismatched answer, or any extra output (e.g. a line a
program managed to write into the protocol pipe), closes the worker: `request` then returns None or
{"error": ...}, and the worker restarts itself on the next request. Not for: scheduling many programs
(see `executor.py`) or judging results.
"""
from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import time

from . import sandbox

BASE_ENV = {"PATH": sandbox.RUNTIME_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class Worker:
    def __init__(self, slot: int, level: str, node_argv: list[str] | None, node_env: dict[str, str],
                 memory_mb: int = 1024, hide: tuple[str, ...] = ()):
        self.slot = slot
        self.hide = hide
        self.level = level
        self.node_argv = node_argv
        self.node_env = node_env
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self._buf = bytearray()
        self.restarts = -1
        self.user = sandbox.worker_user()  # kept across restarts

    def _start(self) -> None:
        env = {"PSFT_SCRATCH": sandbox.SCRATCH, "PSFT_PIDNS": "1" if self.level == "bwrap" else "0",
               "PSFT_BASE_ENV": json.dumps(BASE_ENV), "PSFT_NODE_RUNNER": json.dumps(self.node_argv),
               "PSFT_NODE_ENV": json.dumps(self.node_env), "PSFT_HOMES": json.dumps(sandbox.private_homes()),
               **BASE_ENV}
        if self.level == "process":  # no private /tmp: give each worker a scratch dir of its own
            import tempfile
            env["PSFT_SCRATCH"] = tempfile.mkdtemp(prefix=f"psft-w{self.slot}-")
        user = self.user
        if user and self.level == "process":
            os.chown(env["PSFT_SCRATCH"], *user)
        bpf = sandbox.seccomp_filter() if self.level == "bwrap" else None
        fd = None
        if bpf:
            fd = os.memfd_create("psft-seccomp", 0)
            os.write(fd, bpf)
            os.lseek(fd, 0, os.SEEK_SET)
        argv = sandbox.command(self.level, env, self.memory_mb, seccomp_fd=fd, hide=self.hide)
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env if self.level == "process" else BASE_ENV, cwd="/", pass_fds=(fd,) if fd is not None else (),
                user=user[0] if user else None, group=user[1] if user else None,
                extra_groups=[] if user else None, start_new_session=True)
        finally:
            if fd is not None:
                os.close(fd)
        self.restarts += 1
        self._buf = bytearray()
        line = self._readline(30.0)
        if not line or not json.loads(line).get("ready"):
            self.close()
            raise sandbox.SandboxUnavailable(
                f"the {self.level} sandbox did not start (argv: {' '.join(argv[:6])} ...); "
                "is bubblewrap installed and are user namespaces enabled?")

    def _readline(self, timeout: float) -> bytes:
        """One line from the supervisor within `timeout` (b"" on end of file or time-out); bytes after the
        line stay in `_buf`, where `_pending` sees them."""
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                return b""
            data = os.read(fd, 1 << 16)
            if not data:
                return b""
            self._buf += data
        i = self._buf.index(b"\n") + 1
        line = bytes(self._buf[:i])
        del self._buf[:i]
        return line

    def _pending(self) -> bool:
        """Whether the supervisor's pipe holds output nobody asked for (read already, or waiting)."""
        assert self.proc and self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout.fileno()], [], [], 0)
        return bool(self._buf) or bool(ready)

    def request(self, req: dict, timeout: float) -> dict | None:
        """Send one request (its "id" is replaced by a fresh nonce); None when the worker died or hung."""
        if self.proc is not None and self.proc.poll() is None and self._pending():
            self.close()  # a line nobody asked for: the channel cannot be trusted any more
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc and self.proc.stdin
        nonce = secrets.token_hex(16)
        req = dict(req, id=nonce)
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
        try:
            resp = json.loads(line)
        except ValueError:
            resp = None
        if not isinstance(resp, dict) or resp.get("id") != nonce:
            self.close()
            return {"error": "protocol: the worker's answer did not carry this request's nonce "
                             "(a forged or stray line); worker restarted"}
        return resp

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

