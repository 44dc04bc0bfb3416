"""The RL stage: GRPO with unit-test rewards in one language, through trl's `GRPOTrainer` on CPU.

`run_grpo(model_path, tokenizer, tasks, lang, cfg, executor, out_dir)` loads the SFT checkpoint,
trains on prompt-only rows (`prompt`, `task_id`, `lang`) with `TestReward`, and saves a
`save_pretrained` folder (model + tokenizer + `grpo_history.json`) in `out_dir`. The source arm uses
`lang="python"`; the oracle arm calls the same function with a target language.

Stopping: trl's own generation knows only EOS, so `run_grpo` wraps the policy's `generate` with
`train.generation.StopRuleCriteria` (the world's stop rule for `lang`) and overwrites every position
after a row's stop with EOS. trl then masks the completion after that EOS exactly as it does for a
natural one: the loss covers the function and one EOS token (the EOS the SFT model emits there anyway,
since SFT appends EOS to each completion), not the padding. The reward also cuts completions with the
world's rule (`task.program` truncates), so nothing after the function ever counts.

With `generation_engine = "loop"` the wrapper answers trl's call itself with `train.generation`'s decode
loop (one prefill per group of samples, finished rows leave the batch) and returns the same layout.

With `lora = true` a peft LoRA adapter is trained and merged into the saved checkpoint (as in SFT). On
GPUs (`device = "cuda"`, `bf16`) generation can go through vLLM (`use_vllm`, colocated or a server); the
stop strings then go to vLLM (kept in the output), and the reward still truncates. Under a multi-GPU
launch only the main process saves.

Per step a `TrainerCallback` reports reward mean, `frac_reward_zero_std` (groups whose completions all
scored the same, i.e. no learning signal), entropy, and the time split (generation, reward, step) to
`log`. Not for: evaluation (`train.evaluate`), file layout of runs (`app/`).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from evals.world import LANGS

from .config import help_of, require
from .reporting import PROJECT, REPORTERS, known, logging_dir, reporters

LOSS_TYPES = ("grpo", "dapo", "dr_grpo", "bnpo")


@dataclass(frozen=True)
class GRPOStageConfig:
    # The languages RL may run in (a subclass widens it: train.bench_config for real benchmarks).
    LANGUAGES: ClassVar[tuple[str, ...]] = LANGS

    lang: str = field(default="python", metadata={
        "help": "Language of the RL prompts and rewards: the source language (python) for the transfer arms, "
                "a target language for the oracle arm."})
    steps: int = field(default=200, metadata={"help": "Optimizer steps (trl max_steps)."})
    lr: float = field(default=5e-5, metadata={
        "help": "Learning rate. 5e-5 was stable on the tiny world; 2e-4 destabilised RL."})
    num_generations: int = field(default=16, metadata={"help": "Completions per prompt (the GRPO group)."})
    temperature: float = field(default=1.3, metadata={
        "help": "Sampling temperature. SFT collapses entropy: at 1.0, 55-90% of groups had identical rewards; "
                "1.3 with 16 samples cut that to 10-27%."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus mass while sampling."})
    per_device_train_batch_size: int = field(default=64, metadata={
        "help": "Completions (not prompts) per optimizer step; x steps_per_generation must divide by num_generations."})
    steps_per_generation: int = field(default=1, metadata={
        "help": "Optimizer steps per generation round (the round samples per_device_train_batch_size x this)."})
    num_iterations: int = field(default=1, metadata={"help": "Passes over each generation round (trl mu)."})
    max_completion_length: int = field(default=192, metadata={"help": "Generated tokens per completion, at most."})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient (0: no reference model, trl's default)."})
    loss_type: str = field(default="dapo", metadata={"help": f"trl loss aggregation, one of {LOSS_TYPES}."})
    mask_truncated_completions: bool = field(default=True, metadata={
        "help": "Leave completions that hit max_completion_length without stopping out of the loss."})
    reward_mode: str = field(default="all", metadata={
        "help": "'all': 1 if every test passes; 'fraction': share of tests passed (see train.rewards)."})
    n_tasks: int = field(default=0, metadata={"help": "Use at most this many RL tasks (0: all given)."})
    max_depth: int = field(default=0, metadata={
        "help": "Keep only tasks of at most this composition depth (0: all; tasks without a depth are kept). "
                "RL needs headroom: on the toy world's SFT models greedy Python pass@1 was ~38% at depth 3 "
                "but 0-4% at depth 4, where nearly every group of samples scores all zeros."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear learning-rate warm-up steps."})
    threads: int = field(default=0, metadata={
        "help": "torch threads for the stage; 0 = auto (train.config.auto_threads: 1 when other processes "
                "share the cores, where 2 threads made a step 20x slower)."})
    seed: int = field(default=0, metadata={
        "help": "Seed of data order and sampling. `psft run` sets it to the training seed (Recipe.with_seed), so an "
                "RL run's seed is its chain's; a value given here is replaced there."})
    report_to: str = field(default="none", metadata={
        "help": "Training logs for trackers: 'none', 'tensorboard' (event files in the checkpoint's logs/), "
                "'trackio' (its local database), or both comma-separated (train.reporting)."})
    logging_steps: int = field(default=1, metadata={"help": "Log every this many steps."})
    lora: bool = field(default=False, metadata={
        "help": "Train a peft LoRA adapter (merged into the saved checkpoint) instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale alpha / r)."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_targets: tuple[str, ...] = field(default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                   "up_proj", "down_proj"), metadata={"help": "Module names LoRA adapts."})
    device: str = field(default="cpu", metadata={"help": "'cpu' or 'cuda' (the accelerate launcher places processes)."})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 mixed precision (torch autocast through trl/accelerate). None (default): follow "
                "[runtime].bf16_autocast, the run's one precision knob; set it only for an RL-only exception. "
                "On a CPU with native bf16 a study step went 3.09 -> 2.51 s; on one without (no avx512_bf16 / "
                "amx_bf16 flag) a study step took 40 s in bf16 against 3.0 s in float32."})
    use_vllm: bool = field(default=False, metadata={
        "help": "Generate with vLLM (the [gpu] extra; GPU only). Stop strings go to vLLM; the reward still truncates."})
    vllm_mode: str = field(default="colocate", metadata={
        "help": "'colocate' (vLLM shares the training GPUs) or 'server' (a `trl vllm-serve` process)."})
    vllm_gpu_memory_utilization: float = field(default=0.3, metadata={
        "help": "Share of GPU memory vLLM may take in colocate mode."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    generation_engine: str = field(default="hf", metadata={
        "help": "How the policy samples without vLLM: 'hf' (transformers' generate, every row decoded until the "
                "last one stops) or 'loop' (train.generation's decode loop: one prefill per prompt group, finished "
                "rows leave the batch; other random draws, so other samples).", "hash": "if_set"})

    def __post_init__(self):
        require(self, "lang", self.lang in self.LANGUAGES, f"must be one of {self.LANGUAGES}")
        require(self, "steps", self.steps >= 1, "must be >= 1")
        require(self, "lr", 0 < self.lr < 1, "must be in (0, 1)")
        require(self, "num_generations", self.num_generations >= 2, "GRPO needs at least 2 completions per prompt")
        require(self, "temperature", self.temperature > 0, "must be > 0")
        require(self, "top_p", 0 < self.top_p <= 1, "must be in (0, 1]")
        require(self, "steps_per_generation", self.steps_per_generation >= 1, "must be >= 1")
        require(self, "per_device_train_batch_size",
                self.per_device_train_batch_size >= 1
                and (self.per_device_train_batch_size * self.steps_per_generation) % self.num_generations == 0,
                f"x steps_per_generation ({self.steps_per_generation}) must be divisible by num_generations "
                f"({self.num_generations}); it counts completions, not prompts")
        require(self, "num_iterations", self.num_iterations >= 1, "must be >= 1")
        require(self, "max_completion_length", self.max_completion_length >= 1, "must be >= 1")
        require(self, "beta", self.beta >= 0, "must be >= 0")
        require(self, "loss_type", self.loss_type in LOSS_TYPES, f"must be one of {LOSS_TYPES}")
        require(self, "reward_mode", self.reward_mode in ("all", "fraction"), "must be 'all' or 'fraction'")
        require(self, "n_tasks", self.n_tasks >= 0, "must be >= 0")
        require(self, "max_depth", self.max_depth >= 0, "must be >= 0")
        require(self, "threads", self.threads >= 0, "must be >= 0 (0: auto)")
        require(self, "logging_steps", self.logging_steps >= 1, "must be >= 1")
        require(self, "report_to", known(self.report_to), f"choose from {', '.join(REPORTERS)}, comma-separated")
        require(self, "lora_r", self.lora_r >= 1, "must be at least 1")
        require(self, "lora_alpha", self.lora_alpha >= 1, "must be at least 1")
        require(self, "lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)")
        require(self, "lora_targets", bool(self.lora_targets), "must name at least one module")
        require(self, "device", self.device in ("cpu", "cuda"), "must be 'cpu' or 'cuda'")
        require(self, "use_vllm", not self.use_vllm or self.device == "cuda", "vLLM needs device = 'cuda'")
        require(self, "vllm_mode", self.vllm_mode in ("colocate", "server"), "must be 'colocate' or 'server'")
        require(self, "generation_engine", self.generation_engine in ("hf", "loop"), "must be 'hf' or 'loop'")
        require(self, "vllm_gpu_memory_utilization", 0 < self.vllm_gpu_memory_utilization < 1, "must be in (0, 1)")
        require(self, "gradient_accumulation_steps", self.gradient_accumulation_steps >= 1, "must be >= 1")

    @classmethod
    def help(cls) -> dict[str, str]:
        return help_of(cls)


def rl_dataset(tasks: Sequence, lang: str):
    """Prompt-only rows with the columns `TestReward` reads."""
    from datasets import Dataset
    return Dataset.from_list([{"prompt": t.prompt(lang), "task_id": t.id, "lang": lang} for t in tasks])


class _StopAtRule:
    """Replaces `model.generate` (instance attribute) during training: adds the stop rule and fills the
    positions after each row's stop with EOS; times every call."""

    def __init__(self, model, tokenizer, rule, engine: str = "hf", seed: int = 0):
        from .generation import eos_ids, pad_id, token_pieces
        self.model, self.rule, self.engine = model, rule, engine
        self.orig = model.generate
        self.pieces = token_pieces(tokenizer)
        self.eos = tokenizer.eos_token_id
        self.eos_all, self.pad = eos_ids(model, tokenizer), pad_id(tokenizer)
        self.seed = seed
        self.rng = None
        self.seconds = 0.0
        self.stopped = 0
        self.rows = 0

    def __call__(self, *args, **kwargs):
        from transformers import StoppingCriteriaList

        from .generation import StopRuleCriteria
        t0 = time.perf_counter()
        if self.engine == "loop" and not args and _loop_can_run(kwargs.get("generation_config")):
            out = self._loop(**kwargs)
            self.seconds += time.perf_counter() - t0
            return out
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        width = input_ids.shape[1]
        crit = StopRuleCriteria(self.pieces, self.rule, prompt_len=width)
        criteria = StoppingCriteriaList(list(kwargs.pop("stopping_criteria", None) or []) + [crit])
        out = self.orig(*args, stopping_criteria=criteria, **kwargs)
        for i, k in enumerate(crit.stop_positions):
            if k is not None:
                out[i, width + k:] = self.eos
                self.stopped += 1
        self.rows += out.shape[0]
        self.seconds += time.perf_counter() - t0
        return out

    def _loop(self, input_ids, attention_mask, generation_config, **_):
        """trl's `generate` call through `train.generation.decode_loop`: rows are trl's prompts each repeated
        `num_generations` times in a row; one prefill per distinct prompt. Returns [rows, prompt + new]
        ids like `generate`: EOS after a row that stopped (rule or EOS), none after one that ran out."""
        import torch

        from .generation import GenStats, SamplingParams, decode_loop
        gc = generation_config
        device = input_ids.device
        if self.rng is None:
            self.rng = torch.Generator(device=device).manual_seed(self.seed)
        prompts = [ids[m.bool()].tolist() for ids, m in zip(input_ids, attention_mask)]
        n = _group_size(prompts) if gc.do_sample else 1   # greedy repeats would decode the same tokens
        params = SamplingParams(max_new_tokens=gc.max_new_tokens, temperature=gc.temperature if gc.do_sample else 0.0,
                                top_p=gc.top_p if gc.do_sample and gc.top_p else 1.0, n=n, batch_size=len(prompts),
                                threads=None)
        tokens = decode_loop(self.model, prompts[::n], [self.rule] * len(prompts), params, self.pieces,
                             self.eos_all, self.pad, self.rng, GenStats())
        width = input_ids.shape[1]
        longest = max(len(t) + (len(t) < gc.max_new_tokens) for t in tokens)   # + the EOS of a stopped row
        out = torch.full((len(prompts), width + longest), self.pad, dtype=input_ids.dtype, device=device)
        out[:, :width] = input_ids
        for i, t in enumerate(tokens):
            out[i, width:width + len(t)] = torch.tensor(t, dtype=input_ids.dtype, device=device)
            if len(t) < gc.max_new_tokens:
                out[i, width + len(t)] = self.eos
                self.stopped += self.rule.done("".join(self.pieces[x] for x in t))
        self.rows += len(prompts)
        return out

    def restore(self):
        self.model.__dict__.pop("generate", None)


