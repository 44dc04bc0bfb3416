"""How a worker's sandbox is built: the bubblewrap command line and the unprivileged user it runs as.

What the sandbox guards against (with bubblewrap, the default):
- network: a new, empty network namespace (no interfaces but a down loopback): nothing leaves;
- the filesystem: everything read-only, a private tmpfs for /tmp, /var/tmp, /dev/shm and the
  caller's home; nothing a program writes survives it or reaches the host;
- other processes: a private PID namespace (a program sees and can signal only its own worker),
  IPC and UTS namespaces; when the worker's host process dies, the whole namespace is killed;
- privileges: the worker runs as an unprivileged user (uid 60000+slot when we are root, since root
  ignores RLIMIT_NPROC and may write anywhere), with every capability dropped and no new privileges;
- the environment: cleared; programs see only PATH, HOME, TMPDIR, LANG and their language's settings.
Per program (see `supervisor.py`): its own temporary directory, a fresh process group killed whole,
rlimits on CPU, memory, processes, file size and open files, and capped output.

What it does not guard against: kernel exploits; reading world-readable files of the host (the
filesystem is visible read-only, minus the home directory); CPU and memory contention with other
programs on the machine (limits are per program, not a reserved share); a program killing its own
worker (the executor restarts the worker and reports a runtime error); timing side channels.
Without bubblewrap (`sandbox="process"`, a fallback with a warning) only the per-program measures and
the user switch remain: no network or filesystem isolation.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

from evals.languages.base import RUNTIME_PATH, find_runtime

__all__ = ["RUNTIME_PATH", "command", "find_runtime", "resolve_level", "which", "worker_user"]

# Workers of one process get consecutive uids in a block chosen by the process id, so that two
# executors (or two processes) rarely share a uid, and hence a process-count limit.
SANDBOX_UID_BASE = 100000
_UIDS_PER_PROCESS = 64
_next_uid = itertools.count()
HERE = Path(__file__).resolve().parent
SUPERVISOR = HERE / "supervisor.py"
NODE_RUNNER = HERE / "node_runner.js"
SCRATCH = "/tmp/run"  # programs' directories (wiped after each program)
CACHE = "/tmp/cache"  # build caches kept for a worker's lifetime (e.g. Go's)
TMPFS_BYTES = 1 << 30  # each private tmpfs (memory-backed) holds at most 1 GiB


class SandboxUnavailable(RuntimeError):
    pass


which = find_runtime


def bwrap_path() -> str | None:
    return which("bwrap")


def resolve_level(level: str) -> str:
    """'auto' picks bubblewrap when it is installed and works, else the process-level fallback."""
    if level not in ("auto", "bwrap", "process"):
        raise ValueError(f"unknown sandbox level {level!r}: use auto, bwrap or process")
    if level == "auto":
        return "bwrap" if bwrap_path() else "process"
    if level == "bwrap" and not bwrap_path():
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    return level


def worker_user() -> tuple[int, int] | None:
    """A fresh (uid, gid) for one worker to drop to, or None when we are already unprivileged."""
    if os.geteuid() != 0:
        return None
    block = os.getpid() % 10000
    uid = SANDBOX_UID_BASE + block * _UIDS_PER_PROCESS + next(_next_uid) % _UIDS_PER_PROCESS
    return uid, uid


def command(level: str, python: str, env: dict[str, str]) -> list[str]:
    """argv that starts one worker's supervisor under the given sandbox level."""
    sup = [python, "-I", "-S", str(SUPERVISOR)]
    if level == "process":
        return sup
    argv = [bwrap_path(), "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--disable-userns",
            "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/dev/shm",
            "--dir", SCRATCH, "--dir", CACHE]
    home = os.path.expanduser("~")
    if home not in ("/", "") and os.path.isdir(home):
        argv += ["--tmpfs", home]
        # A checkout under the home folder (the usual place for a non-root user) must stay visible where
        # the workers need it: the supervisor, servers and Node runner here, and @types/node in the venv.
        from evals.languages.base import node_types_dir
        for path in (str(HERE), node_types_dir()):
            if (path + os.sep).startswith(home.rstrip(os.sep) + os.sep) and os.path.isdir(path):
                argv += ["--ro-bind", path, path]
    argv += ["--chdir", SCRATCH, "--clearenv"]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    return argv + ["--"] + sup
