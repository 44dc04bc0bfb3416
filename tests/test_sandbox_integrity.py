"""Verdicts no program can forge: the executor's integrity against a program that attacks it.

Each test has the shape "the attack runs, then a wrong program and a right program on the same worker
are failed and passed": an attack that left anything behind (a corrupted helper, a forged line waiting
in a pipe, a file) would show in those two verdicts. See the threat model in evals/execution/sandbox.py.
"""
from __future__ import annotations

import os
import time

import pytest

from evals.execution import Executor, Limits, Program, Status
from evals.execution.sandbox import bwrap_path
from evals.languages import get_language

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")

LIMITS = Limits(timeout_s=5.0, memory_mb=512)
WRONG_RIGHT = {
    "python": ("assert 1 + 1 == 3\n", "assert 1 + 1 == 2\n"),
    "perl": ("die 'test case 1 did not pass' unless 1 + 1 == 3;\n", "die 'test case 1 did not pass' unless 1 + 1 == 2;\n"),
    "ruby": ("raise 'test case 1 did not pass' unless 1 + 1 == 3\n", "raise 'test case 1 did not pass' unless 1 + 1 == 2\n"),
    "php": ("<?php if (1 + 1 !== 3) { throw new Exception('Test failed'); }\n",
            "<?php if (1 + 1 !== 2) { throw new Exception('Test failed'); }\n"),
    "javascript": ("if (1 + 1 !== 3) throw new Error('AssertionError: no');\n",
                   "if (1 + 1 !== 2) throw new Error('AssertionError: no');\n"),
    "typescript": ("const n: number = 1 + 1;\nif (n !== 3) throw new Error('AssertionError: no');\n",
                   "const n: number = 1 + 1;\nif (n !== 2) throw new Error('AssertionError: no');\n"),
}


def _available(langs):
    return [la for la in langs if not get_language(la).missing()]


def _wrong_then_right(ex: Executor, langs=tuple(WRONG_RIGHT)) -> None:
    for lang in _available(langs):
        wrong, right = WRONG_RIGHT[lang]
        rw, rr = ex.run(Program(lang, wrong), limits=LIMITS), ex.run(Program(lang, right), limits=LIMITS)
        assert rw.status is Status.FAILED or (lang == "javascript" and rw.status is Status.RUNTIME_ERROR), \
            (lang, "wrong", rw)
        assert rr.status is Status.PASSED, (lang, "right", rr)


@pytest.fixture
def one_worker():
    with Executor(workers=1, limits=LIMITS) as ex:
        ex.map([Program(la, WRONG_RIGHT[la][1]) for la in _available(WRONG_RIGHT)])  # start every helper
        yield ex


# ---- the trusted processes: no memory, descriptor or ptrace access -------------------------------

PY_PROBE = r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
opened = []
for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
    if pid == os.getpid():
        continue
    for what, mode in (("mem", os.O_RDWR), ("mem", os.O_RDONLY), ("fd/0", os.O_WRONLY), ("fd/1", os.O_WRONLY),
                       ("fd/1", os.O_RDONLY), ("environ", os.O_RDONLY)):
        try:
            os.close(os.open(f"/proc/{pid}/{what}", mode))
            opened.append(f"{pid}/{what}")
        except OSError:
            pass
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        opened.append(f"{pid} ptrace")
    buf = ctypes.create_string_buffer(8)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), 8)
    if libc.process_vm_readv(pid, local, 1, local, 1, 0) > 0:
        opened.append(f"{pid} process_vm_readv")
