"""How a worker's sandbox is built: the bubblewrap command line, the seccomp filter, the execute-only
copies of the trusted interpreters, and the unprivileged user it all runs as.

The threat model: the program under test is an adversary. An RL policy optimises against our verdicts,
so a program may try to forge its own verdict, change another program's, escape, or exhaust the host.

What the sandbox guards against (with bubblewrap, the default):
- network: a new, empty network namespace (no interfaces but a down loopback): nothing leaves;
- the filesystem: everything read-only but private tmpfs mounts for /tmp, /var/tmp, /dev/shm and the
  caller's home, each capped (together at most the memory limit) and wiped after every program, build
  caches included: nothing a program writes reaches the host or the next program; the prebuilt build
  artefacts (C++ precompiled headers, Go's standard library: `prebuilt.py`) are read-only to programs;
- other processes: a private PID namespace (a program sees and can signal only its own worker),
  IPC and UTS namespaces; when the worker's host process dies, the whole namespace is killed;
- the trusted processes of a worker (the supervisor, the fork servers, the warm Node runner, the Java
  compile server): each is
  started from an execute-only copy of its interpreter (`trusted_binary`), so the kernel makes it
  non-dumpable: a program of the same uid cannot open its /proc/<pid>/mem, /proc/<pid>/fd/* (the
  protocol pipes) or ptrace it; a seccomp filter (`seccomp_filter`) also denies ptrace,
  process_vm_readv/writev, pidfd_getfd, kcmp, perf_event_open, System V / POSIX message IPC and the
  kernel keyrings to every process of the sandbox (cross-process reads, and channels that would outlive
  a program);
- forged answers: every request carries a fresh nonce, and an answer with another nonce, or an extra
  line, is a `sandbox_error` and restarts the worker (or the helper), never a verdict;
- forged passes: a program built by our harnesses is sealed (`Language.seal`): it must print a fresh
  random token, which it reads (and deletes) before any of its own code runs, after its last test;
  an early exit or an exit hook therefore fails (see PROOF in `evals/languages/base.py`);
- privileges: the worker runs as an unprivileged user (uid 100000+ when we are root, since root
  ignores RLIMIT_NPROC and may write anywhere), with every capability dropped and no new privileges;
- the environment: cleared; programs see only PATH, HOME, TMPDIR, LANG and their language's settings.
Per program (see `supervisor.py`): its own temporary directory, a fresh process group killed whole,
rlimits on CPU, memory, processes, file size and open files, and capped output.

What it does not guard against: kernel exploits; reading world-readable files of the host (the
filesystem is visible read-only, minus the home directory); CPU and memory contention with other
programs on the machine (limits are per program, not a reserved share); a program killing its own
worker (the executor restarts the worker and reports a runtime error); timing side channels; a sealed
program that searches its own interpreter's memory for the harness's state (the token is held only in
the harness's closures, never in a name, a file or a descriptor the program can open).
Without bubblewrap (`sandbox="process"`, a fallback with a warning) only the per-program measures, the
user switch and the non-dumpable trusted processes remain: no network, filesystem or seccomp isolation.
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
CACHE = "/tmp/cache"  # build caches (e.g. Go's), wiped after every program like the rest
TRUSTED = "/tmp/.trusted"  # where the execute-only interpreter copies are bound, read-only
# Shares of the memory limit for the private tmpfs mounts (memory-backed): together at most the limit.
TMPFS_SHARES = {"/tmp": 0.5, "/var/tmp": 0.125, "/dev/shm": 0.25, "home": 0.125}
# Denied to every process in the sandbox (EPERM): reading or writing another process, and channels that
# outlive a program (System V IPC objects and message queues, kernel keyrings).
DENIED_SYSCALLS = ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp",
                   "perf_event_open", "shmget", "msgget", "semget", "mq_open", "add_key", "request_key",
                   "keyctl")


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


def command(level: str, env: dict[str, str], memory_mb: int, seccomp_fd: int | None = None,
            hide: tuple[str, ...] = ()) -> list[str]:
    """argv that starts one worker's supervisor under the given sandbox level.

    `memory_mb` sizes the private tmpfs mounts (`TMPFS_SHARES`); `seccomp_fd` is a descriptor holding the
    compiled filter (`seccomp_filter`), inherited by bubblewrap; `hide` (see `hidden_files`) are files
    covered by an empty one (/dev/null, bound read-only), so no program reads them."""
    sup = [trusted_path(level, which("python3")), "-I", "-S", str(SUPERVISOR)]
    if level == "process":
        return sup
    argv = [bwrap_path(), "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--as-pid-1", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--disable-userns"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    home = os.path.expanduser("~")
    mounts = ["/tmp", "/var/tmp", "/dev/shm"] + private_homes()
    for m in mounts:  # --size applies to the next --tmpfs only
        share = TMPFS_SHARES["home" if m == home else m]
        argv += ["--size", str(max(int(share * memory_mb), 8) << 20), "--tmpfs", m]
    argv += ["--dir", SCRATCH, "--dir", CACHE, "--dir", TRUSTED]
    for host_copy in _trusted_copies.values():
        argv += ["--ro-bind", host_copy, f"{TRUSTED}/{os.path.basename(host_copy)}"]
    argv += _rebind_hidden(mounts)
    for path in hide:
        argv += ["--ro-bind", "/dev/null", path]
    argv += ["--chdir", SCRATCH, "--clearenv"]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    return argv + ["--"] + sup


def hidden_files(paths) -> tuple[str, ...]:
    """The files to cover in the sandbox: each path and, when it is a link, its target (folders are given
    as the files in them, so that a checkout inside one stays visible)."""
    out: dict[str, None] = {}
    for p in paths:
        p = os.path.abspath(os.fspath(p))
        found = [os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs] if os.path.isdir(p) else [p]
        for f in found:
            if os.path.isfile(f):
                out[f] = None
                out[os.path.realpath(f)] = None
    return tuple(out)


def private_homes() -> list[str]:
    """The caller's home folder, hidden under a private tmpfs in the sandbox (none when there is none)."""
    home = os.path.expanduser("~")
    return [home] if home not in ("/", "") and os.path.isdir(home) else []


