"""`InterventionConfig`: which intervention `psft intervene` runs, where, how strongly, and how it is
scored against the unedited checkpoints. A typed dataclass like every stage config (each field has help
text; a bad value is one ValueError naming the field); a recipe's future `[interventions]` table maps
onto it field by field (`from_dict`). No torch.
Not for: where outputs go or which tasks are scored (`app/intervening.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..dict_config import DictConfig

KINDS = ("transplant", "patch", "erase")
GROUPS = ("targets", "seen", "zero_shot")
ERASE_ROWS = ("tokens", "programs")


@dataclass(frozen=True)
class InterventionConfig(DictConfig):
    kind: str = field(default="transplant", metadata={
        "help": "'transplant': add alpha * Δ_L (the mean residual update of --model over --vs on source-language "
                "prompts) to --vs's residual at layer L; 'patch': replace one model's residual at L by the other's "
                "(both directions), during generation; 'erase': a LEACE eraser of the language label at L, "
                "applied to each model during generation."})
    layers: tuple[int, ...] = field(default=(), metadata={
        "help": "Decoder layers (blocks.{L}.hook_resid_post) to intervene at, one at a time; negative counts "
                "from the end; empty: every layer."})
    alphas: tuple[float, ...] = field(default=(1.0,), metadata={"help": "Scales of the transplanted direction."})
    source_lang: str = field(default="python", metadata={
        "help": "The language RL ran in: Δ is computed on its prompts; the targets are every other language."})
    delta_split: str = field(default="rl", metadata={
        "help": "World split whose prompts Δ is computed on (the RL split by default: disjoint from the "
                "evaluated tasks, and what RL trained on)."})
    delta_tasks: int = field(default=200, metadata={"help": "Prompts of delta_split that Δ averages over (0: all)."})
    controls: bool = field(default=True, metadata={
        "help": "transplant: also a random direction of the same norm (seeded) and Δ computed on each target "
                "language's own prompts (an upper reference)."})
    probe_split: str = field(default="test", metadata={
        "help": "erase: world split of the probe set the eraser is fitted on and retrieval is measured on."})
    probe_tasks: int = field(default=200, metadata={"help": "erase: tasks of the probe set (0: all)."})
    probe_text: str = field(default="code", metadata={
        "help": "erase: what each probed program is ('code', 'body' or 'description', as [probe].text)."})
    erase_rows: str = field(default="tokens", metadata={
        "help": "erase: fit the eraser on every token of the probe programs ('tokens': what generation reads) "
                "or on their mean-pooled vectors ('programs': what retrieval reads)."})
    group: str = field(default="targets", metadata={
        "help": "Languages of the confirmatory contrasts: 'targets' (all but source_lang), 'seen' (targets in "
                "some SFT arm) or 'zero_shot' (targets in none; needs the recipe's SFT languages)."})
    alpha_level: float = field(default=0.05, metadata={"help": "Family-wise error rate of the confirmatory family (Holm)."})
    n_boot: int = field(default=2000, metadata={"help": "Paired bootstrap resamples of tasks for every interval."})
    min_tasks_ci: int = field(default=10, metadata={"help": "No interval is given over fewer tasks than this."})
    seed: int = field(default=0, metadata={"help": "Seed of the random direction and of the bootstraps."})
    batch_size: int = field(default=16, metadata={"help": "Programs per trace when computing Δ or fitting the eraser."})

    def __post_init__(self):
        def bad(name: str, why: str):
            raise ValueError(f"InterventionConfig.{name}: {why} (got {getattr(self, name)!r})")
        for name in ("layers", "alphas"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not isinstance(v, (tuple, list)):
                bad(name, "must be a list")
        object.__setattr__(self, "layers", tuple(int(x) for x in self.layers))
        object.__setattr__(self, "alphas", tuple(float(x) for x in self.alphas))
        if self.kind not in KINDS:
            bad("kind", f"must be one of {', '.join(KINDS)}")
        if not self.alphas:
            bad("alphas", "must name at least one scale")
        if self.group not in GROUPS:
            bad("group", f"must be one of {', '.join(GROUPS)}")
        if self.erase_rows not in ERASE_ROWS:
            bad("erase_rows", f"must be one of {', '.join(ERASE_ROWS)}")
        if self.probe_text not in ("code", "body", "description"):
            bad("probe_text", "must be 'code', 'body' or 'description'")
        for name in ("delta_tasks", "probe_tasks"):
            if getattr(self, name) < 0:
                bad(name, "must be >= 0 (0: all)")
        if self.n_boot < 100:
            bad("n_boot", "must be >= 100")
        if self.min_tasks_ci < 2:
            bad("min_tasks_ci", "must be >= 2")
        if self.batch_size < 1:
            bad("batch_size", "must be >= 1")
        if not 0 < self.alpha_level < 1:
            bad("alpha_level", "must be in (0, 1)")

    def resolve_layers(self, n_layers: int) -> list[int]:
        """The layer indices to use for a model of `n_layers` decoder layers (ValueError when out of range)."""
        if not self.layers:
            return list(range(n_layers))
        out = []
        for L in self.layers:
            if not -n_layers <= L < n_layers:
                raise ValueError(f"layer {L}: the model has {n_layers} decoder layers (0..{n_layers - 1}, or "
                                 f"-{n_layers}..-1 from the end)")
            out.append(L % n_layers)
        return sorted(set(out))
