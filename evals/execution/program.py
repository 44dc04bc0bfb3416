"""A program to run: a language and a complete source text (solution + tests already assembled), or a
whole program and the standard inputs to run it on (stdin/stdout problems)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .result import Limits


@dataclass(frozen=True)
class Program:
    lang: str = field(metadata={"help": "Language name or alias (see evals.languages)."})
    source: str = field(metadata={"help": "Complete program text; exit 0 means its tests passed."})
    id: str | None = field(default=None, compare=False, metadata={"help": "Caller's label, e.g. a task id."})
    proof: bool = field(default=False, metadata={
        "help": "The program is sealed (`Language.seal`): `passed` also needs the proof token it prints after "
                "its last test, so an early exit or an exit hook cannot pass. Programs of our harnesses set it."})
    inputs: tuple[str, ...] | None = field(default=None, metadata={
        "help": "Standard inputs: the program is built once, then run once per input, each run in a fresh copy "
                "of its directory with that input (only) on stdin and the scratch spaces wiped between runs; "
                "`Result.runs` has one record per input, with the whole stdout (up to `Limits.stdout_max_bytes`). "
                "Whether an output is right is the caller's to decide, on the host (see evals.benchmarks.io_judge). "
                "Runs after one that timed out are skipped. Not with `proof`."})
    limits: Limits | None = field(default=None, metadata={
        "help": "Limits of this program (each run gets them afresh); None: the executor's or the map call's."})

    def __post_init__(self):
        if self.inputs is not None and self.proof:
            raise ValueError("a program run on inputs is judged by its outputs: it cannot also ask for a proof")

    def key(self) -> str:
        """Content hash: identical programs (same inputs and limits) are run once."""
        h = hashlib.sha256(f"{self.lang}\0{int(self.proof)}\0{self.source}".encode())
        if self.inputs is not None:
            h.update(f"\0inputs:{len(self.inputs)}".encode())
            for x in self.inputs:
                h.update(hashlib.sha256(x.encode()).digest())
        if self.limits is not None:
            h.update(repr(sorted(self.limits.to_dict().items())).encode())
        return h.hexdigest()


def unique_programs(programs) -> dict[str, Program]:
    """Each distinct program once, by `Program.key()`, in first-seen order: what an executor runs for a batch
    in which identical programs share one verdict."""
    unique: dict[str, Program] = {}
    for p in programs:
        unique.setdefault(p.key(), p)
    return unique
