"""The executor: runs programs in any registered language on a pool of sandboxed workers.

`Executor.map` is the throughput path (RL rewards, pass@k, benchmark checks): identical programs run
once, every core gets a worker, and start-up is avoided where a language allows (a Python fork
server, a warm Node runner, fast-start flags, one build per compiled program). `Executor.run` is
`map` of one. A program with `inputs` (a stdin/stdout program) is built once and run once per input in the
same sandboxed request; its `Result.runs` carries each run's whole stdout for the caller to compare on
the host. Not for: assembling programs from tasks (benchmarks and the world do that), or judging outputs
(`evals.benchmarks.io_judge`). The same API on a Ray cluster, this executor on every node:
`ray_executor.RayExecutor` (a backend by name: `backends.open_executor`).
"""
from __future__ import annotations

import dataclasses
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from evals.languages import LANGUAGES, Language, UnknownLanguage, get_language
from evals.languages.base import NODE_PATH, node_types_dir

from . import sandbox
from .program import Program, unique_programs
from .result import Limits, Result, Status
from .worker import Worker


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


class Executor:
    """A pool of sandboxed workers. Use as a context manager, or call `close()`."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None, sandbox_level: str = "auto",
                 warm: bool = True, hide: Iterable[str | os.PathLike] = ()):
        """`hide`: host files no program may read (e.g. a benchmark's data, which holds the expected
        outputs): each is covered by an empty file in the bubblewrap sandbox. The process-level fallback
        cannot hide them: there they must not be readable to the worker's user."""
        self.n_workers = workers or default_workers()
        self.limits = limits or Limits()
        self.level = sandbox.resolve_level(sandbox_level)
        self.warm = warm
        self.hide = sandbox.hidden_files(hide)
        node = sandbox.which("node")
        self._node_argv = ([sandbox.trusted_path(self.level, node), f"--max-old-space-size={self.limits.memory_mb}",
                            str(sandbox.NODE_RUNNER)] if warm and node and sandbox.NODE_RUNNER.exists() else None)
        # The fork servers' interpreters, as execute-only copies (made before any worker starts: a worker's
        # sandbox binds the copies that exist when it starts).
        self._server_exe = {}
        if warm:
            for lang in LANGUAGES.values():
                exe = sandbox.which(lang.server[0]) if lang.server else None
                if exe:
                    self._server_exe[lang.name] = sandbox.trusted_path(self.level, exe)
        # Compile servers' JVMs, likewise (their classes are built on first use: `prebuilt`).
        self._build_server_exe = {}
        if warm:
            for lang in LANGUAGES.values():
                exe = sandbox.which(lang.run[0]) if lang.build_server else None
                if exe:
                    self._build_server_exe[lang.name] = (sandbox.trusted_path(self.level, exe),
                                                         os.path.join(os.path.dirname(os.path.dirname(
                                                             os.path.realpath(exe))), "lib"))
        self._free: queue.Queue[Worker] = queue.Queue()
        for slot in range(self.n_workers):
            self._free.put(Worker(slot, self.level, self._node_argv,
                                  {"NODE_PATH": NODE_PATH,
                                   "PSFT_TS_TYPE_ROOTS": node_types_dir()}, memory_mb=self.limits.memory_mb,
                                  hide=self.hide))
        self._pool = ThreadPoolExecutor(self.n_workers, thread_name_prefix="psft-exec")
        self._lock = threading.Lock()
        self._missing: dict[str, list[str]] = {}
        self.stats = {"programs": 0, "deduplicated": 0, "worker_restarts": 0, "warm": 0}

    # -- public API -------------------------------------------------------------------------

    def worker_uids(self) -> list[int]:
        """The unprivileged uids this executor's workers run as (empty when not root)."""
        workers = list(self._free.queue)
        return [w.user[0] for w in workers if w.user]

    def run(self, program: Program, limits: Limits | None = None) -> Result:
        return self.map([program], limits=limits)[0]

    def map(self, programs: Iterable[Program], limits: Limits | None = None, progress: bool = False,
            desc: str = "executing") -> list[Result]:
        """Run programs in parallel; results come back in input order."""
        programs = list(programs)
        limits = limits or self.limits
        unique = unique_programs(programs)
        futures = {k: self._pool.submit(self._run_one, p, p.limits or limits) for k, p in unique.items()}
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(futures), desc=desc, unit="prog")
            for f in futures.values():
                f.add_done_callback(lambda _f: bar.update(1))
        done = {k: f.result() for k, f in futures.items()}
        if bar:
            bar.close()
        with self._lock:
            self.stats["programs"] += len(programs)
            self.stats["deduplicated"] += len(programs) - len(unique)
        out, seen = [], set()
        for p in programs:  # a duplicate gets its own copy of the shared result
            k = p.key()
            out.append(dataclasses.replace(done[k]) if k in seen else done[k])
            seen.add(k)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        while not self._free.empty():
            self._free.get_nowait().close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one program --------------------------------------------------------------------------

    def _run_one(self, program: Program, limits: Limits) -> Result:
        try:
            lang = get_language(program.lang)
        except UnknownLanguage as e:
            return Result(Status.UNAVAILABLE, detail=str(e), lang=program.lang)
        missing = self._missing.get(lang.name)
        if missing is None:  # looked up once per executor, not on every program
            missing = self._missing[lang.name] = lang.missing()
        if missing:
            return Result(Status.UNAVAILABLE, detail=f"runtime not installed: {', '.join(missing)} "
                          f"(Debian: {' '.join(lang.debian)})", lang=lang.name)
        req = self._request(lang, program.source, limits, program.inputs)
        token = secrets.token_hex(16) if program.proof else None
        if token:
            req["proof"] = token
            run = req["steps"][-1]
            if lang.seal_source and run.get("pyfork"):
                run["seal"] = lang.seal_source
            if lang.proof_handover:
                run["handover"] = True
            if "warm" in req:
                req["warm"]["proof"] = token
        worker = self._free.get()
        try:
            restarts = worker.restarts
            t0 = time.monotonic()
            try:
                resp = worker.request(req, timeout=_budget(req) + 30.0)
            except sandbox.SandboxUnavailable as e:
                return Result(Status.SANDBOX_ERROR, detail=str(e), lang=lang.name)
            if worker.restarts > restarts and restarts >= 0:
                with self._lock:
                    self.stats["worker_restarts"] += worker.restarts - restarts
        finally:
            self._free.put(worker)
        if resp is None:
            return Result(Status.RUNTIME_ERROR, duration_s=time.monotonic() - t0, lang=lang.name,
                          detail="the program killed or hung its sandbox worker (worker restarted)")
        if "error" in resp:
            return Result(Status.SANDBOX_ERROR, detail=resp["error"], lang=lang.name)
        if program.inputs is not None:
            return self._judge_runs(lang, resp, limits)
        return self._judge(lang, resp["steps"], limits, token)

    def _request(self, lang: Language, source: str, limits: Limits, inputs: Sequence[str] | None = None) -> dict:
        mem = limits.memory_mb
        steps = []
        if lang.build:
            build = lang.argv(lang.build, mem)
            if lang.build_adapt and self.warm:  # prebuilt artefacts (a PCH, Go's standard library)
                build = lang.build_adapt(build, source)
            steps.append({"phase": "build", "argv": _resolve(build), "timeout": limits.build_timeout_s,
                          "rlimit_as": False})
        if lang.build_server and lang.name in self._build_server_exe:
            spec = _compile_server_spec(lang, *self._build_server_exe[lang.name])
            if spec is not None:
                steps[0]["compile_server"] = spec
        run_argv = plain = lang.argv(lang.run, mem)
        if lang.adapt:
            run_argv = lang.adapt(run_argv, source)
        steps.append({"phase": "run", "argv": _resolve(run_argv), "timeout": limits.timeout_s,
                      "rlimit_as": True if lang.rlimit_as else "data", "pyfork": lang.mode == "pyfork"})
        # One fork server per language and memory limit, in each worker. It runs with the plain flags, so a
        # program that `adapt` gave other flags runs in a fresh process.
        if lang.server and self.warm and run_argv == plain and lang.name in self._server_exe:
            argv = lang.argv(lang.server, mem)
            steps[-1]["server"] = {"key": f"{lang.name}:{mem}", "argv": [self._server_exe[lang.name], *argv[1:]],
                                   "env": dict(lang.env)}
        req = {"id": 0, "files": {lang.file_name(): source}, "steps": steps, "limits": limits.to_dict(),
               "env": dict(lang.env)}
        if inputs is not None:  # one run per input, stdout kept from its start; never the warm Node runner
            steps[-1]["stdout_head"] = int(limits.stdout_max_bytes)
            req["inputs"] = list(inputs)
        elif lang.mode == "node" and self._node_argv:
            req["warm"] = {"id": 0, "lang": lang.name, "source": source, "filename": lang.file_name(),
                           "timeout_ms": int(limits.timeout_s * 1000), "output_bytes": limits.output_bytes}
        return req

    def _judge(self, lang: Language, steps: Sequence[dict], limits: Limits, token: str | None = None) -> Result:
        last = steps[-1]
        if "error" in last:
            return Result(Status.SANDBOX_ERROR, detail=last["error"], lang=lang.name)
        if last.get("warm"):
            with self._lock:
                self.stats["warm"] += 1
        hit_memory = last.get("maxrss_kb", 0) >= 0.9 * limits.memory_mb * 1024
        status, detail = lang.classify(last["phase"], last["exit_code"], last.get("signal"), last["stderr"],
                                       last["timed_out"], hit_memory)
        stdout = last["stdout"]
        if token is not None:  # whichever step decided: no token, no pass
            proved = token in stdout
            stdout = stdout.replace(f"\n{token}\n", "").replace(token, "")
            if status is Status.PASSED and not proved:
                status, detail = Status.FAILED, "ended before its tests finished (no completion proof)"
        build_s = steps[0]["duration_s"] if steps[0].get("phase") == "build" else 0.0
        return Result(status, exit_code=last["exit_code"], duration_s=last["duration_s"], build_s=build_s,
                      stdout=stdout, stderr=last["stderr"], signal=last.get("signal"),
                      detail=detail, phase=last["phase"], lang=lang.name)


    def _judge_runs(self, lang: Language, resp: dict, limits: Limits) -> Result:
        """A program run on inputs: the build's verdict when it failed, else one `Result` per run (its
        whole stdout kept), and as status the first run that did not end cleanly (else passed)."""
        steps = resp["steps"]
        if steps and (steps[-1].get("error") or steps[-1]["exit_code"] != 0 or steps[-1]["timed_out"]):
            return self._judge(lang, steps, limits)  # the build failed: no run started
        build_s = steps[0]["duration_s"] if steps else 0.0
        runs = []
        for run in resp.get("runs", []):
            r = self._judge(lang, [run], limits)
            r.stdout_complete = bool(run.get("stdout_complete", True))
            runs.append(r)
        first = next((r for r in runs if not r.passed), None)
        if first is None and not runs:
            first = Result(Status.SANDBOX_ERROR, detail="no run came back", lang=lang.name)
        head = first or runs[-1]
        return Result(head.status, exit_code=head.exit_code, duration_s=sum(r.duration_s for r in runs),
                      build_s=build_s, stdout="", stderr=head.stderr, signal=head.signal, detail=head.detail,
                      phase="run", lang=lang.name, runs=runs)


