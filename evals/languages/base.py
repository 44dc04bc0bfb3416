"""The one runner interface every language implements: how a program is named, built, run and judged.

A `Language` is data, not code: argv templates, the Debian package that provides the runtime, and the
error patterns that turn an exit into a `Status`. Adding a language is adding one small module beside
this one and one line in `__init__.py`. Not for: spawning processes (that is `evals.execution`).

Templates may use `{src}` (the program's file name), `{stem}` (that name without extension) and
`{mem_mb}` (the memory limit), `{node_types}` (the folder holding `@types/node`) and `{servers}` (the
fork servers' folder), and are run inside the program's own directory.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from evals.execution.result import Status

# Exit patterns common to all languages, checked after the language's own.
_COMMON_MEMORY = (r"MemoryError", r"[Oo]ut of memory", r"std::bad_alloc", r"Cannot allocate memory",
                  r"failed to allocate memory")


@dataclass(frozen=True)
class Language:
    name: str = field(metadata={"help": "Canonical name, e.g. 'python'."})
    ext: str = field(metadata={"help": "Source file extension without the dot."})
    run: tuple[str, ...] = field(metadata={"help": "argv to run the program (after any build)."})
    debian: tuple[str, ...] = field(metadata={"help": "Debian packages that provide the runtime."})
    version: tuple[str, ...] = field(metadata={"help": "argv printing the runtime version."})
    aliases: tuple[str, ...] = ()
    build: tuple[str, ...] | None = field(default=None, metadata={"help": "argv to compile, if compiled."})
    source_name: str | None = field(default=None, metadata={"help": "Fixed file name (e.g. Main.java)."})
    mode: str = field(default="exec", metadata={"help": "exec | pyfork (fork server) | node (warm runner)."})
    server: tuple[str, ...] | None = field(default=None, metadata={
        "help": "argv of a fork server (a script in evals/execution/servers, `{servers}`) that starts the "
                "interpreter once and forks a child per program; plain `run` is the fallback, and runs a program "
                "whose flags `adapt` changed."})
    rlimit_as: bool = field(default=True, metadata={"help": "Cap address space (false for JIT runtimes)."})
    env: tuple[tuple[str, str], ...] = ()
    syntax_patterns: tuple[str, ...] = ()
    failure_patterns: tuple[str, ...] = ()   # assertion-like errors: status FAILED
    memory_patterns: tuple[str, ...] = ()
    adapt: Callable[[list[str], str], list[str]] | None = field(
        default=None, metadata={"help": "Adjusts the run argv to a program's source (e.g. flags)."})
    build_adapt: Callable[[list[str], str], list[str]] | None = field(default=None, metadata={
        "help": "Adjusts the build argv to a program's source and this machine's prebuilt artefacts (e.g. a "
                "precompiled header; see evals.execution.prebuilt); the program must mean the same."})
    build_server: bool = field(default=False, metadata={
        "help": "The build step is first offered to the language's warm compile server in the worker "
                "(evals/execution/servers/); plain `build` is the fallback."})
    fast_flags_note: str = ""                # what we do to avoid start-up cost, for `psft langs`
    seal: Callable[[str, str, str], str] | None = field(default=None, metadata={
        "help": "seal(code, tests, prelude) -> program text that proves it ran its tests to the end "
                "(see PROOF below); None: the language cannot prove it, and its programs are judged by exit "
                "status alone."})
    proof_handover: bool = field(default=False, metadata={
        "help": "The fork server hands a sealed program its proof token in memory (no proof file; a "
                "program that falls back to a fresh process reads the file)."})
    seal_source: str = field(default="", metadata={
        "help": "pyfork only: Python source the fork server compiles once per worker and hands to each sealed "
                "program as a one-shot builtin (see evals/languages/python.py); empty: none."})

    @property
    def compiled(self) -> bool:
        return self.build is not None

    def file_name(self) -> str:
        return self.source_name or f"main.{self.ext}"

    def binaries(self) -> list[str]:
        cmds = [self.run[0]] + ([self.build[0]] if self.build else [])
        return [c for c in cmds if not c.startswith("./")]

    def missing(self) -> list[str]:
        """Runtime commands not found where the sandbox can run them (empty when available)."""
        return [b for b in self.binaries() if find_runtime(b) is None]

    @cached_property
    def runtime_version(self) -> str | None:
        if self.missing():
            return None
        try:
            out = subprocess.run([find_runtime(self.version[0]), *self.version[1:]], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        text = (out.stdout + out.stderr).strip().splitlines()
        return text[0].strip() if text else "unknown"

    def argv(self, template: tuple[str, ...], mem_mb: int) -> list[str]:
        src = self.file_name()
        stem = src.rsplit(".", 1)[0]
        return [a.format(src=src, stem=stem, mem_mb=mem_mb, node_types=node_types_dir(), servers=SERVERS_DIR)
                for a in template]

    def classify(self, phase: str, exit_code: int | None, signal: int | None, stderr: str,
                 timed_out: bool, hit_memory: bool) -> tuple[Status, str]:
        """Turn one finished step into a status and a one-line reason."""
        if timed_out:
            return Status.TIMEOUT, f"{phase} exceeded its time limit"
        if exit_code == 0 and signal is None:
            return Status.PASSED, ""
        tail = stderr[-4000:]
        if phase == "build":
            return Status.SYNTAX_ERROR, _first_line(tail) or "build failed"
        for pats, status in ((self.memory_patterns + _COMMON_MEMORY, Status.MEMORY),
                             (self.syntax_patterns, Status.SYNTAX_ERROR),
                             (self.failure_patterns, Status.FAILED)):
            for p in pats:
                m = re.search(p, tail)
                if m:
                    return status, _line_of(tail, m.start())
        if hit_memory:
            return Status.MEMORY, "killed near the memory limit"
        if signal is not None:
            return Status.RUNTIME_ERROR, f"killed by signal {signal}"
        return Status.RUNTIME_ERROR, _first_line(tail[-400:]) or f"exit code {exit_code}"


# PROOF: how a program shows that its tests ran to their end (an exit status alone is forged by any early
# exit or exit hook). When a `Program` asks for a proof, the supervisor writes a fresh random token (32
# lowercase hex digits, no newline) to PROOF_FILE in the program's working directory after the build
# step (no compiler, macro or `#include` can read it) and before the run (the warm Node runner and the
# Python fork server hand it over in memory instead), and the host accepts `passed` only when the token
# appears in the program's stdout. A sealed program (`Language.seal(code, tests, prelude)`) is laid out as
#     proof prologue   reads PROOF_FILE and deletes it, before any other code of the program can run
#                      (a missing file means "no proof asked": the program then runs as if unsealed);
#     prelude          trusted helpers (e.g. the world's strict comparisons), captured before `code` runs;
#     code             prompt + completion: untrusted;
#     tests            the benchmark's or world's checks;
#     proof epilogue   flushes stdout and writes "\n" + token + "\n" to it, only when reached as the
#                      program's last statement (not when its function is called early from elsewhere).
# So a program cannot learn the token from its source file, arguments, environment or descriptors; what
# stays open (a program that searches its interpreter's memory) is listed in docs/sandbox.md.
PROOF_FILE = ".psft_proof"


def lines_of(*parts: str) -> str:
    """The non-empty parts joined, each ending with a line break."""
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


def one_line_prologue_layout(code: str, tests: str, prelude: str, keep: int) -> tuple[str, str, int]:
    """For a seal whose prologue is one line placed after the first `keep` lines of `code` (lines that
    must stay first, e.g. `from __future__` imports or magic comments) and whose epilogue is the last
    line: (those first lines, prelude + the rest of code + tests, the epilogue's line number)."""
    lines = code.split("\n")
    head = "".join(line + "\n" for line in lines[:keep])
    middle = lines_of(prelude, "\n".join(lines[keep:]), tests)
    return head, middle, head.count("\n") + 1 + middle.count("\n") + 1

# The fork servers' scripts (see `Language.server`).
SERVERS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "execution", "servers")

