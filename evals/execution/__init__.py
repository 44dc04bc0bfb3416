"""Sandboxed execution of programs in many languages.

>>> from evals.execution import Executor, Program
>>> with Executor(workers=2) as ex:
...     [r.status.value for r in ex.map([Program("python", "assert 1 + 1 == 2")])]
['passed']
"""
from .program import Program
from .result import Limits, Result, Status

__all__ = ["BACKENDS", "Executor", "Limits", "Program", "Result", "Status", "open_executor", "run_program"]


def __getattr__(name):  # keep `import evals.execution` light: the executor loads on first use
    if name in ("Executor", "run_program"):
        from . import executor
        return getattr(executor, name)
    if name in ("BACKENDS", "open_executor"):  # `local` or `ray` by name (Ray imported only for `ray`)
        from . import backends
        return getattr(backends, name)
    raise AttributeError(name)
