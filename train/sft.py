"""Supervised fine-tuning of a pretrained checkpoint on one SFT arm, through trl's `SFTTrainer`.

The dataset is in trl's prompt-completion format, so the loss is on completion tokens only (trl
appends `<|eos|>` to each completion). Full fine-tuning by default; with `lora = true` a peft LoRA
adapter is trained and MERGED into the weights before saving, so every checkpoint this module writes
is a plain `save_pretrained` folder (model + tokenizer) that `AutoModelForCausalLM.from_pretrained`
loads without peft.

Entropy: SFT that drives the completion entropy to ~0.01 leaves RL nothing to learn from (every
sample of a group is the same program). The defaults (one epoch, lr 3e-4, cosine, a budget of about
1/4 of the train split's Python tokens) keep it up: on the toy recipe the mean entropy along
reference completions of `valid` tasks went from 0.09 (Python) / 0.16 (Lua) after pretraining to
0.09 / 0.22 after mono SFT (greedy path on `rl` tasks in Python: 0.13), while 4 epochs at lr 1e-3
gave 0.03 in Python (greedy path 0.06) and 0.6-0.8 in the other languages (drift towards Python).
`run_sft` logs the mean token entropy per language on held-out tasks at the end (`sft_done` event).
`from trl import SFTTrainer` is inside `run_sft`.
Not for: building the arms (`mixtures.py`) or RL (`grpo.py`).
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from evals.world import LANGS

from .config import RuntimeConfig, quiet_libraries, require
from .reporting import PROJECT, REPORTERS, known, logging_dir, reporters

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

ARM_KINDS = ("mono", "multi", "parallel", "parallel-joined", "parallel-paired", "translate", "align")
Log = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class SFTStageConfig:
    # The languages the arms may name (a subclass widens it: train.bench_config for real benchmarks).
    LANGUAGES: ClassVar[tuple[str, ...]] = LANGS

    arms: tuple[str, ...] = field(default=("mono", "multi", "parallel"), metadata={
        "help": "Arms to build and train, among 'mono', 'multi', 'parallel' (the same tasks in several languages, "
                "one language per example), 'parallel-joined' (parallel's examples of a task two by two in one "
                "sequence, the loss on the same tokens), 'parallel-paired' (one example holds a task's programs in every "
                "language of a group, in one sequence) and 'translate' (the prompt is a task's program in one "
                "language, the completion the same program in another), 'align' (the multi arm's data plus a "
                "contrastive loss that pulls a task's programs in two languages together at one layer: "
                "train/align.py). Every arm gets the same supervised budget."})
    source_lang: str = field(default="python", metadata={"help": "The only language of the mono arm (and RL's)."})
    multi_langs: tuple[str, ...] = field(default=("python", "javascript", "ruby", "php"), metadata={
        "help": "Languages of the multi arm (different tasks per language)."})
    parallel_langs: tuple[str, ...] = field(default=("python", "javascript", "ruby", "php"), metadata={
        "help": "Languages of the parallel arm (the same tasks in every language)."})
    paired_groups: tuple[tuple[str, ...], ...] = field(default=(), metadata={
        "hash": "if_set",
        "help": "Language groups of the parallel-paired arm, e.g. [[\"python\", \"javascript\"], [\"python\", "
                "\"ruby\"]]: each example is one task in every language of one group (the first language's "
                "prompt, then its body, then each further language's tag line, signature and body; the "
                "description once); tasks take the groups in turn. [] = one group, `parallel_langs`."})
    translate_pairs: tuple[tuple[str, str], ...] = field(default=(), metadata={
        "hash": "if_set",
        "help": "(from, to) directions of the translate arm, e.g. [[\"python\", \"ruby\"], [\"ruby\", \"python\"]]: "
                "the prompt is a task's program in `from` (tag line, signature, body; no description) followed "
                "by the tag line and signature in `to`, the completion is its body in `to`; tasks take the "
                "directions in turn. [] = both directions between `source_lang` and every other language of "
                "`parallel_langs`."})
    align_weight: float = field(default=1.0, metadata={
        "hash": "if_set", "help": "align arm: weight of the contrastive loss added to the LM loss."})
    align_layer: int = field(default=-1, metadata={
        "hash": "if_set", "help": "align arm: the block whose residual output (blocks.{L}.hook_resid_post) is pooled "
                                  "and aligned; -1 = the middle block (num_layers // 2)."})
    align_temperature: float = field(default=0.1, metadata={
        "hash": "if_set", "help": "align arm: InfoNCE temperature."})
    align_tasks: int = field(default=600, metadata={
        "hash": "if_set", "help": "align arm: parallel pairs (train tasks, each in two languages of multi_langs), "
                                  "seen only through the contrastive loss."})
    align_per_step: int = field(default=16, metadata={
        "hash": "if_set", "help": "align arm: pairs in the contrastive batch of each optimizer step."})
    budget_tokens: int = field(default=42_000, metadata={
        "help": "Tokens of every arm (equal across arms to within one example), counted as `budget_counts` says. "
                "42k supervised tokens is what a 100k prompt+completion budget gave the multi and parallel arms "
                "of the toy world (40-44% of a sequence is completion)."})
    budget_counts: Literal["prompt+completion", "completion"] = field(default="completion", metadata={
        "help": "What the budget counts: completion tokens only (the supervised ones: the loss is on completions, "
                "so equal budgets mean equal supervision), or every trained-on sequence token. With "
                "prompt+completion the arms' supervision differed (toy: mono 40,213, multi 43,807, parallel "
                "44,411 completion tokens at a 100k budget)."})
    lr: float = field(default=3e-4, metadata={"help": "Peak learning rate (AdamW)."})
    epochs: float = field(default=1.0, metadata={"help": "Passes over the arm's data (ignored when max_steps > 0)."})
    max_steps: int = field(default=0, metadata={"help": "Optimizer steps; 0 derives them from epochs."})
    batch_size: int = field(default=16, metadata={"help": "Examples per optimizer step (per_device_train_batch_size)."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "transformers lr_scheduler_type."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of steps with linear warmup."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    label_smoothing: float = field(default=0.0, metadata={
        "help": "Label smoothing of the loss; keeps entropy up, at the cost of an extra forward pass in trl."})
    max_length: int = field(default=512, metadata={"help": "Truncate prompt + completion to this many tokens."})
    lora: bool = field(default=False, metadata={
        "help": "Train a LoRA adapter (merged into the saved checkpoint) instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_targets: tuple[str, ...] = field(default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj"), metadata={
        "help": "Module names LoRA adapts."})
    logging_steps: int = field(default=10, metadata={"help": "Steps between two `sft_step` log events."})
    report_to: str = field(default="none", metadata={
        "help": "Training logs for trackers: 'none', 'tensorboard' (event files in the checkpoint's logs/), "
                "'trackio' (its local database), or both comma-separated (train.reporting)."})
    entropy_tasks: int = field(default=50, metadata={
        "help": "Tasks of the `valid` split per language on which the final mean token entropy is logged."})

    def __post_init__(self):
        require(self, "arms", bool(self.arms) and set(self.arms) <= set(ARM_KINDS) and len(set(self.arms)) == len(self.arms),
                f"must be distinct names among {ARM_KINDS}")
        universe = self.LANGUAGES
        require(self, "source_lang", self.source_lang in universe, f"must be one of {universe}")
        for name in ("multi_langs", "parallel_langs"):
            langs = getattr(self, name)
            require(self, name, set(langs) <= set(universe) and len(set(langs)) == len(langs) >= 2,
                    f"must be at least two distinct languages of {universe}")
        # TOML gives lists of lists: hold them as tuples of tuples (frozen, hashable, equal to the defaults)
        object.__setattr__(self, "paired_groups", tuple(tuple(g) for g in self.paired_groups))
        object.__setattr__(self, "translate_pairs", tuple(tuple(p) for p in self.translate_pairs))
        require(self, "paired_groups", all(len(set(g)) == len(g) >= 2 and set(g) <= set(universe)
                                           for g in self.paired_groups),
                f"every group must hold at least two distinct languages of {universe}")
        require(self, "translate_pairs", all(len(p) == 2 and p[0] != p[1] and set(p) <= set(universe)
                                             for p in self.translate_pairs),
                f"every pair must be two different languages of {universe}")
        require(self, "align_weight", self.align_weight >= 0, "must be >= 0")
        require(self, "align_layer", self.align_layer >= -1, "must be a block index, or -1 for the middle block")
        require(self, "align_temperature", self.align_temperature > 0, "must be positive")
        require(self, "align_tasks", self.align_tasks >= 2, "must be at least 2")
        require(self, "align_per_step", self.align_per_step >= 2, "must be at least 2 (InfoNCE needs negatives)")
        require(self, "budget_tokens", self.budget_tokens >= 100, "must be at least 100")
        require(self, "lr", 0 < self.lr < 1, "must be in (0, 1)")
        require(self, "epochs", self.epochs > 0, "must be positive")
        require(self, "max_steps", self.max_steps >= 0, "must be >= 0")
        require(self, "batch_size", self.batch_size >= 1, "must be at least 1")
        require(self, "batch_size", "parallel-joined" not in self.arms or self.batch_size % 2 == 0,
                "must be even with the parallel-joined arm (its rows hold two examples each)")
        require(self, "warmup_ratio", 0 <= self.warmup_ratio < 1, "must be in [0, 1)")
        require(self, "weight_decay", self.weight_decay >= 0, "must be >= 0")
        require(self, "label_smoothing", 0 <= self.label_smoothing < 1, "must be in [0, 1)")
        require(self, "max_length", self.max_length >= 16, "must be at least 16")
        require(self, "lora_r", self.lora_r >= 1, "must be at least 1")
        require(self, "lora_alpha", self.lora_alpha >= 1, "must be at least 1")
        require(self, "lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)")
        require(self, "lora_targets", bool(self.lora_targets), "must name at least one module")
        require(self, "logging_steps", self.logging_steps >= 1, "must be at least 1")
        require(self, "report_to", known(self.report_to), f"choose from {', '.join(REPORTERS)}, comma-separated")
        require(self, "entropy_tasks", self.entropy_tasks >= 0, "must be >= 0")

    @property
    def groups(self) -> tuple[tuple[str, ...], ...]:
        """The parallel-paired arm's language groups (its default: one group, `parallel_langs`)."""
        return self.paired_groups or (self.parallel_langs,)

    @property
    def directions(self) -> tuple[tuple[str, str], ...]:
        """The translate arm's (from, to) pairs (its default: both ways between the source language and
        every other language of `parallel_langs`)."""
        if self.translate_pairs:
            return self.translate_pairs
        others = [la for la in self.parallel_langs if la != self.source_lang]
        return tuple(p for la in others for p in ((self.source_lang, la), (la, self.source_lang)))

    def arm_langs(self, arm: str) -> tuple[str, ...]:
        """The languages an arm's data holds, in the order of the arm's definition."""
        if arm == "parallel-paired":
            return tuple(dict.fromkeys(la for g in self.groups for la in g))
        if arm == "translate":
            return tuple(dict.fromkeys(la for p in self.directions for la in p))
        return {"mono": (self.source_lang,), "multi": self.multi_langs, "align": self.multi_langs,
                "parallel": self.parallel_langs, "parallel-joined": self.parallel_langs}[arm]

    def batch_size_for(self, arm: str) -> int:
        """Rows per optimizer step of `arm`: `batch_size`, or for `parallel-joined` (a row holds two of
        `parallel`'s examples) `batch_size / 2`, so that it takes as many steps as `parallel`, over as many
        examples each (with an odd number of `parallel_langs` one row of each task holds one example, and
        the joined arm's steps hold slightly fewer)."""
        return self.batch_size // 2 if arm == "parallel-joined" else self.batch_size

    @property
    def seen_langs(self) -> tuple[str, ...]:
        seen = {lang for arm in self.arms for lang in self.arm_langs(arm)}
        return tuple(lang for lang in self.LANGUAGES if lang in seen)

    @property
    def heldout_langs(self) -> tuple[str, ...]:
        """Languages in no arm: any skill in them after SFT is zero-shot transfer."""
        return tuple(lang for lang in self.LANGUAGES if lang not in self.seen_langs)


