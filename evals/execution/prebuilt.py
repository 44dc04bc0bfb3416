"""Build artefacts made once per machine and shared, read-only, by every worker: C++ precompiled headers
(`cpp_pch`), Go's standard library compiled without DWARF, with import configurations for the compiler
and linker (`go_std`), and the Java compile server's classes (`java_compile_server`). Each is looked up
once per process (a toolchain changed under a running process is seen by the next one).

Compiled languages otherwise repeat the same work for every program: parsing `bits/stdc++.h` (~4 s of a
~5 s C++ build), starting `javac` (~2 s of a ~2.4 s Java build), re-deriving Go's standard library from a
wiped build cache. These artefacts remove that work without letting a program touch them:
- they are built by the host process (trusted) from the toolchain alone, never from a program's text;
- each lives in a folder named by a hash of the toolchain's identity (its version output, the binary's
  path, size and modification time) and of the recipe (flags, headers, source), written under a
  temporary name and renamed into place whole, with a lock file serialising concurrent builders, so a
  half-written or stale artefact is never used (and GCC itself ignores a PCH that does not match the
  compiler or the flags: then the header is parsed as usual);
- programs see them read-only: the sandbox binds the whole file system read-only (the folder is bound
  back read-only where it lies under one of the sandbox's private mounts), and on the host the folder
  belongs to the host user, whom the workers' users (uid 100000+ when we are root) are not. Without
  bubblewrap and without root (`sandbox="process"` as an ordinary user) workers run as the host user and
  could write them: that fallback has no file-system isolation at all (see sandbox.py).

Where: `$PSFT_PREBUILT_DIR`, else `<venv>/psft-prebuilt` (the environment `make setup` builds), else, when
the workers' users could not reach that folder, `/var/tmp/psft-prebuilt-<uid>`. A folder that another user
owns or may write is refused (no artefacts: programs build the slow way). Not for: build caches that
programs write (there are none: Go programs compile and link against the prebuilt standard library
without a build cache).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

ENV = "PSFT_PREBUILT_DIR"
_lock = threading.Lock()
_done: dict[str, str | None] = {}  # artefact key -> its folder (None: could not be built; not retried)


def root() -> Path | None:
    """The folder holding the artefacts (created when missing), or None when no safe one exists."""
    from .sandbox import _others_can_read
    wanted = os.environ.get(ENV)
    candidates = [Path(wanted)] if wanted else [Path(sys.prefix) / "psft-prebuilt",
                                                 Path(f"/var/tmp/psft-prebuilt-{os.geteuid()}")]
    for path in candidates:
        try:
            path.mkdir(mode=0o755, exist_ok=True)
        except OSError:
            continue
        if not _safe(path):
            continue
        if wanted or os.geteuid() != 0 or _others_can_read(str(path.resolve())):
            return path.resolve()
    return None


def _safe(path: Path) -> bool:
    """Ours, and writable by nobody else (a folder another user prepared could hold a planted artefact)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def toolchain_id(binary: str, version_argv: Sequence[str]) -> str:
    """What identifies a toolchain: its version output and the binary's real path, size and mtime."""
    real = os.path.realpath(binary)
    st = os.stat(real)
    try:
        out = subprocess.run(list(version_argv), capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    return f"{real}\0{st.st_size}\0{int(st.st_mtime)}\0{out}"


def artefact(kind: str, identity: str, make: Callable[[Path, Path], None]) -> str | None:
    """The folder of one artefact, built by `make(folder, final)` (into `folder`, which is then renamed to
    `final`) the first time on this machine (None when it
    cannot be built, e.g. the toolchain is missing; not retried in this process)."""
    key = f"{kind}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
    with _lock:
        if key in _done:
            return _done[key]
        _done[key] = found = _build(key, make)
        return found


def _build(key: str, make: Callable[[Path, Path], None]) -> str | None:
    top = root()
    if top is None:
        return None
    final = top / key
    if (final / ".complete").exists():
        return str(final)
    with open(top / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same artefact
        try:
            if (final / ".complete").exists():
                return str(final)
            work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=top))
            try:
                os.chmod(work, 0o755)
                make(work, final)
                (work / ".complete").write_text("")
                for d, _, files in os.walk(work):
                    os.chmod(d, 0o755)
                    for f in files:
                        p = os.path.join(d, f)
                        os.chmod(p, 0o644 | (os.stat(p).st_mode & 0o111))
                if final.exists():
                    shutil.rmtree(final)
                os.rename(work, final)
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                print(f"psft: could not prebuild {key} ({e}); building programs without it", file=sys.stderr)
                return None
            finally:
                shutil.rmtree(work, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(final)


def _run(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=900, **kw)
    if r.returncode != 0:
        raise ValueError(f"{' '.join(argv[:3])}... failed: {(r.stderr or r.stdout).strip()[-300:]}")
    return r


# --- C++: precompiled headers -------------------------------------------------------------------

@lru_cache(maxsize=64)
def cpp_pch(name: str, headers: tuple[str, ...], flags: tuple[str, ...]) -> str | None:
    """The header to pass as `-include` (its `.gch` beside it) for the `headers` set `name`, compiled
    with `flags` (the build's own code-generation flags: GCC uses a PCH only under matching ones)."""
    from evals.languages.base import find_runtime
    gxx = find_runtime("g++")
    if gxx is None:
        return None
    identity = f"{toolchain_id(gxx, [gxx, '--version'])}\0{' '.join(flags)}\0{' '.join(headers)}"

    def make(folder: Path, final: Path) -> None:
        header = folder / f"{name}.h"
        header.write_text("".join(f"#include <{h}>\n" for h in headers))
        _run([gxx, *flags, "-x", "c++-header", "-o", f"{header}.gch", str(header)])
    found = artefact(f"cpp-pch-{name}", identity, make)  # the .gch names no path: it survives the rename
    return os.path.join(found, f"{name}.h") if found else None


# --- Go: the standard library, compiled once ------------------------------------------------------

# How the standard library is compiled: as `go build` would, without DWARF. Programs are linked with `-w`
# (and `-s`), which drops DWARF from the binary, so the binary is byte for byte the one linked against the
# toolchain's own library (tests/test_compiled_fast_builds.py); the linker just reads ~35% smaller archives
# (~6 ms less of a ~55 ms link, in CPU).
GO_STD_GCFLAGS = "all=-dwarf=false"


@lru_cache(maxsize=1)
def go_std() -> dict[str, str] | None:
    """{"compile", "link": the toolchain's programs; "importcfg": the standard library's packages a
    program may import (no internal or vendored ones, as `go build` refuses those); "importcfg_link":
    every package, for the linker}, or None when Go is missing or the library cannot be built. The library
    is compiled once per machine (`-gcflags=GO_STD_GCFLAGS`, ~45 s of CPU) into `pkg/` of its folder."""
    from evals.languages.base import find_runtime
    go = find_runtime("go")
    if go is None:
        return None
    env = dict(os.environ, GO111MODULE="off", CGO_ENABLED="0", GOFLAGS="")
    try:
        tooldir = _run([go, "env", "GOTOOLDIR"], env=env).stdout.strip()
    except (OSError, ValueError, subprocess.SubprocessError):
        return None

    def make(folder: Path, final: Path) -> None:
        build_env = dict(env, GOCACHE=str(folder / "cache"), GOPATH=str(folder / "gopath"))
        out = _run([go, "list", "-export", "-deps", f"-gcflags={GO_STD_GCFLAGS}", "-f",
                    "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}", "std"], env=build_env).stdout
        rows = [line.split("=", 1) for line in out.splitlines() if "=" in line]
        if not any(p == "runtime" for p, _ in rows):
            raise ValueError("go list gave no export data for the runtime")
        for p, f in rows:  # out of the build cache into pkg/<import path>.a; the cache goes
            dst = folder / "pkg" / f"{p}.a"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst)
        shutil.rmtree(folder / "cache", ignore_errors=True)
        shutil.rmtree(folder / "gopath", ignore_errors=True)

        def public(p: str) -> bool:
            parts = p.split("/")
            return "internal" not in parts and parts[0] != "vendor"
        # archives are named by where the folder will be once renamed into place
        lines = [(p, f"packagefile {p}={final / 'pkg' / p}.a\n") for p, _ in rows]
        (folder / "importcfg").write_text("".join(line for p, line in lines if public(p)))
        (folder / "importcfg.link").write_text("".join(line for _, line in lines))
    found = artefact("go-std", f"{toolchain_id(go, [go, 'version'])}\0-gcflags={GO_STD_GCFLAGS}\0pkg", make)
    if found is None:
        return None
    return {"compile": os.path.join(tooldir, "compile"), "link": os.path.join(tooldir, "link"),
            "importcfg": os.path.join(found, "importcfg"), "importcfg_link": os.path.join(found, "importcfg.link")}


# --- Java: the compile server's classes -----------------------------------------------------------

@lru_cache(maxsize=4)
def java_compile_server(source: str) -> str | None:
    """The class folder of the Java compile server (`servers/JavacServer.java`), compiled once."""
    from evals.languages.base import find_runtime
    javac = find_runtime("javac")
    if javac is None or not os.path.exists(source):
        return None
    text = Path(source).read_text()

    def make(folder: Path, final: Path) -> None:
        _run([javac, "-encoding", "UTF-8", "-nowarn", "-d", str(folder), source])
    return artefact("java-server", f"{toolchain_id(javac, [javac, '-version'])}\0{text}", make)
