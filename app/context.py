"""What every stage function receives: the recipe, its task source, the run folder, the event log, and
the few things stages share within one process (the sandbox executor, the torch device).

A stage is a plain function `stage(ctx, ...)`: a test builds a `RunContext` on a folder and calls it.
Only the main process of a launch writes (`RANK` 0): on other ranks `ctx.output_dir` hands out a
throw-away folder outside the run, so a multi-GPU training stage never renames anything over the main
process's checkpoint. Not for: which stages run (`app/pipeline.py`) or file-writing primitives
(`app/runfs.py`).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .runfs import EventLog, atomic_dir


def launch_rank() -> int:
    """This process's rank under `accelerate launch` / torchrun (`RANK`), 0 otherwise."""
    return int(os.environ.get("RANK", "0"))


def stage_logger(log, stage: str):
    """Adapt the train/ callbacks (dict events or text lines) to the run's event log, tagged with `stage`."""
    def emit(item):
        if isinstance(item, dict):
            fields = dict(item)
            log(fields.pop("event", "log"), stage=stage, **fields)
        else:
            log("log", stage=stage, message=str(item))
    return emit


@dataclass
class RunContext:
    recipe: object                    # a world Recipe or a BenchRecipe
    source: object                    # its TaskSource (app/sources)
    root: Path
    log: object = None                # EventLog (or any callable(event, **fields)); None: root/events.jsonl
    progress: bool = False
    rank: int = field(default_factory=launch_rank)
    _executor: object = field(default=None, repr=False)
    _device: object = field(default=None, repr=False)

    def __post_init__(self):
        self.root = Path(self.root)
        if self.log is None:
            self.log = EventLog(self.root / "events.jsonl" if self.main else Path(os.devnull))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def logger(self, stage: str):
        return stage_logger(self.log, stage)

    def checkpoint(self, name: str) -> Path:
        return self.root / "checkpoints" / name

    @contextmanager
    def output_dir(self, final: Path):
        """A folder to write `final` into: on the main process it replaces `final` in one rename when the
        block ends (`atomic_dir`); on other ranks it is a temporary folder outside the run, then deleted."""
        if self.main:
            with atomic_dir(final) as tmp:
                yield tmp
            return
        tmp = Path(tempfile.mkdtemp(prefix=f"psft-rank{self.rank}-{final.name}-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @property
    def device(self):
        """The torch device of `[runtime].device` (this process's own GPU under a launch); sets threads."""
        if self._device is None:
            runtime = self.recipe.runtime
            local = os.environ.get("LOCAL_RANK")
            if local is not None and runtime.device == "cuda":
                import dataclasses
                runtime = dataclasses.replace(runtime, device=f"cuda:{local}")
            self._device = runtime.apply()
        return self._device

    def executor(self):
        """The sandbox executor, started on first use and shut down by `close`."""
        if self._executor is None:
            from evals.execution import open_executor
            self._executor = open_executor(self.recipe.runtime.executor,
                                           hide=getattr(self.source, "hidden_files", list)()).__enter__()
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.__exit__(None, None, None)
            self._executor = None
