"""Choosing where programs run, by name: `local` (this machine's pool of sandboxed workers, `Executor`) or
`ray` (a Ray cluster, a sandboxed `Executor` on every node: `ray_executor.RayExecutor`). Both have the
same `map`/`run`/`close` API, verdicts and guarantees; commands and recipes name a backend
(`--executor`, `[runtime].executor`) and open it here. Ray is imported only for `ray`.
"""
from __future__ import annotations

BACKENDS = ("local", "ray")


def open_executor(backend: str = "local", **kwargs):
    """An executor of `backend` (`BACKENDS`), with `Executor`'s arguments (workers, limits, sandbox_level,
    warm, hide); `ray` also takes `RayExecutor`'s (address, nodes, max_attempts). For `ray`, `workers` is
    per node. Raises ValueError for an unknown backend, `RayUnavailable` (a `SandboxUnavailable`) when Ray
    is missing or no cluster answers."""
    if backend == "local":
        from .executor import Executor
        return Executor(**kwargs)
    if backend == "ray":
        from .ray_executor import RayExecutor
        return RayExecutor(**kwargs)
    raise ValueError(f"unknown executor backend {backend!r}: use one of {', '.join(BACKENDS)}")
