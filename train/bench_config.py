"""Configs of the study on a real pretrained model and real benchmarks (recipes with `kind = "bench"`).

The stage configs are the world's (`SFTStageConfig`, `GRPOStageConfig`, `EvalConfig`) with the
language universe widened from the world's six languages to every language `evals.languages` can run,
and defaults for a pretrained instruct model (LoRA on, MBXP's seven SFT languages). Three sections are
new: `[model]` (which pretrained model), `[data]` (where the benchmarks are and which problem numbers
train) and `[launch]` (how a GPU run is launched through accelerate). `train/prompts.PromptConfig` is
`[prompt]`. Loaded by `train.bench_recipe`. Imports only the standard library and `evals`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from evals.languages import LANGUAGES as _RUNNERS

from .config import require
from .evaluate import EvalConfig
from .grpo import GRPOStageConfig
from .sft import SFTStageConfig

BENCH_LANGS: tuple[str, ...] = tuple(_RUNNERS)
# MBXP's languages with reference solutions (Perl has tests only).
SFT_LANGS: tuple[str, ...] = ("python", "javascript", "typescript", "ruby", "php", "cpp", "java")
MBXP_EVAL_LANGS: tuple[str, ...] = ("python", "javascript", "typescript", "ruby", "php", "cpp", "java", "perl")
# Multi-HumanEval's languages that have a runner here (no C#, Kotlin, Scala, Swift).
HUMANEVAL_LANGS: tuple[str, ...] = ("python", "javascript", "typescript", "ruby", "php", "perl", "go", "java")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class BenchModelConfig:
    name: str = field(default="smollm2", metadata={
        "help": "A known GGUF model converted offline ('smollm2'), a local checkpoint folder, or a hub id."})
    train_dtype: str = field(default="float32", metadata={
        "help": "Weights' dtype while training and evaluating: 'float32' (CPU) or 'bfloat16' (GPU)."})
    params: float = field(default=0.0, metadata={
        "help": "Parameter count, for the dry run's estimates when the config cannot be read (hub id offline)."})
    hidden_size: int = field(default=0, metadata={"help": "Width, for the dry run's estimates (as `params`)."})
    num_layers: int = field(default=0, metadata={"help": "Depth, for the dry run's estimates (as `params`)."})

    def __post_init__(self):
        require(self, "name", bool(self.name.strip()), "must name a model")
        require(self, "train_dtype", self.train_dtype in ("float32", "bfloat16"), "must be 'float32' or 'bfloat16'")
        require(self, "params", self.params >= 0, "must be >= 0")
        require(self, "hidden_size", self.hidden_size >= 0, "must be >= 0")
        require(self, "num_layers", self.num_layers >= 0, "must be >= 0")


@dataclass(frozen=True)
class BenchDataConfig:
    mbxp: str = field(default="", metadata={
        "help": "MBXP: a folder of mxeval JSONL files or a hub id (mxeval/mbxp). `psft run --data` sets it."})
    humaneval: str = field(default="", metadata={
        "help": "Multi-HumanEval: a folder or hub id; '' = the folder `multilingual_humaneval` beside a local "
                "MBXP folder (mxeval's layout), else the hub id mxeval/multi-humaneval."})
    sft_ids: tuple[tuple[int, int], ...] = field(default=((601, 974),), metadata={
        "help": "Inclusive MBPP number ranges SFT draws from (train: 601-974; never the test numbers 11-510)."})
    rl_ids: tuple[tuple[int, int], ...] = field(default=((511, 600),), metadata={
        "help": "Inclusive MBPP number ranges RL draws from (validation: 511-600)."})
    sft_max_problems: int = field(default=0, metadata={
        "help": "Keep at most this many SFT problems (lowest numbers first; 0 = all): bounds the reference check."})
    rl_max_problems: int = field(default=0, metadata={"help": "Keep at most this many RL problems (0 = all)."})
    check_timeout: float = field(default=10.0, metadata={"help": "Seconds per reference program in the check."})

    def __post_init__(self):
        from evals.benchmarks.splits import check_disjoint
        for name in ("sft_ids", "rl_ids"):
            ranges = getattr(self, name)
            require(self, name, bool(ranges), "must hold at least one [lo, hi] range")
            try:
                check_disjoint(ranges, name)
            except ValueError as e:
                require(self, name, False, str(e).split(": ", 1)[1])
        overlap = [(a, b) for a in self.sft_ids for b in self.rl_ids if a[0] <= b[1] and b[0] <= a[1]]
        require(self, "rl_ids", not overlap, f"overlaps sft_ids ({overlap[0] if overlap else ''}): RL needs its own problems")
        require(self, "sft_max_problems", self.sft_max_problems >= 0, "must be >= 0")
        require(self, "rl_max_problems", self.rl_max_problems >= 0, "must be >= 0")
        require(self, "check_timeout", self.check_timeout > 0, "must be > 0")


@dataclass(frozen=True)
class BenchSFTConfig(SFTStageConfig):
    LANGUAGES: ClassVar[tuple[str, ...]] = BENCH_LANGS

    multi_langs: tuple[str, ...] = field(default=SFT_LANGS, metadata={
        "help": "Languages of the multi arm (different problems per language)."})
    parallel_langs: tuple[str, ...] = field(default=SFT_LANGS, metadata={
        "help": "Languages of the parallel arm (the same problems in every language)."})
    budget_tokens: int = field(default=40_000, metadata={"help": "Tokens of every arm (equal across arms)."})
    budget_auto: bool = field(default=False, metadata={
        "help": "Ignore budget_tokens: every arm gets 90% of what the mono arm can hold (all of the pool's "
                "source-language examples, counted with the model's tokenizer), the largest equal budget."})
    lr: float = field(default=2e-4, metadata={"help": "Peak learning rate (AdamW); LoRA takes a higher one."})
    batch_size: int = field(default=8, metadata={"help": "Examples per optimizer step."})
    max_length: int = field(default=1024, metadata={"help": "Truncate prompt + completion to this many tokens."})
    lora: bool = field(default=True, metadata={"help": "Train a LoRA adapter (merged into the saved checkpoint)."})
    lora_targets: tuple[str, ...] = field(default=LORA_TARGETS, metadata={"help": "Module names LoRA adapts."})
    entropy_tasks: int = field(default=8, metadata={
        "help": "Problems per arm language (from the RL problems, never trained on in SFT) on which the final "
                "mean token entropy is logged."})


@dataclass(frozen=True)
class BenchGRPOConfig(GRPOStageConfig):
    LANGUAGES: ClassVar[tuple[str, ...]] = BENCH_LANGS

    steps: int = field(default=20, metadata={"help": "Optimizer steps (trl max_steps)."})
    lr: float = field(default=2e-5, metadata={"help": "Learning rate (LoRA)."})
    num_generations: int = field(default=4, metadata={"help": "Completions per prompt (the GRPO group)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (a pretrained model keeps its entropy)."})
    per_device_train_batch_size: int = field(default=8, metadata={
        "help": "Completions (not prompts) per optimizer step; x steps_per_generation must divide by num_generations."})
    max_completion_length: int = field(default=192, metadata={"help": "Generated tokens per completion, at most."})
    lora: bool = field(default=True, metadata={"help": "Train a LoRA adapter (merged into the saved checkpoint)."})
    threads: int = field(default=1, metadata={
        "help": "torch threads for GRPO, the stage's stated exception to [runtime].threads (0: follow it)."})


@dataclass(frozen=True)
class BenchEvalConfig(EvalConfig):
    LANGUAGES: ClassVar[tuple[str, ...]] = BENCH_LANGS

    langs: tuple[str, ...] = field(default=MBXP_EVAL_LANGS, metadata={"help": "MBXP languages to evaluate in."})
    n_tasks: int = field(default=100, metadata={
        "help": "MBXP test problems (numbers 11-510 present in every language of `langs`), the same for every "
                "checkpoint and language; 0 = all."})
    humaneval_langs: tuple[str, ...] = field(default=HUMANEVAL_LANGS, metadata={
        "help": "Multi-HumanEval languages to evaluate in (empty: skip Multi-HumanEval)."})
    humaneval_n_tasks: int = field(default=50, metadata={"help": "Multi-HumanEval problems (0 = all)."})
    max_new_tokens: int = field(default=192, metadata={
        "help": "Generated tokens per completion, at most (MBXP test references with SmolLM2's tokenizer: p95 "
                "88-178 tokens, TypeScript 256)."})
    batch_size: int = field(default=32, metadata={"help": "Sequences decoded together."})
    bf16: bool = field(default=False, metadata={
        "help": "bf16 autocast while generating: prefill 1.8x faster on this CPU, decoding at batch 32 1.3x slower "
                "(measured with SmolLM2-135M); greedy may differ from fp32."})
    attention: str = field(default="", metadata={
        "hash": "if_set",
        "help": "Attention kernel while generating: 'eager', 'sdpa', or '' for the model's own (the default here: "
                "the world's 'eager' was measured on the world's 3.7M model only)."})
    dtype: str = field(default="", metadata={
        "hash": "if_set",
        "help": "Weights' dtype while generating: 'bfloat16', 'float32', or '' for the model's own (the default "
                "here: the world's 'bfloat16' was measured on the world's 3.7M model only)."})

    def __post_init__(self):
        super().__post_init__()
        require(self, "humaneval_langs", set(self.humaneval_langs) <= set(BENCH_LANGS),
                f"must be a subset of {BENCH_LANGS}")
        require(self, "humaneval_n_tasks", self.humaneval_n_tasks >= 0, "must be >= 0")

    def for_benchmark(self, benchmark: str) -> BenchEvalConfig:
        """This config with `langs` and `n_tasks` of one benchmark (what `evaluate_checkpoint` reads)."""
        import dataclasses
        if benchmark == "multi-humaneval":
            return dataclasses.replace(self, langs=self.humaneval_langs, n_tasks=self.humaneval_n_tasks)
        return self

    @property
    def benchmarks(self) -> tuple[str, ...]:
        return ("mbxp",) + (("multi-humaneval",) if self.humaneval_langs else ())


@dataclass(frozen=True)
class LaunchConfig:
    accelerate_config: str = field(default="", metadata={
        "help": "accelerate config file for the training stages (relative to the recipe file); '' = no accelerate."})
    num_processes: int = field(default=1, metadata={"help": "Processes (GPUs) accelerate launches per training stage."})
    gpu_memory_gb: float = field(default=80.0, metadata={"help": "Memory of one GPU, for the dry run's estimate."})

    def __post_init__(self):
        require(self, "num_processes", self.num_processes >= 1, "must be >= 1")
        require(self, "gpu_memory_gb", self.gpu_memory_gb > 0, "must be > 0")