def entropy_set(world, n_tasks: int, langs: Sequence[str] = LANGS) -> dict[str, tuple[list[str], list[str]]]:
    """lang -> (prompts, reference completions) of the first `n_tasks` tasks of the `valid` split."""
    tasks = world.split("valid")[:n_tasks]
    return {lang: ([t.prompt(lang) for t in tasks], [t.solution(lang) for t in tasks]) for lang in langs} if tasks else {}


def run_sft(model_path_or_model: str | Path | PreTrainedModel, tokenizer: PreTrainedTokenizerBase, dataset: Dataset,
            cfg: SFTStageConfig, out_dir: str | Path, progress: bool = True, log: Log | None = None,
            runtime: RuntimeConfig | None = None,
            entropy_eval: dict[str, tuple[Sequence[str], Sequence[str]]] | None = None,
            align: Sequence[tuple[str, str]] | None = None, batch_size: int | None = None) -> Path:
    """Fine-tune on `dataset` (columns `prompt`, `completion`, or pre-tokenized `input_ids` and
    `completion_mask`; others are dropped) and save the result
    (merged when LoRA) with its tokenizer into `out_dir`. A model object passed in is copied, not
    changed. `log` receives `sft_start`, `sft_step` (trl's logs: loss, entropy, mean_token_accuracy,
    learning_rate, ...) and `sft_done` (train loss, seconds, and with `entropy_eval` (lang -> (prompts,
    completions), e.g. from `entropy_set`) the mean completion entropy per language). With `align` (pairs of
    texts, the same task in two languages: `train.mixtures.arm_align_pairs`) the loss adds the align arm's
    contrastive term (`train.align`, weighted by `cfg.align_weight`). `batch_size`: rows per step, when
    not `cfg.batch_size` (`cfg.batch_size_for(arm)`). Returns `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from .bar import bar_only
    from .model import mean_completion_entropy
    from .pretrain import save

    runtime = runtime or RuntimeConfig()
    log = log or (lambda event: None)
    batch_size = batch_size or cfg.batch_size
    device = runtime.apply()
    out = Path(out_dir)
    with quiet_libraries(not progress):
        if isinstance(model_path_or_model, (str, Path)):
            model = AutoModelForCausalLM.from_pretrained(model_path_or_model)
        else:
            model = copy.deepcopy(model_path_or_model)
    model.to(device)
    # pre-tokenized rows (the parallel-joined arm) carry their own loss mask; trl reads both forms
    data = dataset.select_columns(["input_ids", "completion_mask"] if "input_ids" in dataset.column_names
                                  else ["prompt", "completion"])

    peft_config = None
    if cfg.lora:
        from peft import LoraConfig
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")

    report_to = reporters(cfg.report_to) or ["none"]
    args = SFTConfig(
        output_dir=str(out), learning_rate=cfg.lr, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1, per_device_train_batch_size=batch_size, gradient_accumulation_steps=1,
        lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        label_smoothing_factor=cfg.label_smoothing, max_length=cfg.max_length, completion_only_loss=True,
        packing=False, activation_checkpointing=False, bf16=runtime.bf16_autocast and device.type == "cuda",
        use_cpu=device.type == "cpu", seed=runtime.seed, data_seed=runtime.seed, logging_steps=cfg.logging_steps,
        report_to=report_to, project=PROJECT, save_strategy="no", eval_strategy="no", disable_tqdm=not progress,
        dataloader_num_workers=0, dataset_num_proc=None)

    class _Relay(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "train_runtime" not in logs:
                log({"event": "sft_step", "step": state.global_step, **logs})

    t0 = time.perf_counter()
    with quiet_libraries(not progress), logging_dir(cfg.report_to, out):
        trainer_cls, extra = SFTTrainer, {}
        if align is not None:
            from .align import AlignLoss, with_alignment
            trainer_cls = with_alignment(SFTTrainer)
            extra = dict(align_pairs=list(align), align_weight=cfg.align_weight, align_per_step=cfg.align_per_step,
                         align_seed=runtime.seed, align_loss=AlignLoss(tokenizer, cfg.align_layer,
                                                                       cfg.align_temperature, cfg.max_length))
        trainer = trainer_cls(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                              peft_config=peft_config, callbacks=[_Relay()], **extra)
        bar_only(trainer)   # a bar (when progress) and no log dicts printed
        steps = cfg.max_steps or math.ceil(math.ceil(len(data) / batch_size) * cfg.epochs)
        log({"event": "sft_start", "examples": len(data), "steps": steps, "lora": cfg.lora,
             "threads": torch.get_num_threads(), "device": str(device)})
        result = trainer.train()
        model = trainer.model
        if cfg.lora:
            model = model.merge_and_unload()
        model.eval()
        seconds = time.perf_counter() - t0
        entropy = {lang: round(mean_completion_entropy(model, tokenizer, ps, cs), 4)
                   for lang, (ps, cs) in (entropy_eval or {}).items()}
        if trainer.accelerator.is_main_process:   # under a multi-GPU launch, one process writes
            save(model, tokenizer, out)
    log({"event": "sft_done", "steps": result.global_step, "train_loss": round(result.training_loss, 4),
         "seconds": round(seconds, 2), "entropy": entropy})
    return out