def _loop_can_run(gc) -> bool:
    """The decode loop samples with temperature and top-p only: anything else goes to `generate`."""
    if gc is None:
        return False
    return ((gc.top_k in (None, 0) or not gc.do_sample) and gc.min_p in (None, 0.0)
            and gc.repetition_penalty in (None, 1.0) and (gc.num_return_sequences or 1) == 1 and (gc.num_beams or 1) == 1)


def _group_size(prompts: list[list[int]]) -> int:
    """n when the rows are distinct prompts each repeated n times in a row (trl's order), else 1."""
    n = 1
    while n < len(prompts) and prompts[n] == prompts[0]:
        n += 1
    if len(prompts) % n or any(prompts[i] != prompts[i - i % n] for i in range(len(prompts))):
        return 1
    return n


def _callback(reward_fn, gen: _StopAtRule, history: list, log: Callable[[str], None]):
    from transformers import TrainerCallback

    class GRPOLog(TrainerCallback):
        def __init__(self):
            self.t_step = None
            self.totals = {"step_s": 0.0, "reward_s": 0.0, "generate_s": 0.0}
            self.pending: dict = {}

        def on_step_begin(self, args, state, control, **kw):
            self.t_step = time.perf_counter()
            self.gen0 = gen.seconds

        def on_step_end(self, args, state, control, **kw):
            step_s = time.perf_counter() - self.t_step
            reward_s, gen_s = reward_fn.pop_seconds(), gen.seconds - self.gen0
            for k, v in (("step_s", step_s), ("reward_s", reward_s), ("generate_s", gen_s)):
                self.totals[k] += v
            self.pending = {"step": state.global_step, "step_s": step_s, "reward_s": reward_s, "generate_s": gen_s,
                            "reward_frac": reward_s / step_s if step_s else 0.0,
                            "reward_frac_cum": self.totals["reward_s"] / max(self.totals["step_s"], 1e-9)}

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            if "train_runtime" in logs:  # the end-of-training summary, not a step
                return
            rec = {**self.pending, "step": state.global_step}
            for k in ("reward", "reward_std", "frac_reward_zero_std", "entropy", "loss", "grad_norm",
                      "completions/mean_length", "completions/clipped_ratio", "learning_rate"):
                if k in logs and logs[k] is not None:
                    rec[k] = float(logs[k])
            history.append(rec)
            log(f"grpo step {rec['step']}: reward {rec.get('reward', float('nan')):.3f} "
                f"zero-std {rec.get('frac_reward_zero_std', float('nan')):.2f} "
                f"entropy {rec.get('entropy', float('nan')):.3f} "
                f"len {rec.get('completions/mean_length', float('nan')):.0f} "
                f"step {rec.get('step_s', 0):.2f}s (gen {rec.get('generate_s', 0):.2f}s, "
                f"reward {rec.get('reward_s', 0):.2f}s = {100 * rec.get('reward_frac', 0):.0f}%)")

    return GRPOLog()


