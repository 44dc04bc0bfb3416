"""A program to run: a language and a complete source text (solution + tests already assembled)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Program:
    lang: str = field(metadata={"help": "Language name or alias (see evals.languages)."})
    source: str = field(metadata={"help": "Complete program text; exit 0 means its tests passed."})
    id: str | None = field(default=None, compare=False, metadata={"help": "Caller's label, e.g. a task id."})
    proof: bool = field(default=False, metadata={
        "help": "The program is sealed (`Language.seal`): `passed` also needs the proof token it prints after "
                "its last test, so an early exit or an exit hook cannot pass. Programs of our harnesses set it."})

    def key(self) -> str:
        """Content hash: identical programs are run once."""
        return hashlib.sha256(f"{self.lang}\0{int(self.proof)}\0{self.source}".encode()).hexdigest()
