"""Stage bookkeeping: a stage is skipped when its marker exists and its config hash matches.

A stage's hash covers its own config section and the hashes of the stages it reads from, so that
changing the pretraining recipe redoes everything downstream and nothing upstream. `graph_hashes`
computes every hash of a graph without running anything (the dry run, tests); `StageRunner.run_graph`
runs a graph, or one stage of it whose upstream is done (`psft run --stage`). Not for: the stages'
work itself (see `pipeline.py` and `sources/`).
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


class StageOrderError(Exception):
    """A stage asked for alone whose upstream stages are not done (or no such stage)."""


def graph_hashes(stages: list[Stage]) -> dict[str, str]:
    """Stage name -> hash, chained along `after` in graph order (what `StageRunner` would record)."""
    hashes: dict[str, str] = {}
    for s in stages:
        hashes[s.name] = s.hash(hashes)
    return hashes


def upstream(stages: list[Stage], name: str) -> set[str]:
    """Every stage `name` reads from, directly or not."""
    by_name = {s.name: s for s in stages}
    if name not in by_name:
        raise StageOrderError(f"no stage named {name!r}; stages: {', '.join(by_name)}")
    seen: set[str] = set()
    todo = list(by_name[name].after)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += by_name[n].after
    return seen


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

    def run_graph(self, stages: list[Stage], only: str | None = None, main: bool = True,
                  cheap: tuple[str, ...] = ()) -> None:
        """Run every stage in order; with `only`, that stage once its upstream stages are done (those named
        in `cheap` are done on the way). A process other than the main one (`main=False`) runs only its
        `only` stage, without bookkeeping: its outputs go to throw-away folders (`RunContext.output_dir`)."""
        if only is None:
            if not main:
                raise StageOrderError("only the main process runs the whole graph: name a stage with --stage")
            for s in stages:
                self(s)
            return
        needed = upstream(stages, only)
        for s in stages:
            if s.name not in needed and s.name != only:
                continue
            h = s.hash(self.hashes)
            if s.name == only:
                if main:
                    self(s)
                else:
                    self.hashes[s.name] = h
                    s.run()
                return
            if s.name in cheap and main and not self.done(s.name, h):
                self(s)
                continue
            self.hashes[s.name] = h
            if not self.done(s.name, h):
                raise StageOrderError(f"stage {s.name!r} (upstream of {only!r}) is not done: run it first")

    def say(self, msg: str) -> None:
        self._say(msg)

    def _say(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)