def run_grpo(model_path, tokenizer, tasks: Sequence, lang: str, cfg: GRPOStageConfig, executor, out_dir,
             progress: bool = True, log: Callable[[str], None] | None = None) -> Path:
    """Train `model_path` (a `save_pretrained` folder) with GRPO on `tasks` in `lang`; save to `out_dir`.
    `tokenizer` may be None (loaded from `model_path`). `lang` overrides `cfg.lang`. Returns `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from .generation import StopRule
    from .rewards import TestReward

    log = log or (lambda _msg: None)
    if lang not in cfg.LANGUAGES:
        raise ValueError(f"run_grpo: unknown language {lang!r}; known: {cfg.LANGUAGES}")
    out_dir = Path(out_dir)
    if cfg.max_depth:
        tasks = [t for t in tasks if getattr(t, "depth", 0) <= cfg.max_depth]
    tasks = list(tasks)[: cfg.n_tasks or None]
    if not tasks:
        raise ValueError("run_grpo: no tasks")
    threads_before = torch.get_num_threads()
    from .config import auto_threads
    torch.set_num_threads(auto_threads(cfg.threads))
    tokenizer = tokenizer or AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    reward = TestReward(executor, {t.id: t for t in tasks}, mode=cfg.reward_mode)
    rule = StopRule.for_task(tasks[0], lang)
    peft_config, extra = None, {}
    if cfg.lora:
        from peft import LoraConfig
        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                 target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")
    if cfg.use_vllm:   # vLLM cuts at the stop strings (kept in the output: "\n}" closes the function)
        extra = dict(vllm_mode=cfg.vllm_mode, vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                     generation_kwargs={"stop": list(rule.strings), "include_stop_str_in_output": True})
    args = GRPOConfig(
        output_dir=str(out_dir / "trainer"), max_steps=cfg.steps, learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.per_device_train_batch_size, steps_per_generation=cfg.steps_per_generation,
        num_generations=cfg.num_generations, num_iterations=cfg.num_iterations, temperature=cfg.temperature,
        top_p=cfg.top_p, max_completion_length=cfg.max_completion_length, beta=cfg.beta, loss_type=cfg.loss_type,
        mask_truncated_completions=cfg.mask_truncated_completions, max_grad_norm=cfg.max_grad_norm,
        warmup_steps=cfg.warmup_steps, lr_scheduler_type="constant_with_warmup" if cfg.warmup_steps else "constant",
        use_cpu=cfg.device == "cpu", bf16=bool(cfg.bf16),   # None outside a recipe: float32
        use_vllm=cfg.use_vllm, activation_checkpointing=False,
        report_to=reporters(cfg.report_to) or ["none"], project=PROJECT,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        logging_steps=cfg.logging_steps, save_strategy="no", seed=cfg.seed, data_seed=cfg.seed,
        disable_tqdm=not progress, dataloader_num_workers=0, log_completions=False, **extra,
    )
    with logging_dir(cfg.report_to, out_dir):
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=rl_dataset(tasks, lang),
                              processing_class=tokenizer, peft_config=peft_config)
    from .bar import bar_only
    bar_only(trainer)   # a bar (when progress) and no log dicts printed: the callback's line is enough
    policy = trainer.model
    gen = _StopAtRule(policy, tokenizer, rule, engine=cfg.generation_engine, seed=cfg.seed)
    if not cfg.use_vllm:
        policy.generate = gen
    history: list[dict] = []
    trainer.add_callback(_callback(reward, gen, history, log))
    t0 = time.perf_counter()
    try:
        with logging_dir(cfg.report_to, out_dir):
            trainer.train()
    finally:
        gen.restore()
        torch.set_num_threads(threads_before)
    wall = time.perf_counter() - t0
    if cfg.lora:
        policy = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
    if not trainer.accelerator.is_main_process:   # under a multi-GPU launch, one process writes
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    summary = {"config": asdict(cfg), "lang": lang, "n_tasks": len(tasks), "wall_s": wall,
               "reward_s": reward.seconds_total, "generate_s": gen.seconds,
               "reward_frac": reward.seconds_total / wall if wall else 0.0,
               "stopped_by_rule": gen.stopped, "generated_rows": gen.rows,
               "reward_calls": [{k: v for k, v in t.items()} for t in reward.timings], "history": history}
    (out_dir / "grpo_history.json").write_text(json.dumps(summary, indent=1))
    log(f"grpo done: {cfg.steps} steps in {wall:.1f}s, rewards {100 * summary['reward_frac']:.0f}% of the time, "
        f"{gen.stopped}/{gen.rows} completions stopped by the rule")
    return out_dir