print("OPENED", opened)
'''
PERL_PROBE = r'''
my @opened;
opendir(my $d, "/proc"); my @pids = grep { /^\d+$/ && $_ != $$ } readdir($d);
for my $pid (@pids) {
    for my $what ("fd/0", "fd/1") {
        if (open(my $fh, ">>", "/proc/$pid/$what")) { push @opened, "$pid/$what"; print $fh "{\"id\": 0, \"exit_code\": 0}\n"; close $fh; }
    }
    push @opened, "$pid ptrace" if syscall(101, 16, $pid + 0, 0, 0) == 0;  # x86-64 ptrace(PTRACE_ATTACH)
}
print "OPENED [", join(",", @opened), "]\n";
'''
JS_PROBE = r'''
const fs = require('fs');
const opened = [];
for (const p of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && +n !== process.pid)) {
  for (const what of ['mem', 'fd/0', 'fd/1']) {
    try { fs.closeSync(fs.openSync(`/proc/${p}/${what}`, what === 'mem' ? 'r+' : 'a')); opened.push(`${p}/${what}`); } catch (e) {}
  }
}
console.log('OPENED', JSON.stringify(opened));
'''


@pytest.mark.parametrize("lang,probe", [("python", PY_PROBE), ("perl", PERL_PROBE), ("javascript", JS_PROBE)])
def test_a_program_cannot_reach_the_trusted_processes(one_worker, lang, probe):
    if get_language(lang).missing():
        pytest.skip(f"{lang} is not installed")
    r = one_worker.run(Program(lang, probe))
    assert r.status is Status.PASSED, r
    assert "OPENED" in r.stdout and r.stdout.split("OPENED", 1)[1].strip() in ("[]", "[ ]"), r.stdout
    _wrong_then_right(one_worker)


SECCOMP_PROBE = r'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0, 4096, 0o1000 | 0o600)     # IPC_PRIVATE, IPC_CREAT
key = libc.syscall(248, b"user", b"psft", b"x", 1, -4)  # add_key into the user keyring
print("SHM", shm, "KEY", key, ctypes.get_errno())
'''


def test_channels_that_outlive_a_program_are_denied(one_worker):
    r = one_worker.run(Program("python", SECCOMP_PROBE))
    assert r.status is Status.PASSED, r
    assert r.stdout.split()[:4] == ["SHM", "-1", "KEY", "-1"], r.stdout
    _wrong_then_right(one_worker)


# ---- forged lines on every channel are never verdicts ---------------------------------------------

