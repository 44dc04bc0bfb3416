"""`InterventionConfig`: which intervention `psft intervene` runs, where, how strongly, and how it is
scored against the unedited checkpoints. A typed dataclass like every stage config (each field has help
text; a bad value is one ValueError naming the field). `InterventionStageConfig` is a recipe's
`[interventions]` table: which kinds on which RL arms, and the settings every kind shares; `for_kind` gives
each kind its `InterventionConfig`, with the fields that kind does not read at their defaults (so that a
transplant-only field such as `alphas` moves the transplant stages' hashes only). No torch.
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


# What each kind reads beyond the fields every kind reads (layers, group, statistics, seed).
KIND_FIELDS = {"transplant": ("alphas", "controls", "delta_split", "delta_tasks", "batch_size"),
               "patch": (),
               "erase": ("probe_split", "probe_tasks", "probe_text", "erase_rows", "batch_size")}
SHARED_FIELDS = ("layers", "group", "alpha_level", "n_boot", "min_tasks_ci", "seed")
_HELP = InterventionConfig.help()


def _same(name: str, **kw):
    """A field of the table that is InterventionConfig's field `name` (same default, same help)."""
    default = InterventionConfig.__dataclass_fields__[name].default
    return field(default=default, metadata={"help": _HELP[name], **kw})


@dataclass(frozen=True)
class InterventionStageConfig(DictConfig):
    """A recipe's `[interventions]` table: one pipeline stage per (arm, kind), each RL arm against the SFT
    checkpoint it started from (`rl-<arm>` vs `sft-<arm>`), scored on the run's evaluation tasks."""
    kinds: tuple[str, ...] = field(default=KINDS, metadata={
        "help": "Interventions to run on each arm: any of 'transplant', 'patch', 'erase' (see `psft intervene`)."})
    arms: tuple[str, ...] = field(default=("parallel",), metadata={
        "help": "RL arms (names in [sft].arms, or oracle-<lang>): each RL checkpoint against its SFT parent."})
    n_tasks: int = field(default=0, metadata={
        "help": "Evaluated tasks per language (0: [eval].n_tasks), drawn from the held-out splits as the run's "
                "evaluation draws its own (same seed); fewer than [eval].n_tasks are mostly, not all, among the "
                "run's (the JSON's baseline_check counts the rows both share). Each condition is a full greedy "
                "evaluation: this sets the stage's cost."})
    layers: tuple[int, ...] = _same("layers")
    alphas: tuple[float, ...] = _same("alphas")
    controls: bool = _same("controls")
    delta_split: str = _same("delta_split")
    delta_tasks: int = _same("delta_tasks")
    probe_split: str = _same("probe_split")
    probe_tasks: int = _same("probe_tasks")
    probe_text: str = field(default="", metadata={
        "help": "erase: what each probed program is ('code', 'body' or 'description'); empty: the recipe's "
                "[probe].text (the programs the probe stage reads), else 'code'."})
    erase_rows: str = _same("erase_rows")
    group: str = field(default="", metadata={
        "help": "Languages of the confirmatory contrasts ('targets', 'seen' or 'zero_shot'); empty: the "
                "recipe's [analysis].group."})
    alpha_level: float = _same("alpha_level")
    n_boot: int = _same("n_boot")
    min_tasks_ci: int = _same("min_tasks_ci")
    seed: int = _same("seed")
    batch_size: int = _same("batch_size")

    def __post_init__(self):
        def bad(name: str, why: str):
            raise ValueError(f"InterventionStageConfig.{name}: {why} (got {getattr(self, name)!r})")
        for name in ("kinds", "arms"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not isinstance(v, (tuple, list)) or not v:
                bad(name, "must be a non-empty list")
            object.__setattr__(self, name, tuple(str(x) for x in v))
            if len(set(getattr(self, name))) != len(getattr(self, name)):
                bad(name, "names one twice")
        if set(self.kinds) - set(KINDS):
            bad("kinds", f"each must be one of {', '.join(KINDS)}")
        if self.n_tasks < 0:
            bad("n_tasks", "must be >= 0 (0: [eval].n_tasks)")
        if self.probe_text not in ("", "code", "body", "description"):
            bad("probe_text", "must be 'code', 'body', 'description' or empty")
        if self.group not in ("", *GROUPS):
            bad("group", f"must be one of {', '.join(GROUPS)} or empty")
        self.for_kind(self.kinds[0], "python", "code", self.group or "targets")   # the shared fields' own checks

    def for_kind(self, kind: str, source_lang: str, probe_text: str, group: str) -> InterventionConfig:
        """The `InterventionConfig` of one kind: the fields it reads from this table, the rest at their defaults;
        `source_lang` is the arm's RL language, `probe_text` and `group` the defaults of the empty fields."""
        kw = {name: getattr(self, name) for name in (*SHARED_FIELDS, *KIND_FIELDS[kind])}
        if "probe_text" in kw:
            kw["probe_text"] = self.probe_text or probe_text
        kw["group"] = self.group or group
        try:
            return InterventionConfig(kind=kind, source_lang=source_lang, **kw)
        except ValueError as e:   # name the table's field, not InterventionConfig's
            raise ValueError(str(e).replace("InterventionConfig.", "InterventionStageConfig.", 1)) from None