def _compile_server_spec(lang: Language, exe: str, lib: str) -> dict | None:
    """How a worker starts `lang`'s compile server (evals/execution/servers/), from the execute-only copy
    `exe` of its runtime (which finds its libraries in `lib`: the copy is not beside them); None when its
    classes cannot be built here."""
    from evals.languages import java

    from . import prebuilt
    classes = prebuilt.java_compile_server(os.path.join(sandbox.HERE, "servers", java.SERVER_SOURCE))
    if classes is None:
        return None
    argv = [exe, *(a.format(classes=classes) for a in java.SERVER_ARGV[1:])]
    return {"key": lang.name, "argv": argv, "env": {"LD_LIBRARY_PATH": lib},
            "warm_file": lang.file_name(), "warm_source": java.WARM_SOURCE}


def _budget(req: dict) -> float:
    """The longest a request may take: every step's limit, the run's once per input (plus a little per run for
    copying the directory and wiping the scratch spaces)."""
    runs = len(req.get("inputs") or ()) or 1
    return sum(float(s["timeout"]) * (runs if s["phase"] == "run" else 1) for s in req["steps"]) + 0.5 * (runs - 1)


def _resolve(argv: list[str]) -> list[str]:
    exe = sandbox.which(argv[0]) if not argv[0].startswith("./") else argv[0]
    return [exe or argv[0], *argv[1:]]


_default: Executor | None = None


def run_program(lang: str, source: str, limits: Limits | None = None) -> Result:
    """Run one program on a shared default executor (convenient; use `Executor` for many)."""
    global _default
    if _default is None:
        _default = Executor()
    return _default.run(Program(lang, source), limits=limits)