def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below `root` (host view)."""
    parent, cmd = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                parent[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        for child, par in parent.items():
            if par == p and child not in out:
                out[child] = cmd.get(child, "")
                todo.append(child)
    return out


FORGED = {
    "worker": '{"id": "0", "steps": [{"phase": "run", "exit_code": 0, "signal": null, "timed_out": false, '
              '"duration_s": 0.1, "stdout": "", "stderr": "", "maxrss_kb": 0}]}\n' * 3,
    "perl_server": "pid 0 1\nexit 0 0\n" * 3,
    "node_runner": '{"id": 0, "fallback": null, "exit_code": 0, "stdout": "", "stderr": "", "timed_out": false, '
                   '"phase": "run", "duration_s": 0.01, "signal": null}\n' * 3,
}


@pytest.mark.skipif(os.geteuid() != 0, reason="writing into another process's pipe needs root (the test plays "
                                              "an attacker that already got past the sandbox)")
@pytest.mark.parametrize("channel", list(FORGED))
def test_forged_lines_on_a_channel_are_never_verdicts(one_worker, channel):
    worker = list(one_worker._free.queue)[0]
    if channel == "worker":
        target = worker.proc.pid
    else:
        name = "perl_server.pl" if channel == "perl_server" else "node_runner.js"
        found = [p for p, c in _descendants(worker.proc.pid).items() if name in c]
        if not found:
            pytest.skip(f"no {name} running")
        target = found[0]
    with open(f"/proc/{target}/fd/1", "w") as pipe:
        pipe.write(FORGED[channel])
    restarts = worker.restarts
    _wrong_then_right(one_worker)
    if channel == "worker":
        assert worker.restarts > restarts  # the stray lines were seen, and the worker replaced


# ---- scratch space: nothing passes to the next program, every mount capped --------------------------

LEAVE = r'''
import os
for d in ["/tmp", "/var/tmp", "/dev/shm", "/tmp/cache", os.environ["HOME"], os.path.expanduser("~")] + @HOMES@:
    try:
        with open(os.path.join(d, "psft-left-behind"), "w") as f:
            f.write("x")
    except OSError as e:
        print("could not write", d, e)
'''
LOOK = r'''
import os
found = [os.path.join(r, n) for d in ["/tmp", "/var/tmp", "/dev/shm"] + @HOMES@ for r, _, ns in os.walk(d) for n in ns
         if n == "psft-left-behind"]
print("FOUND", found)
'''


def test_files_left_by_a_program_are_gone_for_the_next(one_worker):
    from evals.execution.sandbox import private_homes
    homes = repr(private_homes())
    r1 = one_worker.run(Program("python", LEAVE.replace("@HOMES@", homes)))
    assert r1.status is Status.PASSED and "could not write" not in r1.stdout, r1
    r2 = one_worker.run(Program("python", LOOK.replace("@HOMES@", homes)))
    assert r2.stdout.strip() == "FOUND []", r2.stdout
    _wrong_then_right(one_worker)


FILL = r'''
import os
total = 0
for d in ["/tmp", "/var/tmp", "/dev/shm"] + @HOMES@:
    n = 0
    try:
        with open(os.path.join(d, "fill"), "wb") as f:
            for _ in range(1024):
                f.write(b"x" * (1 << 20))
                n += 1
    except OSError:
        pass
    total += n
print("MB", total)
'''


def _shmem_kb() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Shmem:"))


def test_scratch_mounts_are_capped_together_and_freed_after_each_program(one_worker):
    from evals.execution.sandbox import private_homes
    before = _shmem_kb()
    limits = Limits(timeout_s=30.0, memory_mb=512, max_file_mb=1024)
    r = one_worker.run(Program("python", FILL.replace("@HOMES@", repr(private_homes()))), limits=limits)
    assert r.status is Status.PASSED, r
    written = int(r.stdout.split()[1])
    assert 0 < written <= 512, written  # every writable mount capped, together at most the memory limit
    time.sleep(0.5)
    assert _shmem_kb() - before < 64 * 1024, "tmpfs memory was not returned after the program"
    _wrong_then_right(one_worker)


# ---- every phase within its limit ---------------------------------------------------------------

# A program whose type check alone takes many seconds (60,000 typed declarations; deliberately plain, so
# no compiler depth limit ends it early).
SLOW_TYPES = "\n".join(f"const v{i}: Array<Record<string, [number, string]>> = [{{ k{i}: [{i}, 's'] }}];"
                       for i in range(60000)) + "\nconsole.log(v0);\n"


@pytest.mark.slow
@pytest.mark.parametrize("warm", [True, False])
def test_a_type_check_is_bounded_by_the_limits(warm):
    if get_language("typescript").missing():
        pytest.skip("tsc is not installed")
    limits = Limits(timeout_s=1.0, build_timeout_s=2.0, memory_mb=1024)
    with Executor(workers=1, limits=limits, warm=warm) as ex:
        ex.run(Program("typescript", "console.log(1);\n"))  # the runner and its compiler are loaded
        t0 = time.monotonic()
        r = ex.run(Program("typescript", SLOW_TYPES))
        wall = time.monotonic() - t0
        assert r.status is Status.TIMEOUT, r
        assert wall < limits.build_timeout_s + limits.timeout_s + 4.0, wall  # small fixed grace
        _wrong_then_right(ex, ("typescript", "javascript"))


# ---- the completion proof at the executor ---------------------------------------------------------

# The file protocol, as a Perl program would follow it by hand (a sealed Python child gets its token in
# memory from the fork server instead: tests/test_proof_python_handover.py).
PROVE = ('open(my $fh, "<", ".psft_proof") or die "no .psft_proof";\nmy $token = <$fh>;\nclose $fh;\n'
         'unlink ".psft_proof";\n{body}\nprint "\\n$token\\n";\n')


def test_a_proof_program_passes_only_with_its_token(one_worker):
    ok = one_worker.run(Program("perl", PROVE.format(body="print 'work';"), proof=True))
    assert ok.status is Status.PASSED and ok.stdout.strip() == "work", ok  # the token is not kept in stdout
    early = one_worker.run(Program("perl", PROVE.format(body="exit 0;"), proof=True))
    assert early.status is Status.FAILED and "no completion proof" in early.detail, early
    guess = one_worker.run(Program("perl", "print '0' x 32;\n", proof=True))
    assert guess.status is Status.FAILED, guess
    same_source = one_worker.run(Program("perl", PROVE.format(body="print 'work';")))  # no proof asked
    assert same_source.status is not Status.PASSED and "psft_proof" in same_source.stderr, same_source
    _wrong_then_right(one_worker)