def seccomp_filter() -> bytes | None:
    """The compiled BPF filter that denies `DENIED_SYSCALLS` (EPERM) and allows the rest; None when
    libseccomp is missing. Built with pyseccomp (a ctypes binding of libseccomp with the API of its
    official Python binding), once per process."""
    global _seccomp
    if _seccomp is None:
        try:
            import errno
            import tempfile

            import pyseccomp
        except (ImportError, OSError):
            _seccomp = b""
        else:
            f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
            for name in DENIED_SYSCALLS:
                f.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
            with tempfile.TemporaryFile() as t:
                f.export_bpf(t)
                t.seek(0)
                _seccomp = t.read()
    return _seccomp or None


_seccomp: bytes | None = None
_trusted_copies: dict[str, str] = {}


def trusted_binary(path: str) -> str:
    """A host copy of the executable `path` that the worker's user may execute but not read.

    The kernel makes a process that executes a file it cannot read non-dumpable, so no process of the
    same uid can open its /proc/<pid>/mem or /proc/<pid>/fd/*, or ptrace it: this is how the supervisor,
    the fork servers and the Node runner are kept out of the programs' reach without a second uid. The
    copies (one per binary, made once per process) are removed when the process exits."""
    real = os.path.realpath(path)
    if real not in _trusted_copies:
        import atexit
        import shutil
        import tempfile
        # A folder whose file system allows execution (set PSFT_TRUSTED_DIR where /tmp is mounted noexec).
        top = tempfile.mkdtemp(prefix="psft-trusted-", dir=os.environ.get("PSFT_TRUSTED_DIR") or None)
        os.chmod(top, 0o711)
        atexit.register(shutil.rmtree, top, True)
        name = os.path.basename(real)
        copy = os.path.join(top, name)
        shutil.copyfile(real, copy)
        os.chmod(copy, 0o111 if os.geteuid() != 0 else 0o711)  # root keeps owner rights; workers are others
        _trusted_copies[real] = copy
    return _trusted_copies[real]


def trusted_path(level: str, path: str | None) -> str:
    """Where a trusted interpreter is run from, seen from inside the sandbox of `level`."""
    if path is None:
        raise SandboxUnavailable("python3 is not installed where the sandbox can run it")
    copy = trusted_binary(path)
    return copy if level == "process" else f"{TRUSTED}/{os.path.basename(copy)}"


def _rebind_hidden(hidden: list[str]) -> list[str]:
    """A checkout under a hidden folder (the home folder, the usual place for a non-root user, or /tmp
    for a throwaway clone) must stay visible where the workers need it: the supervisor, servers and
    Node runner here, the venv's npm packages (@types/node, js-md5) and the prebuilt artefacts
    (`prebuilt.py`). They are bound
    read-only over the private tmpfs."""
    from evals.languages.base import node_types_dir, npm_modules_dir

    from . import prebuilt
    roots = [os.path.realpath(h).rstrip(os.sep) + os.sep for h in hidden]
    argv: list[str] = []
    for path in (str(HERE), npm_modules_dir(), node_types_dir(), str(prebuilt.root() or "")):
        if not path:
            continue
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
