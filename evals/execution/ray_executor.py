"""The executor on a Ray cluster: the same `map` API as `Executor`, on a pool of Ray actors, one per node,
each hosting the sandboxed local `Executor` on its node.

Why this is sound: a verdict is decided where the program ran, by the node's own `Executor` (its sandbox,
its per-program limits, its completion proof: the token is drawn in the node's actor and never leaves it).
The driver receives finished `Result` records from our actors, never from a program: what a program
controls there is only the text of its stdout/stderr tails, which the driver passes on and never parses.
Nothing is relaxed for remote use, and one thing is added: every node runs bubblewrap (an actor on a node
without it fails to start; `sandbox_level="process"` is refused). Its empty network namespace is what
keeps a program away from the cluster itself: Ray's ports take work from anyone who reaches them, so a
program with the network could run code on every node.

How a batch runs: identical programs run once (as locally, by `Program.key`); the unique programs are
dealt out in chunks, large first and smaller towards the end (guided self-scheduling), at most two
chunks in flight per actor, so that a slower node takes fewer. When an actor is lost (its node died,
its process was killed), each chunk it held goes back to the queue, one program a chunk, and runs
elsewhere: no verdict is lost, and since a program is resubmitted only after its attempt has failed, at
most one attempt of it is ever in flight and its verdict is reported once, in input order. A program whose
attempts are lost `max_attempts` times (e.g. it takes its node down each time) gets a `sandbox_error`.
When every actor is gone, the pool is rebuilt on the nodes alive then; with none left, `map` raises
`RayUnavailable`. A node that joins the cluster gets an actor at the next `map`. The scheduling is written
here rather than taken from `ray.util.ActorPool` or Ray's task retries (`max_restarts`/`max_task_retries`):
the pool does not resubmit a lost actor's work, and Ray's retries re-run a call on the same actor once it
restarts (on a dead node: once resources free up elsewhere) with no cap per program that ends in a verdict.

The cluster: `address` as Ray's own `ray.init` takes it (None: `RAY_ADDRESS`, else the cluster that
`ray start` last started on this machine). When this process is already connected to Ray (`ray.init` was
called), that connection is used and left open on `close`. Every node needs this project importable by
Ray's workers (the same environment as the driver, as on a cluster made from one image), its language
runtimes and bubblewrap. Ray is imported only when this backend is chosen (`pip install '.[dist]'`).
Not for: one machine without Ray (`Executor`), choosing a backend by name (`backends.open_executor`).
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import threading
from collections.abc import Iterable, Sequence

from . import sandbox
from .program import Program, unique_programs
from .result import Limits, Result, Status

# Per actor: chunks in flight (one running, one queued behind it), and the largest chunk in workers.
DEPTH = 2
MAX_CHUNK_PER_WORKER = 4
START_TIMEOUT_S = 180.0


class RayUnavailable(sandbox.SandboxUnavailable):
    """Ray is not installed, no cluster answers, or no node could host the sandboxed executor. A kind of
    `SandboxUnavailable`, so that callers that report an executor which cannot start report this too."""


class NodeExecutor:
    """What one Ray actor hosts: the local sandboxed `Executor` of its node (used through `ray.remote`)."""

    def __init__(self, workers: int, limits: Limits, level: str, warm: bool, hide: Sequence[str]):
        from .executor import Executor
        self.executor = Executor(workers=workers, limits=limits, sandbox_level=level, warm=warm, hide=hide)

    def describe(self) -> dict:
        import socket

        import ray
        return {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
                "level": self.executor.level, "workers": self.executor.n_workers}

    def map(self, programs: list[Program], limits: Limits) -> list[Result]:
        return self.executor.map(programs, limits=limits)

    def stats(self) -> dict:
        return dict(self.executor.stats)

    def close(self) -> None:
        self.executor.close()


@dataclasses.dataclass
class _Actor:
    handle: object
    node: str
    workers: int
    inflight: int = 0


class RayExecutor:
    """A pool of Ray actors, one per node, each running the sandboxed local executor (see the module
    docstring). Use as a context manager, or call `close()`."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None, sandbox_level: str = "auto",
                 warm: bool = True, hide: Iterable[str | os.PathLike] = (), address: str | None = None,
                 nodes: Sequence[str] | None = None, max_attempts: int = 3, reserve_cpus: bool = False,
                 start_timeout_s: float = START_TIMEOUT_S):
        """`workers`: sandboxed workers on each node (default: the node's CPUs as Ray counts them). `hide`: as
        `Executor`'s, applied on every node to those of the files that exist there. `nodes`: Ray node ids to
        run on (default: every live node with a CPU). `max_attempts`: how often a program may lose its node
        before it gets a `sandbox_error`. `reserve_cpus`: each actor reserves its workers' CPUs in Ray's
        accounting (then a second pool, or other Ray work, waits for them); by default it reserves none and
        shares the cores, as two local executors on one machine do."""
        try:
            import ray
        except ImportError:
            raise RayUnavailable("the ray executor needs Ray: pip install 'parallel-sft-lab[dist]' "
                                 "(or pip install 'ray>=2.9,<3')") from None
        if sandbox_level not in ("auto", "bwrap", "process"):
            raise ValueError(f"unknown sandbox level {sandbox_level!r}: use auto, bwrap or process")
        if sandbox_level == "process":
            raise RayUnavailable("the ray executor runs programs only in bubblewrap: without its empty network "
                                 "namespace a program could reach the Ray cluster's ports and run code on every node")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self._ray = ray
        self.limits = limits or Limits()
        self.level = "bwrap"   # on every node; no fallback (see the module docstring)
        self.workers = workers
        self.warm = warm
        self.hide = tuple(os.path.abspath(os.fspath(p)) for p in hide)
        self.nodes = tuple(nodes) if nodes else None
        self.max_attempts = max_attempts
        self.reserve_cpus = reserve_cpus
        self.start_timeout_s = start_timeout_s
        self._owns_connection = False
        if not ray.is_initialized():
            why = _unreachable(address)
            if why:  # Ray itself would retry for minutes
                raise RayUnavailable(f"no Ray cluster answers at {why} (start one with `ray start --head`, or "
                                     "set RAY_ADDRESS to a cluster's address)")
            try:
                ray.init(address=address or "auto", include_dashboard=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise RayUnavailable(f"no Ray cluster at {address or os.environ.get('RAY_ADDRESS') or 'auto'}: "
                                     f"{str(e).splitlines()[0] if str(e) else type(e).__name__} (start one with "
                                     "`ray start --head`, or set RAY_ADDRESS to a cluster's address)") from None
            self._owns_connection = True
        self._remote = ray.remote(NodeExecutor)
        self._actors: dict[str, _Actor] = {}   # node id -> its actor
        self._lock = threading.Lock()
        self.stats = {"programs": 0, "deduplicated": 0, "retried": 0, "lost_actors": 0, "completed": 0,
                      "by_node": {}}
        try:
            self._ensure_actors()
            if not self._actors:
                raise RayUnavailable("no Ray node with a CPU is alive in the cluster" +
                                     (f" among {', '.join(n[:8] for n in self.nodes)}" if self.nodes else ""))
        except BaseException:
            self.close()
            raise

    # -- public API -------------------------------------------------------------------------

    @property
    def n_workers(self) -> int:
        return sum(a.workers for a in self._actors.values())

    def node_ids(self) -> list[str]:
        """The Ray nodes that host an actor of this executor now."""
        return list(self._actors)

    def run(self, program: Program, limits: Limits | None = None) -> Result:
        return self.map([program], limits=limits)[0]

    def map(self, programs: Iterable[Program], limits: Limits | None = None, progress: bool = False,
            desc: str = "executing") -> list[Result]:
        """Run programs on the cluster; results come back in input order, one per program."""
        programs = list(programs)
        limits = limits or self.limits
        unique = unique_programs(programs)
        with self._lock:  # one batch at a time: its bookkeeping is the pool's
            self.stats["completed"] = 0
            if unique:
                self._ensure_actors()
            bar = None
            if progress and unique:
                from tqdm import tqdm
                bar = tqdm(total=len(unique), desc=desc, unit="prog")
            try:
                done = self._schedule(unique, limits, bar)
            finally:
                if bar:
                    bar.close()
            self.stats["programs"] += len(programs)
            self.stats["deduplicated"] += len(programs) - len(unique)
        out, seen = [], set()
        for p in programs:  # a duplicate gets its own copy of the shared result
            k = p.key()
            out.append(dataclasses.replace(done[k]) if k in seen else done[k])
            seen.add(k)
        return out

    def node_stats(self) -> dict[str, dict]:
        """Each live actor's local executor stats (worker restarts, warm runs), by node id."""
        ray = self._ray
        out = {}
        for node, a in list(self._actors.items()):
            try:
                out[node] = ray.get(a.handle.stats.remote(), timeout=30)
            except Exception:  # noqa: BLE001 -- a lost actor has no stats
                continue
        return out

    def close(self) -> None:
        ray = self._ray
        actors, self._actors = list(getattr(self, "_actors", {}).values()), {}
        closing = []
        for a in actors:
            try:
                closing.append(a.handle.close.remote())
            except Exception:  # noqa: BLE001 -- already gone
                pass
        if closing:
            try:
                ray.wait(closing, num_returns=len(closing), timeout=30)
            except Exception:  # noqa: BLE001
                pass
        for a in actors:
            try:
                ray.kill(a.handle)
            except Exception:  # noqa: BLE001
                pass
        if self._owns_connection and ray.is_initialized():
            ray.shutdown()
            self._owns_connection = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the pool ----------------------------------------------------------------------------

    def _ensure_actors(self) -> None:
        """An actor on every live node (of `nodes`, when given) that has none; waits for the new ones to
        start, and drops those that cannot (no free CPUs there within the start limit, no sandbox)."""
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        live = {n["NodeID"]: n for n in ray.nodes() if n.get("Alive")}
        for node in [n for n in self._actors if n not in live]:
            self._lose(node)
        starting = {}
        for node, info in live.items():
            cpus = int(info.get("Resources", {}).get("CPU", 0))
            if node in self._actors or cpus < 1 or (self.nodes is not None and node not in self.nodes):
                continue
            workers = self.workers or cpus
            handle = self._remote.options(
                num_cpus=min(workers, cpus) if self.reserve_cpus else 0, max_restarts=0, max_concurrency=DEPTH + 2,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
            ).remote(workers, self.limits, self.level, self.warm, self.hide)
            starting[node] = (handle, handle.describe.remote())
        if not starting:
            return
        refs = [ref for _, ref in starting.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=self.start_timeout_s)
        errors = []
        for node, (handle, ref) in starting.items():
            try:
                if ref not in ready:
                    raise TimeoutError(f"not started within {self.start_timeout_s:.0f} s"
                                       + (" (no free CPUs there?)" if self.reserve_cpus else ""))
                info = ray.get(ref)
            except Exception as e:  # noqa: BLE001 -- reported below when no actor started at all
                errors.append(f"node {node[:8]}: {_first_line(e)}")
                try:
                    ray.kill(handle)
                except Exception:  # noqa: BLE001
                    pass
                continue
            self._actors[node] = _Actor(handle, node, info["workers"])
        if not self._actors and errors:
            raise RayUnavailable("no Ray node could host the sandboxed executor: " + "; ".join(errors))

    def _lose(self, node: str) -> None:
        a = self._actors.pop(node, None)
        if a is None:
            return
        self.stats["lost_actors"] += 1
        try:
            self._ray.kill(a.handle)
        except Exception:  # noqa: BLE001 -- already gone
            pass

    def _schedule(self, unique: dict[str, Program], limits: Limits, bar) -> dict[str, Result]:
        ray = self._ray
        lost_errors = _lost_errors(ray)
        fresh = collections.deque(unique)        # keys never tried
        retry: collections.deque[str] = collections.deque()  # keys whose attempt was lost: one a chunk
        attempts = dict.fromkeys(unique, 0)
        done: dict[str, Result] = {}
        inflight: dict[object, tuple[str, list[str]]] = {}   # ref -> (node, keys)
        while fresh or retry or inflight:
            for a in list(self._actors.values()):
                while a.inflight < DEPTH and (fresh or retry):
                    if retry:
                        keys = [retry.popleft()]
                    else:
                        size = _chunk_size(len(fresh), self.n_workers, a.workers)
                        keys = [fresh.popleft() for _ in range(min(size, len(fresh)))]
                    for k in keys:
                        attempts[k] += 1
                    ref = a.handle.map.remote([unique[k] for k in keys], limits)
                    inflight[ref] = (a.node, keys)
                    a.inflight += 1
            if not inflight:  # work left and no actor: rebuild the pool on the nodes alive now
                self._ensure_actors()
                if not self._actors:
                    raise RayUnavailable(f"every Ray node running this batch was lost; {len(done)} of "
                                         f"{len(unique)} programs have verdicts, no node is left to run the rest")
                continue
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=5.0)
            for ref in ready:
                node, keys = inflight.pop(ref)
                actor = self._actors.get(node)
                if actor is not None:
                    actor.inflight -= 1
                try:
                    results = ray.get(ref)
                except lost_errors as e:
                    self._lose(node)
                    self.stats["retried"] += len(keys)
                    for k in keys:
                        if attempts[k] >= self.max_attempts:
                            done[k] = Result(Status.SANDBOX_ERROR, lang=unique[k].lang,
                                             detail=f"its Ray actor was lost {attempts[k]} time"
                                                    f"{'s' if attempts[k] > 1 else ''} (last: {_first_line(e)})")
                            self._tick(node, bar)
                        else:
                            retry.append(k)
                    continue
                if len(results) != len(keys):
                    raise RuntimeError(f"node {node[:8]} answered {len(results)} results for {len(keys)} programs")
                for k, r in zip(keys, results):
                    done[k] = r
                    self._tick(node, bar)
        return done

    def _tick(self, node: str, bar) -> None:
        self.stats["completed"] += 1
        by_node = self.stats["by_node"]
        by_node[node] = by_node.get(node, 0) + 1
        if bar:
            bar.update(1)


