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
    hidden = ["/tmp", "/var/tmp", "/dev/shm"]
    home = os.path.expanduser("~")
    if home not in ("/", "") and os.path.isdir(home):
        argv += ["--tmpfs", home]
        hidden.append(home)
    argv += _rebind_hidden(hidden) + ["--chdir", SCRATCH, "--clearenv"]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    return argv + ["--"] + sup


def _rebind_hidden(hidden: list[str]) -> list[str]:
    """A checkout under a hidden folder (the home folder, the usual place for a non-root user, or /tmp
    for a throwaway clone) must stay visible where the workers need it: the supervisor, servers and
    Node runner here, and @types/node in the venv. They are bound read-only over the private tmpfs."""
    from evals.languages.base import node_types_dir
    roots = [os.path.realpath(h).rstrip(os.sep) + os.sep for h in hidden]
    argv: list[str] = []
    for path in (str(HERE), node_types_dir()):
        real = os.path.realpath(path)
        if not os.path.isdir(real):
            continue
        for dest in dict.fromkeys((path, real)):  # the path itself and, if it is a link, its target
            if any((dest.rstrip(os.sep) + os.sep).startswith(r) for r in roots):
                argv += ["--ro-bind", _readable_copy(real), dest]
    return argv


_copies: dict[str, str] = {}


def _readable_copy(folder: str) -> str:
    """`folder`, or a world-readable copy of it when the worker's unprivileged user could not reach it.

    When we are root, bubblewrap itself runs as that user, so it must be able to read the folder it binds:
    a clone in a private folder (`mktemp -d` and /root are mode 0700) is out of its reach. The copy (a few
    MB at most) is made once per process and removed when the process exits."""
    if os.geteuid() != 0 or _others_can_read(folder):
        return folder
    if folder not in _copies:
        import atexit
        import shutil
        import tempfile
        top = tempfile.mkdtemp(prefix="psft-sandbox-")
        atexit.register(shutil.rmtree, top, True)
        copy = os.path.join(top, "d")
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
        for d, _, files in os.walk(top):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644 | (os.stat(os.path.join(d, f)).st_mode & 0o111))
        _copies[folder] = copy
    return _copies[folder]


def _others_can_read(folder: str) -> bool:
    """Whether a user with no special rights can list `folder`: every folder above it searchable by others."""
    import stat
    parts = folder.rstrip(os.sep).split(os.sep)
    for i in range(1, len(parts) + 1):
        mode = os.stat(os.sep.join(parts[:i]) or os.sep).st_mode
        if not mode & stat.S_IXOTH:
            return False
    return bool(os.stat(folder).st_mode & stat.S_IROTH)
