"""Stage bookkeeping: a stage is skipped when its marker exists and its config hash matches.

A stage's hash covers its own config section and the hashes of the stages it reads from, so that
changing the pretraining recipe redoes everything downstream and nothing upstream. Not for: the
stages' work itself (see `pipeline.py`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from train.config import stable_hash

from .runfs import EventLog, read_json, write_json


@dataclass
class Stage:
    name: str
    config: dict                      # the config this stage depends on (hashed)
    run: Callable[[], dict | None]    # does the work, writes outputs atomically; returns extra marker info
    after: list[str] = field(default_factory=list)

    def hash(self, upstream: dict[str, str]) -> str:
        return stable_hash([self.name, self.config, [upstream[a] for a in self.after]])


class StageRunner:
    """Runs stages in order, skipping those already done with the same hash."""

    def __init__(self, root: Path, log: EventLog, quiet: bool = False):
        self.root = root
        self.log = log
        self.quiet = quiet
        self.hashes: dict[str, str] = {}
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def marker(self, name: str) -> Path:
        return self.root / "stages" / f"{name}.json"

    def done(self, name: str, h: str) -> bool:
        m = read_json(self.marker(name))
        return bool(m) and m.get("hash") == h

    def __call__(self, stage: Stage) -> None:
        h = stage.hash(self.hashes)
        self.hashes[stage.name] = h
        if self.done(stage.name, h):
            self.skipped.append(stage.name)
            self.log("stage_skipped", stage=stage.name, hash=h)
            return
        self.marker(stage.name).unlink(missing_ok=True)
        self._say(f"[{stage.name}] ...")
        t0 = time.time()
        self.log("stage_start", stage=stage.name, hash=h)
        info = stage.run() or {}
        seconds = round(time.time() - t0, 2)
        write_json(self.marker(stage.name), {"stage": stage.name, "hash": h, "seconds": seconds,
                                             "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **info})
        self.log("stage_end", stage=stage.name, hash=h, seconds=seconds)
        self.ran.append(stage.name)
        self._say(f"[{stage.name}] done in {seconds:.1f}s")

    def say(self, msg: str) -> None:
        self._say(msg)

    def _say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)