def _chunk_size(remaining: int, total_workers: int, actor_workers: int) -> int:
    """Guided self-scheduling: a share of what is left, so that early chunks are large (little overhead)
    and the last ones small (the nodes finish together); at most `MAX_CHUNK_PER_WORKER` per worker."""
    share = math.ceil(remaining / max(1, 2 * DEPTH * total_workers)) * actor_workers
    return max(1, min(share, MAX_CHUNK_PER_WORKER * actor_workers))


def _lost_errors(ray) -> tuple[type[BaseException], ...]:
    """The errors that mean "the actor or its node is gone", not "our code failed" (those propagate)."""
    ex = ray.exceptions
    return tuple(getattr(ex, n) for n in ("RayActorError", "WorkerCrashedError", "NodeDiedError",
                                          "ObjectLostError", "OutOfMemoryError") if hasattr(ex, n))


def _unreachable(address: str | None) -> str | None:
    """'host:port: why' when the cluster address given (or RAY_ADDRESS) is a host:port that refuses a TCP
    connection within 10 s; None when it answers or the address is Ray's to resolve ('auto', ray://...)."""
    import socket
    addr = address or os.environ.get("RAY_ADDRESS") or ""
    if not addr or addr in ("auto", "local") or "://" in addr:
        return None
    host, _, port = addr.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
    except (OSError, ValueError) as e:
        return f"{addr} ({e})"
    return None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__

