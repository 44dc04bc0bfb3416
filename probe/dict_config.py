"""`DictConfig`: the plain-dict side of the probe floor's configs (a recipe table or JSON in and out, and
each field's help), shared by `ProbeConfig` and `InterventionConfig`. `probe` imports nothing of `train`,
whose recipe loader does the same for the training configs."""
from __future__ import annotations

from dataclasses import fields


class DictConfig:
    """Mixin for a dataclass config whose every field has `metadata={"help": ...}`."""

    @classmethod
    def from_dict(cls, d: dict):
        """From a plain dict (a recipe table, JSON): unknown keys are an error naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}
