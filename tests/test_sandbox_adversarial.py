"""Every sandbox property against a hostile program, in every available language.

Each attack must end in the expected status within the time limit, leave no process behind and no
file outside the sandbox, send nothing to the host's network, see no host secret, and the executor
must keep serving afterwards.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from evals.execution import Executor, Limits, Program, Status
from evals.execution.sandbox import bwrap_path
from evals.languages import get_language

from .attacks import ATTACKS, PROGRAMS

TOKEN = f"psft{uuid.uuid4().hex[:12]}"
REPO = Path(__file__).resolve().parents[1]
LIMITS = Limits(timeout_s=3.0, build_timeout_s=60.0, memory_mb=512, output_bytes=16384)
WORKERS = 2

EXPECTED = {
    "infinite_loop": {Status.TIMEOUT},
    "fork_bomb": {Status.TIMEOUT, Status.RUNTIME_ERROR, Status.MEMORY},
    "memory_bomb": {Status.MEMORY},
    "orphan_sleeper": {Status.PASSED},
    "write_outside": {Status.PASSED},
    "network": {Status.PASSED},
    "env_secret": {Status.PASSED},
    "big_output": {Status.PASSED},
    # The supervisor is the sandbox's pid 1, which ignores SIGKILL from inside: the program then times out;
    # a fork server's child kills its server (runtime error), which restarts.
    "kill_parent": {Status.RUNTIME_ERROR, Status.TIMEOUT},
}
TRIVIAL = {"python": "print(1)\n", "javascript": "console.log(1)\n", "typescript": "console.log(1)\n",
           "ruby": "puts 1\n", "php": "<?php echo 1;\n", "lua": "print(1)\n", "perl": "print 1;\n",
           "cpp": "#include <cstdio>\nint main() { puts(\"1\"); }\n",
           "go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(1) }\n",
           "java": "public class Main { public static void main(String[] a) { System.out.println(1); } }\n"}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[bytes] = []
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                self.accepted.append(conn.recv(100) or b"<connected>")
            except OSError:
                self.accepted.append(b"<connected>")
            conn.close()

    def close(self):
        self._stop = True
        self._t.join()
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def hostile_executor():
    if not bwrap_path():
        pytest.fail("bubblewrap is not installed: run `make setup` (the adversarial suite needs it)")
    os.environ["PSFT_TEST_SECRET"] = TOKEN  # in the host's environment: no program may see it
    with Executor(workers=WORKERS, limits=LIMITS, sandbox_level="bwrap") as ex:
        yield ex
    os.environ.pop("PSFT_TEST_SECRET", None)


def sandbox_processes(uids: set[int]) -> list[tuple[int, int, str]]:
    """(pid, uid, cmdline) of every process running as one of the given sandbox users."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{name}").st_uid
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if uid in uids:
            out.append((int(name), uid, cmd))
    return out


def leftovers(uids: set[int]) -> list[str]:
    """Processes that are not part of a worker's machinery (bwrap, one supervisor, one Node runner, one
    fork server per language, one compile server)."""
    bad, seen = [], {}
    for pid, uid, cmd in sandbox_processes(uids):
        if cmd.split(" ")[0].endswith("bwrap"):
            continue
        kinds = ("supervisor.py", "node_runner.js", "perl_server.pl", "php_server.php", "ruby_server.rb",
                 "JavacServer")
        kind = next((k for k in kinds if k in cmd), None)
        if kind is not None and (uid, kind) not in seen:
            seen[(uid, kind)] = pid
            continue
        bad.append(f"pid {pid} uid {uid}: {cmd[:120]}")
    return bad


def wait_no_leftovers(uids: set[int], timeout: float = 3.0) -> list[str]:
    t0 = time.monotonic()
    while True:
        bad = leftovers(uids)
        if not bad or time.monotonic() - t0 > timeout:
            return bad
        time.sleep(0.05)


def escape_paths() -> list[Path]:
    return [Path.home() / f"psft-escape-{TOKEN}", Path("/tmp") / f"psft-escape-{TOKEN}",
            REPO / f"psft-escape-{TOKEN}"]


CASES = [(lang, attack) for lang in PROGRAMS for attack in ATTACKS]


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "attack"), CASES, ids=[f"{lang}-{a}" for lang, a in CASES])
def test_attack_is_contained(lang, attack, hostile_executor, listener):
    language = get_language(lang)
    if language.missing():
        pytest.skip(f"{lang} runtime not installed ({', '.join(language.missing())})")
    root = os.geteuid() == 0
    source = (PROGRAMS[lang][attack].replace("@PORT@", str(listener.port)).replace("@TOKEN@", TOKEN)
              .replace("@HOME@", str(Path.home())).replace("@REPO@", str(REPO)))
    before = len(listener.accepted)
    t0 = time.monotonic()
    # A memory bomb needs CPU time to fill its limit: Lua's string.rep spends ~3 s of CPU on 512 MB, which took
    # 10-20 s of wall time at load 7 on 2 cores. 30 s keeps the test able to fail (an unenforced limit ends
    # in `timeout`, not `memory`) without reading a busy machine as an escape.
    limits = dataclasses.replace(LIMITS, timeout_s=30.0) if attack == "memory_bomb" else LIMITS
    r = hostile_executor.run(Program(lang, source), limits=limits)
    wall = time.monotonic() - t0

    assert r.status in EXPECTED[attack], f"{lang} {attack}: {r.status} ({r.detail})\n{r.stderr[-1500:]}"
    build = LIMITS.build_timeout_s if language.compiled else 0
    assert wall < limits.timeout_s + build + 15, f"took {wall:.1f}s"
    if r.phase == "run":
        assert r.duration_s < limits.timeout_s + 1.5, f"run step took {r.duration_s:.1f}s"
    if root:  # as root each worker has its own uid, so its processes can be told apart
        assert wait_no_leftovers(set(hostile_executor.worker_uids())) == [], "processes survived the program"
    for p in escape_paths():
        assert not p.exists(), f"{lang} {attack} wrote {p} outside the sandbox"
    assert len(listener.accepted) == before, f"a connection reached the host: {listener.accepted[before:]}"
    assert TOKEN not in r.stdout and TOKEN not in r.stderr, "a host secret leaked into the sandbox"
    if attack == "big_output":
        assert len(r.stdout) <= LIMITS.output_bytes and r.stdout.endswith("x\n")
    if attack == "env_secret":
        assert "HOME=" in r.stdout or "'HOME'" in r.stdout or "HOME" in r.stdout

    # the executor keeps serving
    follow = hostile_executor.run(Program(lang, TRIVIAL[lang]))
    assert follow.status is Status.PASSED, f"executor broken after {attack}: {follow.detail}\n{follow.stderr}"
    assert follow.stdout.strip() == "1"
