"""`ProbeConfig`: what `psft probe` (and the pipeline's probe stage) captures and measures.

A typed dataclass like every stage config (each field has help text; a bad value is one ValueError
naming the field). A recipe's `[probe]` table maps onto it field by field (`from_dict`). No torch.
Not for: where outputs go (`app/probing.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .capture import POOLINGS
from .dict_config import DictConfig
from .normalize import NORMS
from .programs import TEXTS

TEST_METRICS = ("retrieval_top1", "retrieval_mrr", "parallel_cosine")


@dataclass(frozen=True)
class ProbeConfig(DictConfig):
    ckpts: tuple[str, ...] = field(default=(), metadata={
        "help": "Checkpoints to probe (names under checkpoints/); empty: every checkpoint of the run."})
    split: str = field(default="test", metadata={"help": "World split whose tasks form the probe set."})
    n_tasks: int = field(default=200, metadata={
        "help": "Tasks in the probe set (in a run: the evaluated tasks of the split first, then the split's first others); 0: all. Retrieval chance is 1/n_tasks."})
    langs: tuple[str, ...] = field(default=(), metadata={
        "help": "Languages of the parallel set; empty: every world language (MBXP: python, javascript, "
                "ruby, php)."})
    text: str = field(default="code", metadata={
        "help": "What is pooled: 'code' (the function, no comments or description), 'body' (the body "
                "alone: no function name either) or 'description' (the full document with its English "
                "description: a labelled control only)."})
    layers: tuple[str, ...] = field(default=(), metadata={
        "help": "Hooks to capture: 'embed', block indices (negative from the end) or hook names; empty: all."})
    poolings: tuple[str, ...] = field(default=POOLINGS, metadata={
        "help": "Poolings over a program's tokens: 'mean' (special tokens excluded) and/or 'last'."})
    norms: tuple[str, ...] = field(default=NORMS, metadata={
        "help": "Normalisations measured side by side: raw, centered (per-language mean removed), "
                "standardized (per-dimension z-score)."})
    batch_size: int = field(default=16, metadata={"help": "Programs per nnsight trace."})
    max_tokens: int = field(default=512, metadata={"help": "Programs are truncated to this many tokens."})
    device: str = field(default="cpu", metadata={"help": "Torch device for capture (cpu, cuda, ...)."})
    dtype: str = field(default="float32", metadata={
        "help": "Model dtype for capture (float32, bfloat16, float16); activations are stored as float32."})
    threads: int = field(default=0, metadata={"help": "torch.set_num_threads during capture; 0: leave as is."})
    n_boot: int = field(default=1000, metadata={"help": "Bootstrap resamples of tasks for every CI."})
    n_perm: int = field(default=10000, metadata={"help": "Sign flips per permutation test (exact when n <= 14)."})
    seed: int = field(default=0, metadata={"help": "Seed of bootstraps, permutations and k-means."})
    kmeans_n_init: int = field(default=1, metadata={
        "help": "k-means restarts (scikit-learn n_init; 1 is scikit-learn's own default for k-means++). Each "
                "restart of the task clustering (k = n_tasks) cost ~0.1 s per layer for 300 tasks x 6 languages: "
                "3 restarts were a third of the toy run's probe stage."})
    probe_alpha: float = field(default=1.0, metadata={"help": "Ridge penalty of the linear probes."})
    probe_folds: int = field(default=5, metadata={"help": "Folds (grouped by task) of the language probe."})
    source_lang: str = field(default="python", metadata={
        "help": "The RL source language: alignment with it is what alignment_transfer correlates with gain."})
    alignment_layer: str = field(default="middle", metadata={
        "help": "Layer of alignment_transfer: 'middle', 'last', 'embed', a block index or a hook name "
                "(fixed in advance: choosing the best layer afterwards would bias the test)."})
    alignment_pooling: str = field(default="mean", metadata={"help": "Pooling of alignment_transfer and tests."})
    alignment_norm: str = field(default="centered", metadata={"help": "Normalisation of alignment_transfer."})
    test_metrics: tuple[str, ...] = field(default=("retrieval_top1", "parallel_cosine"), metadata={
        "help": f"Per-task metrics compared between checkpoints by permutation tests: {', '.join(TEST_METRICS)}."})
    lexical_control: bool = field(default=False, metadata={
        "help": "World runs: also probe a lexical control set, the same tasks rendered with per-language "
                "identifiers (WorldConfig.naming = 'per_language'), captured and measured like the main set "
                "(same metrics, tests and bag-of-tokens baseline) into metrics.json's \"control\". It doubles "
                "the stage's work; the world's recipes turn it on. Not for benchmark runs (nothing to rename).",
        "hash": "if_set"})

    def __post_init__(self):
        def bad(name: str, why: str):
            raise ValueError(f"ProbeConfig.{name}: {why} (got {getattr(self, name)!r})")
        for f in fields(self):
            v, default = getattr(self, f.name), f.default
            if isinstance(default, bool) or isinstance(v, bool):
                ok = isinstance(v, bool) and isinstance(default, bool)
            elif isinstance(default, int):
                ok = isinstance(v, int)
            elif isinstance(default, float):
                ok = isinstance(v, (int, float))
            elif isinstance(default, str):
                ok = isinstance(v, str)
            else:
                ok = True
            if not ok:
                bad(f.name, f"must be of type {type(default).__name__}")
        for name in ("ckpts", "langs", "layers", "poolings", "norms", "test_metrics"):
            v = getattr(self, name)
            if isinstance(v, str) or not isinstance(v, (tuple, list)):
                bad(name, "must be a list of strings")
            object.__setattr__(self, name, tuple(str(x) for x in v))
        if self.n_tasks < 0:
            bad("n_tasks", "must be >= 0 (0: all tasks of the split)")
        if self.text not in TEXTS:
            bad("text", f"must be one of {', '.join(TEXTS)}")
        if not self.poolings or any(p not in POOLINGS for p in self.poolings):
            bad("poolings", f"must be a non-empty subset of {', '.join(POOLINGS)}")
        if not self.norms or any(x not in NORMS for x in self.norms):
            bad("norms", f"must be a non-empty subset of {', '.join(NORMS)}")
        if any(x not in TEST_METRICS for x in self.test_metrics):
            bad("test_metrics", f"must be a subset of {', '.join(TEST_METRICS)}")
        if self.alignment_pooling not in self.poolings:
            bad("alignment_pooling", "must be one of the poolings captured")
        if self.alignment_norm not in self.norms:
            bad("alignment_norm", "must be one of the norms measured")
        for name in ("batch_size", "max_tokens", "kmeans_n_init"):
            if getattr(self, name) < 1:
                bad(name, "must be >= 1")
        if self.probe_folds < 2:
            bad("probe_folds", "must be >= 2")
        for name in ("n_boot", "n_perm", "threads"):
            if getattr(self, name) < 0:
                bad(name, "must be >= 0")
        if self.probe_alpha <= 0:
            bad("probe_alpha", "must be > 0")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            bad("dtype", "must be float32, bfloat16 or float16")