# The sandbox hides home directories, so runtimes are looked up on the system path first and never
# under a home directory (e.g. a rustup toolchain in ~/.cargo, or a venv's python under /root).
RUNTIME_PATH = "/usr/local/bin:/usr/bin:/bin"


def find_runtime(cmd: str) -> str | None:
    if "/" in cmd:
        return cmd if os.access(cmd, os.X_OK) else None
    homes = tuple(h for h in {os.path.expanduser("~"), "/root", "/home"} if h not in ("", "/"))
    extra = [d for d in os.environ.get("PATH", "").split(os.pathsep)
             if d and not d.startswith(homes) and not d.startswith(sys.prefix)]
    return shutil.which(cmd, path=os.pathsep.join([RUNTIME_PATH, *extra]))


def npm_modules_dir() -> str:
    """Where `make setup` installs the npm packages that benchmarks' tests require (e.g. js-md5)."""
    return os.environ.get("PSFT_NPM_MODULES") or os.path.join(sys.prefix, "npm", "node_modules")


# Where Node programs find modules: Debian's (lodash) and the npm packages benchmarks' tests require.
NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs:" + npm_modules_dir()


def node_types_dir() -> str:
    """Where TypeScript finds `@types/node` (`make setup` installs it with npm into the venv)."""
    candidates = [os.environ.get("PSFT_NODE_TYPES", ""), os.path.join(sys.prefix, "npm", "node_modules", "@types"),
                  "/usr/share/nodejs/@types", "/usr/lib/node_modules/@types"]
    for c in candidates:
        if c and os.path.isdir(os.path.join(c, "node")):
            return c
    return candidates[1]


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else len(text)].strip()[:200]
