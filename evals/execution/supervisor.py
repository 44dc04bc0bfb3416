"""The in-sandbox supervisor: runs one program at a time, on request, inside a worker's sandbox.

Started by `worker.py` as `python3 -I -S supervisor.py` inside bubblewrap (or, without bubblewrap, as a
plain unprivileged process). Standard library only and single-threaded, because it forks itself.
It speaks JSON lines: one request on stdin, one response on stdout (see `handle`).

For every program it:
- makes a fresh directory under the sandbox's private /tmp, writes the files, and removes it after;
- runs each step (build, run) in a fresh session and process group, with resource limits (CPU, memory,
  processes, file size, open files), stdin from /dev/null, a scrubbed environment, and output read
  through pipes of which only a capped tail is kept;
- enforces the wall-clock limit, then kills the whole process group and, inside the sandbox's PID
  namespace, every other process it did not start itself (children that outlive their parent,
  `setsid` escapes), so nothing survives a program;
- for Python, forks itself instead of exec'ing an interpreter (a fork server: no start-up cost);
- for JavaScript/TypeScript, first offers the program to a warm Node runner (`node_runner.js`) and runs
  it in a fresh process when the runner declines or dies;
- for a request with `inputs` (a stdin/stdout program), builds once and then runs the program once per
  input, each run in a fresh copy of the built directory with only that input on stdin, the scratch
  spaces wiped between runs, and stdout kept from its start up to a cap (the host compares it with the
  expected output: no expected output ever enters the sandbox); runs after a timeout are skipped;
- when the request asks for a proof, writes its token to PROOF_FILE in the program's directory after
  the build and before the run (the sealed program reads and deletes it before any of its own code
  runs; see evals/languages/base.py), or hands it over in memory (`_run_step`): bound into the
  precompiled seal a Python child gets, in the Ruby server's request line, in the Node runner's request.
Every exchange with a helper (fork server, Node runner) carries a fresh nonce; an answer with another
nonce, or a line nobody asked for, stops that helper and is reported as an error, never as a verdict.

Not for: deciding statuses (the host does that from exit codes and stderr), or isolation by itself:
the namespaces, read-only filesystem and no-network come from the worker's bubblewrap command.
"""
import binascii
import io
import json
import linecache
import os
import resource
import select
import shutil
import signal
import sys
import time
import traceback
import types

PROTO_OUT = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)  # stray prints go to stderr, never into the protocol

SCRATCH = os.environ.get("PSFT_SCRATCH", "/tmp/run")
CACHE = "/tmp/cache"
TRUSTED = "/tmp/.trusted"  # the execute-only interpreter copies (a read-only mount): never wiped
PROOF_FILE = ".psft_proof"  # as evals/languages/base.py (this file imports nothing of the project)
SEAL_HANDOVER = "__psft_seal__"  # as evals/languages/python.py
IN_PIDNS = os.environ.get("PSFT_PIDNS") == "1"
NODE_ARGV = json.loads(os.environ.get("PSFT_NODE_RUNNER", "null"))
BASE_ENV = json.loads(os.environ.get("PSFT_BASE_ENV", "{}"))
HOMES = json.loads(os.environ.get("PSFT_HOMES", "[]"))  # the private tmpfs over the caller's home
_counter = 0
# A fresh runner is warmed up with a trivial program of the language first, outside every program's
# limits (the first TypeScript request loads the compiler and parses lib files: seconds on a busy
# machine); past this grace the runner is given up and the program runs in a fresh process.
WARM_GRACE_S = 30.0
# A warm run that has not answered within every step's limit plus this grace is a timeout (the runner's
# type check cannot be interrupted, so the deadline covers build and run together).
GRACE_S = 2.0
_node = None  # the warm Node runner: (pid, stdin fd, _Lines)
_servers = {}  # fork servers by language: (pid, stdin fd, _Lines)


def _nonce():
    return binascii.hexlify(os.urandom(12)).decode()


class _Lines:
    """Lines from a helper's output pipe, read with our own buffer so that `pending` sees every byte
    nobody asked for (a buffered file object would hide what it read ahead)."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self.fd], [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                return b""
            data = os.read(self.fd, 1 << 16)
            if not data:
                return b""
            self.buf += data
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line

    def pending(self):
        ready, _, _ = select.select([self.fd], [], [], 0)
        return bool(self.buf) or bool(ready)

    def close(self):
        os.close(self.fd)


def _tail(buf, data, cap):
    buf += data
    if len(buf) > 2 * cap:
        del buf[: len(buf) - cap]
    return buf


def _limit_values(limits, cpu_s, rlimit_as):
    mem = int(limits["memory_mb"]) * 1024 * 1024
    sets = [
        (resource.RLIMIT_CPU, (int(cpu_s) + 1, int(cpu_s) + 2)),
        (resource.RLIMIT_FSIZE, (int(limits["max_file_mb"]) * 1024 * 1024,) * 2),
        (resource.RLIMIT_NOFILE, (int(limits["max_open_files"]),) * 2),
        (resource.RLIMIT_NPROC, (int(limits["max_procs"]),) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if rlimit_as is True:
        sets.append((resource.RLIMIT_AS, (mem, mem)))
    elif rlimit_as == "data":  # JIT runtimes reserve address space; cap written data instead
        sets.append((resource.RLIMIT_DATA, (2 * mem, 2 * mem)))
    return sets


def _limits_in_child(limits, cpu_s, rlimit_as, pid=None):
    """Set the limits on this process, or (with `pid`) on another one of ours (a fork server's child)."""
    for what, value in _limit_values(limits, cpu_s, rlimit_as):
        try:
            if pid is None:
                resource.setrlimit(what, value)
            else:
                resource.prlimit(pid, what, value)
        except (ValueError, OSError):
            pass


def _spawn(step, workdir, limits, env):
    """Fork one step. Returns (pid, stdout_fd, stderr_fd)."""
    seal = _seal_code(step["seal"]) if step.get("pyfork") and step.get("seal") else None
    token = step["token"].encode() if seal is not None and step.get("handover") and step.get("token") else None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.setsid()
            for s in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
                signal.signal(s, signal.SIG_DFL)
            os.chdir(workdir)
            stdin = os.open(step.get("stdin") or os.devnull, os.O_RDONLY)
            os.dup2(stdin, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.closerange(3, 65536)
            _limits_in_child(limits, step["timeout"], step.get("rlimit_as", True))
            if step.get("pyfork"):
                _run_python_here(step["argv"][-1], env, seal, token)  # never returns
            os.execve(step["argv"][0], step["argv"], env)
        except BaseException as e:  # noqa: BLE001 - report anything, then die
            try:
                os.write(2, f"sandbox: could not start {step['argv'][0]}: {e}\n".encode())
            finally:
                os._exit(127)
    os.close(out_w)
    os.close(err_w)
    return pid, out_r, err_r


_seal_codes = {}


def _seal_code(source):
    """(source, its code), compiled here once per distinct source (at most a few are kept)."""
    code = _seal_codes.get(source)
    if code is None:
        if len(_seal_codes) >= 4:
            _seal_codes.clear()
        code = _seal_codes[source] = compile(source, "<psft seal>", "exec")
    return source, code


def _seal_handover(seal, token):
    """The one-shot builtin a sealed program's prologue takes (and removes) before any of its code runs:
    `f(source)` exec's `source` in a fresh namespace and returns its `seal` with this program's token
    bound (bytes; None: none was asked), from the code compiled in the fork server when `source` is the
    one the request named (the prologue passes the text it would otherwise exec itself, so both paths
    run the same code)."""
    known, code = seal

    def handover(source):
        namespace = {}
        exec(code if source == known else source, namespace)
        bound = namespace["seal"]
        return lambda top, last: bound(top, last, token)
    return handover


def _run_python_here(path, env, seal=None, token=None):
    """The fork server's child: become `python3 -I -S path` without starting an interpreter."""
    if seal is not None:
        setattr(sys.modules["builtins"], SEAL_HANDOVER, _seal_handover(seal, token))
    os.environ.clear()
    os.environ.update(env)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    sys.argv = [path]
    sys.path.insert(0, os.getcwd())
    path = os.path.join(os.getcwd(), path)  # as python3 FILE: the main module's file name is absolute
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    code = _exit_code(lambda: exec(compile(_read(path), path, "exec"), main.__dict__))
    # What Py_FinalizeEx does next, in its order: wait for non-daemon threads, then atexit callbacks
    # (SystemExit in either sets the status), then flush the standard streams.
    threading = sys.modules.get("threading")
    if threading is not None:
        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            code = _exit_code(shutdown, code)
    atexit = sys.modules.get("atexit")
    if atexit is not None:
        atexit._run_exitfuncs()  # prints (and ignores) errors of callbacks, as at interpreter exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        code = code or 120
    os._exit(code & 0xFF)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _exit_code(run, code=0):
    """Run `run()` as the interpreter runs a main module: SystemExit gives the status (a non-int code is
    printed), any other exception goes to sys.excepthook (the program may have replaced it) and gives 1."""
    try:
        run()
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:  # noqa: BLE001 - as the interpreter does: the hook, exit 1
        tb = e.__traceback__.tb_next if e.__traceback__ else None  # hide this frame
        if tb is not None and tb.tb_frame.f_code.co_name == "<lambda>":
            tb = tb.tb_next
        e.__traceback__ = tb  # the hook prints the exception's own traceback
        try:
            sys.excepthook(type(e), e, tb)
        except BaseException:  # noqa: BLE001 - a broken hook: the default one, as CPython falls back
            traceback.print_exception(type(e), e, tb)
        return 1
    return code


def _warm_python():
    """Run one failing program here, once: the state a forked Python program would otherwise set up anew
    (the compiler's AST types, traceback with its imports and caret parsing) is then inherited from the
    fork server. Measured: a failing program's child took 4.2 ms cold, 1.9 ms warm."""
    path = os.path.join(SCRATCH, "warm.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write("def f(x):\n    assert x == [1], f'got {x!r}'\n\n\nf([i * 2 for i in range(2)])\n")
    try:
        with open(path, encoding="utf-8") as f:
            exec(compile(f.read(), path, "exec"), {"__name__": "__warm__"})
    except AssertionError as e:
        traceback.format_exception(type(e), e, e.__traceback__)
    finally:
        os.unlink(path)
        linecache.clearcache()


def _kill_leftovers(keep):
    """Kill every process of the sandbox except ours (needs a private PID namespace to be safe)."""
    if not IN_PIDNS:
        return 0
    me = os.getpid()
    killed = 0
    for _ in range(50):
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if pid in (1, me) or pid in keep:
                continue
            found = True
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        _reap()
        if not found:
            break
        time.sleep(0.002)
    return killed


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _pump(out_r, err_r, cap, deadline, wait_fd, on_ready, head_cap=None):
    """Read a program's two pipes (keeping capped tails) until it ends or the deadline passes.

    `on_ready()` is called when `wait_fd` is readable and returns the wait status (and rusage) once
    the program has ended, else None. With `head_cap`, stdout is kept from its start instead, and
    reading stops (the program is then killed) once it has written more than `head_cap` bytes.
    Returns (status, rusage, exited_at, timed_out, bufs, sizes, overflow)."""
    bufs = {out_r: bytearray(), err_r: bytearray()}
    sizes = {out_r: 0, err_r: 0}
    open_fds = [out_r, err_r]
    status = rusage = exited_at = None
    timed_out = overflow = False
    while not overflow:
        now = time.monotonic()
        if status is None and now >= deadline:
            timed_out = True
            break
        if status is not None and (not open_fds or now - exited_at > 0.05):
            break  # done; or a leftover child holds the pipes open: stop reading, it will be killed
        watch = open_fds + ([wait_fd] if status is None else [])
        limit = deadline - now if status is None else 0.05 - (now - exited_at)
        ready, _, _ = select.select(watch, [], [], max(limit, 0.0))
        for fd in ready:
            if fd == wait_fd:
                ended = on_ready()
                if ended is not None:
                    (status, rusage), exited_at = ended, time.monotonic()
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                sizes[fd] += len(data)
                if fd == out_r and head_cap is not None:
                    bufs[fd] += data[: max(head_cap - len(bufs[fd]), 0)]
                    if sizes[fd] > head_cap:
                        overflow = True
                        break
                else:
                    _tail(bufs[fd], data, cap)
            else:
                open_fds.remove(fd)
    return status, rusage, exited_at, timed_out, bufs, sizes, overflow


def _step_result(step, t0, status, rusage, exited_at, timed_out, bufs, sizes, out_r, err_r, cap, overflow=False):
    duration = (exited_at or time.monotonic()) - t0
    leftovers = _kill_leftovers(_keep())
    _resume_helpers()
    for fd in (out_r, err_r):
        os.close(fd)
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return {
        "phase": step["phase"], "exit_code": exit_code, "signal": None if timed_out else sig,
        "timed_out": timed_out or sig == signal.SIGXCPU, "duration_s": round(duration, 4),
        "stdout": bytes(bufs[out_r] if step.get("stdout_head") else bufs[out_r][-cap:]).decode("utf-8", "replace"),
        "stdout_complete": not overflow,
        "stderr": bytes(bufs[err_r][-cap:]).decode("utf-8", "replace"),
        "stdout_bytes": sizes[out_r], "stderr_bytes": sizes[err_r],
        "maxrss_kb": rusage.ru_maxrss if rusage else 0, "leftovers_killed": leftovers,
    }


def _run_step(step, workdir, limits, env):
    """Run one step. A step with a `token` (the run of a program asked for a proof) gets it in the proof
    file, or, with `handover`, in memory: through its fork server's request line (Ruby) or bound into
    the precompiled seal (Python, `_seal_handover`); a program that falls back from its server to a
    fresh process gets the file."""
    limits = _beside_helpers(limits)
    if step.get("compile_server"):
        res = _run_build_in_server(step, workdir, limits)
        if res is not None:
            return res
    token = step.get("token")
    handover = token is not None and bool(step.get("handover"))
    if token is not None and not handover:
        _write_proof(workdir, token)
    if step.get("server"):
        res = _run_in_server(step, workdir, limits, token if handover else None)
        if res is not None:
            return res
    if handover and not step.get("pyfork"):
        _write_proof(workdir, token)
    t0 = time.monotonic()
    try:
        pid, out_r, err_r = _spawn(step, workdir, limits, env)
    except OSError as e:
        return {"error": f"fork failed: {e}"}
    pidfd = os.pidfd_open(pid)  # readable when the program exits: no polling

    def reap():
        wpid, wstatus, wru = os.wait4(pid, os.WNOHANG)
        return (wstatus, wru) if wpid == pid else None
    status, rusage, exited_at, timed_out, bufs, sizes, overflow = _watch(step, limits, t0, pid, pidfd, out_r,
                                                                         err_r, pidfd, reap)
    if status is None:
        _, status, rusage = os.wait4(pid, 0)
    return _step_result(step, t0, status, rusage, exited_at, timed_out, bufs, sizes, out_r, err_r,
                        int(limits["output_bytes"]), overflow)


def _watch(step, limits, t0, pid, pidfd, out_r, err_r, wait_fd, on_ready):
    """`_pump` until the program ends or times out, then kill its process group (leftovers included)."""
    result = _pump(out_r, err_r, int(limits["output_bytes"]), t0 + float(step["timeout"]), wait_fd, on_ready,
                   step.get("stdout_head"))
    os.close(pidfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    return result


# --- fork servers (Perl, PHP): the interpreter starts once, each program is a forked child ----------

class _MaxRSS:
    def __init__(self, kb):
        self.ru_maxrss = kb


def _state(pid):
    """A process's state letter from /proc (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def _run_in_server(step, workdir, limits, token=None):
    """Run one program as a child of its language's fork server; None = run it the usual way instead.
    `token`: the proof token, sent as the request line's sixth field (servers that take it: Ruby)."""
    spec = step["server"]
    key = spec["key"]
    helper = _servers.get(key)
    if helper is None:
        helper = _servers[key] = _helper_start(spec["argv"], dict(BASE_ENV, **spec.get("env", {})))
    hpid, w, r = helper
    nonce = _nonce()
    io_dir = workdir + ".io"
    os.mkdir(io_dir, 0o700)
    fifos = [os.path.join(io_dir, n) for n in ("out", "err")]
    for f in fifos:
        os.mkfifo(f, 0o600)
    # Read ends first (non-blocking opens succeed at once), plus our own write ends so that a read
    # sees "no data yet" rather than end-of-file until the child has opened the FIFOs.
    out_r, err_r = (os.open(f, os.O_RDONLY | os.O_NONBLOCK) for f in fifos)
    holds = [os.open(f, os.O_WRONLY | os.O_NONBLOCK) for f in fifos]
    pid = None
    try:
        if r.pending():
            raise OSError(f"fork server {key} wrote a line nobody asked for")
        extra = "" if token is None else f"\t{token}"
        if step.get("stdin"):  # the seventh field: the file the child takes as stdin (the sixth may be empty)
            extra = f"\t{token or ''}\t{step['stdin']}"
        os.write(w, f"{nonce}\t{workdir}\t{os.path.basename(step['argv'][-1])}\t{fifos[0]}\t{fifos[1]}{extra}\n".encode())
        line = r.readline(10.0).decode()
        parts = line.split()
        if len(parts) != 3 or parts[:2] != ["pid", nonce]:
            raise OSError(f"fork server {key} did not answer this request: {line.strip()[:80]!r}")
        pid = int(parts[2])
        t_wait = time.monotonic() + 10.0
        while (st := _state(pid)) not in ("T", "t", "Z", None) and time.monotonic() < t_wait:
            time.sleep(0.0002)
        if st != "T":
            raise OSError(f"fork server {key}: child {pid} did not stop (state {st})")
        pidfd = os.pidfd_open(pid)  # signals through it cannot reach a recycled pid
    except OSError:
        for fd in (out_r, err_r, *holds):
            os.close(fd)
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        _helper_stop(helper)
        _servers.pop(key, None)
        return None
    for fd in holds:
        os.close(fd)
    _limits_in_child(limits, step["timeout"], step.get("rlimit_as", True), pid=pid)
    t0 = time.monotonic()
    signal.pidfd_send_signal(pidfd, signal.SIGCONT)
    died = []

    def ended():
        parts = r.readline(5.0).decode().split()
        if len(parts) in (3, 4) and parts[:2] == ["exit", nonce]:
            return int(parts[2]), _MaxRSS(int(parts[3]) if len(parts) > 3 else 0)
        died.append(parts)  # the program killed its server (or a stray line): it counts as killed
        return 9, None
    status, rusage, exited_at, timed_out, bufs, sizes, overflow = _watch(step, limits, t0, pid, pidfd, out_r,
                                                                         err_r, r.fd, ended)
    if status is None:  # timed out (or stopped at the stdout cap): the server reaps the killed child, reports it
        status = ended()[0]
    res = _step_result(step, t0, status, rusage, exited_at, timed_out, bufs, sizes, out_r, err_r,
                       int(limits["output_bytes"]), overflow)
    if died and died[0]:  # a line that is not this request's answer: the channel is not ours any more
        _helper_stop(helper)
        _servers.pop(key, None)
        return {"error": f"fork server {key}: answer without this request's nonce; server restarted"}
    if died or r.pending():
        _helper_stop(helper)
        _servers.pop(key, None)
    return res


def _keep():
    return {h[0] for h in [_node, *_servers.values()] if h}


def _beside_helpers(limits):
    """`limits` with the process limit raised by the helpers' threads: RLIMIT_NPROC counts every task of
    the sandbox's user, and a program must get the same allowance whichever helpers (the Node runner, fork
    servers, a compile server's JVM) this worker happens to have started."""
    extra = 0
    for pid in _keep():
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Threads:"):
                        extra += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            pass
    return dict(limits, max_procs=int(limits["max_procs"]) + extra) if extra else limits


def _resume_helpers():
    """A program of the same uid may have stopped a helper (SIGSTOP): the next program's answer would then
    time out. Every helper is continued after every step."""
    for pid in _keep():
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass


# --- the warm compile server (Java): builds in a long-lived compiler, runs stay fresh processes -----

def _compile_server(spec):
    """The running compile server for `spec`, started and warmed up (one trivial compile, outside every
    program's limits) when needed; None when it cannot start."""
    key = "build:" + spec["key"]
    helper = _servers.get(key)
    if helper is not None and helper[2].pending():  # a line nobody asked for: a fresh server
        _helper_stop(_servers.pop(key))
        helper = None
    if helper is not None:
        return helper
    helper = _servers[key] = _helper_start(spec["argv"], dict(BASE_ENV, **spec.get("env", {})))
    warm = os.path.join(SCRATCH, f"warm-{_nonce()}")
    os.mkdir(warm, 0o700)
    try:
        with open(os.path.join(warm, spec["warm_file"]), "w", encoding="utf-8") as f:
            f.write(spec["warm_source"])
        answer = _ask_compile_server(helper, warm, spec["warm_file"], WARM_GRACE_S)
    finally:
        shutil.rmtree(warm, ignore_errors=True)
    if answer[:2] != ("done", 0):
        _helper_stop(_servers.pop(key))
        return None
    return helper


def _ask_compile_server(helper, workdir, name, timeout):
    """One compile: ("done", exit status, output), ("crash",) (the compiler failed, e.g. out of memory),
    ("timeout",) (no answer within `timeout`, still running), ("dead",) or ("forged",) (a line without this
    request's nonce)."""
    pid, w, r = helper
    nonce = _nonce()
    pipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a program may have killed the server
    try:
        os.write(w, f"{nonce}\t{workdir}\t{name}\n".encode())
        line = r.readline(timeout)
    except OSError:
        line = b""
    finally:
        signal.signal(signal.SIGPIPE, pipe)
    if not line:
        return ("timeout",) if _state(pid) not in (None, "Z") else ("dead",)
    parts = line.decode("utf-8", "replace").rstrip("\n").split("\t")
    if parts == ["crash", nonce]:
        return ("crash",)
    if len(parts) != 4 or parts[:2] != ["done", nonce]:
        return ("forged",)
    try:
        return "done", int(parts[2]), binascii.a2b_base64(parts[3]).decode("utf-8", "replace")
    except (ValueError, binascii.Error):
        return ("forged",)


def _run_build_in_server(step, workdir, limits):
    """Build in the warm compile server; None means "build with the plain command instead" (no server, or
    it crashed or died: a fresh compiler decides). Past the build's limit the server is stopped and the
    build has timed out. An answer without this request's nonce is an error, never a verdict."""
    spec = step["compile_server"]
    helper = _compile_server(spec)
    if helper is None:
        return None
    t0 = time.monotonic()
    answer = _ask_compile_server(helper, workdir, os.path.basename(step["argv"][-1]), float(step["timeout"]))
    duration = round(time.monotonic() - t0, 4)
    if answer[0] != "done" or helper[2].pending():
        _helper_stop(_servers.pop("build:" + spec["key"]))
    if answer[0] == "forged":
        return {"error": "compile server: answer without this request's nonce; server restarted"}
    if answer[0] != "done" and answer[0] != "timeout":
        return None
    out = {"phase": step["phase"], "exit_code": None, "signal": None, "timed_out": True, "duration_s": duration,
           "stdout": "", "stderr": "", "stdout_bytes": 0, "stderr_bytes": 0, "maxrss_kb": 0,
           "leftovers_killed": 0, "server": True}
    if answer[0] == "done":
        text = answer[2]
        out.update(exit_code=answer[1], timed_out=False, stderr=text[-int(limits["output_bytes"]):],
                   stderr_bytes=len(text.encode()))
    return out


# --- long-lived helpers: the warm Node runner and the fork servers -------------------------------

def _helper_start(argv, env):
    """Start a helper process that reads requests on stdin and answers on stdout: (pid, w fd, _Lines)."""
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.chdir(SCRATCH)
            os.dup2(r1, 0)
            os.dup2(w2, 1)
            os.closerange(3, 65536)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(r1)
    os.close(w2)
    return pid, w1, _Lines(r2)


def _helper_stop(helper):
    pid, w, r = helper
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    os.close(w)
    r.close()


def _node_stop():
    global _node
    if _node:
        _helper_stop(_node)
        _node = None


_node_ready = set()  # languages the current runner has run once (TypeScript loads its compiler then)


def _node_warm_up(lang):
    """Start the runner if needed and run a trivial program of `lang` in it, outside any program's
    limits: its start-up (and the TypeScript compiler's loading) is the runner's, not a program's."""
    global _node
    if _node is None:
        _node = _helper_start(NODE_ARGV, dict(BASE_ENV, **json.loads(os.environ.get("PSFT_NODE_ENV", "{}"))))
        _node_ready.clear()
    pid, w, r = _node
    nonce = _nonce()
    ts = lang == "typescript"
    req = {"id": nonce, "lang": lang, "source": "const psftWarm: number = 1;\n" if ts else "1;\n",
           "filename": "main.ts" if ts else "main.js", "timeout_ms": 5000, "output_bytes": 1024}
    try:
        os.write(w, (json.dumps(req) + "\n").encode())
        line = r.readline(WARM_GRACE_S)
        ok = json.loads(line).get("id") == nonce if line else False
    except (OSError, ValueError, AttributeError):
        ok = False
    if not ok:
        _node_stop()
        return False
    _node_ready.add(lang)
    return True


def _node_run(warm, steps):
    """Ask the warm runner; None means "run it in a fresh process instead".

    The answer must come within every step's limit (type check and run) plus GRACE_S; past that the
    runner is stopped and the program has timed out (a fresh run would only repeat the wait)."""
    global _node
    if not NODE_ARGV:
        return None
    if _node is not None and _node[2].pending():
        _node_stop()  # a line nobody asked for: start a fresh runner
    if _node is None or (warm.get("lang") not in _node_ready):
        if not _node_warm_up(warm.get("lang")):
            return None
    pid, w, r = _node
    nonce = _nonce()
    budget = sum(float(st["timeout"]) for st in steps) + GRACE_S
    t0 = time.monotonic()
    try:
        os.write(w, (json.dumps(dict(warm, id=nonce)) + "\n").encode())
        line = r.readline(budget)
    except OSError:
        line = b""
    if not line:
        hung = _state(pid) not in (None, "Z")
        _node_stop()
        if hung and time.monotonic() - t0 >= budget:  # still running at the deadline: a timeout
            return {"phase": steps[0]["phase"], "exit_code": None, "signal": None, "timed_out": True,
                    "duration_s": round(time.monotonic() - t0, 4), "stdout": "", "stderr": "",
                    "stdout_bytes": 0, "stderr_bytes": 0, "maxrss_kb": 0, "leftovers_killed": 0}
        return None  # crashed (e.g. heap exhausted): let a fresh process decide
    try:
        resp = json.loads(line)
    except ValueError:
        resp = None
    if not isinstance(resp, dict) or resp.get("id") != nonce:
        _node_stop()
        return {"error": "node runner: answer without this request's nonce; runner restarted"}
    if resp.get("fallback"):
        return None
    return resp


# --- requests -------------------------------------------------------------------------------

def handle(req):
    global _counter
    _counter += 1
    workdir = os.path.join(SCRATCH, f"p{_counter}")
    os.mkdir(workdir, 0o700)
    env = dict(BASE_ENV, HOME=workdir, TMPDIR=workdir, **req.get("env", {}))
    steps_out = []
    try:
        for name, text in req["files"].items():
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as f:
                f.write(text)
        warm = req.get("warm")
        if warm is not None:
            resp = _node_run(warm, req["steps"])
            if resp is not None:
                if "error" not in resp:
                    resp["warm"] = True
                return {"id": req["id"], "steps": [resp]}
        inputs = req.get("inputs")
        for step in req["steps"]:
            if inputs is not None and step["phase"] == "run":
                return {"id": req["id"], "steps": steps_out,
                        "runs": _run_inputs(step, workdir, req["limits"], env, inputs)}
            if step["phase"] == "run" and req.get("proof"):
                step = dict(step, token=str(req["proof"]))
            res = _run_step(step, workdir, req["limits"], env)
            steps_out.append(res)
            if "error" in res or res["exit_code"] != 0 or res["timed_out"]:
                break
        return {"id": req["id"], "steps": steps_out}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _wipe_scratch()


def _run_inputs(step, workdir, limits, env, inputs):
    """Run the built program once per input: each run in a fresh copy of `workdir` (so nothing one run
    writes reaches the next), with that input in a file of its own as stdin (written just before the run
    and removed after it), and every scratch space but `workdir` wiped after it. Runs after one that timed
    out are not started (the host reports them as skipped)."""
    runs = []
    for i, text in enumerate(inputs):
        run_dir = f"{workdir}.t{i}"
        stdin_path = f"{run_dir}.stdin"
        try:
            shutil.copytree(workdir, run_dir, symlinks=True)
            with open(stdin_path, "w", encoding="utf-8") as f:
                f.write(text)
            res = _run_step(dict(step, stdin=stdin_path), run_dir, limits, dict(env, HOME=run_dir, TMPDIR=run_dir))
        except OSError as e:
            res = {"error": f"could not prepare run {i}: {e}"}
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
            _wipe_scratch(keep=(workdir,))
        runs.append(res)
        if "error" in res or res["timed_out"]:
            break
    return runs


def _write_proof(workdir, token):
    """The proof file, written after any build step (so no compiler, macro or `#include` can read it)
    and just before the run (`_run_step`; the warm runner gets the token in its request instead)."""
    fd = os.open(os.path.join(workdir, PROOF_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, token.encode())
    finally:
        os.close(fd)


def _wipe_scratch(keep=()):
    """Remove whatever a program left in the scratch spaces (the next program must not see it), but the
    paths in `keep`."""
    spaces = [SCRATCH] + ([CACHE, "/tmp", "/var/tmp", "/dev/shm"] + HOMES if IN_PIDNS else [])
    for space in spaces:
        try:
            names = os.listdir(space)
        except OSError:
            continue
        for name in names:
            path = os.path.join(space, name)
            if path in (SCRATCH, CACHE, TRUSTED) or path in keep:
                continue
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _warm_python()
    PROTO_OUT.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            resp = handle(req)
        except Exception as e:  # noqa: BLE001 - a bad request must not kill the worker
            resp = {"id": locals().get("req", {}).get("id"), "error": f"{type(e).__name__}: {e}"}
        PROTO_OUT.write((json.dumps(resp) + "\n").encode())
    _node_stop()
    for helper in _servers.values():
        _helper_stop(helper)


if __name__ == "__main__":
    main()
