"""Evaluate one checkpoint on world tasks in several languages: generate, execute, score.

`select_tasks(tasks, cfg)` fixes the task set (deterministic from `cfg.seed`, the same for every
checkpoint and every language, so checkpoints and languages can be compared task by task).
`evaluate_checkpoint(model, tokenizer, tasks, cfg, executor)` returns
- `rows`: one dict per task x language x sample: task_id, lang, sample (-1 = greedy, 0.. = sampled),
  prompt, completion (already cut by the world's stop rule), status, passed, detail (the verdict of
  `train.rewards.judged`: a sealed program's result, or a stdin/stdout program's outputs compared on the
  host);
- `scores`: `{lang: {"pass@1", "ci95", "n", "greedy", "status", "pass@k"?}}` where "pass@1" is greedy
  when `cfg.greedy` (else the sampled estimate), "ci95" the Wilson interval of the
  proportion when every task's value is a pass or a fail (greedy; "ci_method": "wilson"), else a
  percentile bootstrap over tasks ("ci_method": "bootstrap", "n_boot": B), and
  "pass@k" (when `cfg.n_samples > 0`) `{"pass@k": .., "ci95@k": [..]}` for every k in `cfg.ks`.
By default completions come from the model through `train.generation.generate`, several languages at
once (`cfg.gen_threads` Python threads sharing the model), and each finished batch starts executing
in a background thread while the next batch generates (`cfg.overlap`).
Inject `generate_fn(tasks, lang, params) -> [[str] * params.n per task]` instead (reference solutions,
saved generations) to test the plumbing or to score generations made elsewhere.

Not for: where results are written (`app/`), comparing checkpoints (`train.transfer`).
"""
from __future__ import annotations

import copy
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import ClassVar

from evals.world import LANGS

from .config import help_of, require


@dataclass(frozen=True)
class EvalConfig:
    # The languages `langs` may name (a subclass widens it: train.bench_config for real benchmarks).
    LANGUAGES: ClassVar[tuple[str, ...]] = LANGS

    langs: tuple[str, ...] = field(default=LANGS, metadata={"help": "Languages to evaluate in."})
    n_tasks: int = field(default=1000, metadata={
        "help": "Held-out tasks per language (the same tasks in every language); 0 = all given tasks."})
    greedy: bool = field(default=True, metadata={"help": "Score greedy pass@1 (one completion per task)."})
    n_samples: int = field(default=0, metadata={
        "help": "Sampled completions per task for pass@k (0 = no sampling)."})
    ks: tuple[int, ...] = field(default=(1, 5, 10), metadata={
        "help": "k values of sampled pass@k (those <= n_samples are reported)."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature of the pass@k samples."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus mass of the pass@k samples."})
    max_new_tokens: int = field(default=192, metadata={
        "help": "Generated tokens per completion, at most (the longest reference completion of the default "
                "world is ~130 tokens in Lua with a 1k vocabulary)."})
    batch_size: int = field(default=128, metadata={"help": "Sequences decoded together."})
    seed: int = field(default=0, metadata={"help": "Seed of the task subset and of sampling."})
    threads: int = field(default=1, metadata={
        "help": "torch threads while generating. 1 by default: with `overlap` the executor's workers use the "
                "other core, and 2 threads cost 10x the CPU time when the cores are shared (measured here)."})
    gen_threads: int = field(default=0, metadata={
        "help": "Languages generated at once, each in its own Python thread (torch ops release the GIL; the "
                "completions are the same). 2 made 4 languages x 1000 tasks 1.7x faster on 2 idle cores "
                "(71.8 -> 42.4 s). 0 = auto: every core when the machine is idle, else 1 "
                "(train.config.auto_threads)."})
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast while generating."})
    attention: str = field(default="eager", metadata={
        "hash": "if_set",
        "help": "Attention kernel while generating: 'eager', 'sdpa', or '' for the model's own (the model's own "
                "comes back afterwards). 'eager' evaluated a study checkpoint in 79.8 s against 86.9 s with 'sdpa' "
                "on this CPU, with the same 6000 completions (docs/results/2026-11-26-study.md)."})
    dtype: str = field(default="auto", metadata={
        "help": "Weights' dtype while generating: 'auto' (default: 'bfloat16' when [runtime].bf16_autocast is on, "
                "else 'float32'; resolved when the recipe loads), 'bfloat16', 'float32', or '' for the model's own "
                "(a cast copy "
                "generates; the model itself is untouched). On the study's 24 checkpoints bfloat16 evaluated in "
                "48-59 s where float32 had taken 75-100 s; 5-9% of the completions differ, and pass@1 moved by "
                "-0.9 to +0.7 points per checkpoint and language, -0.04 on average (docs/results/2026-11-26-study.md, 'Evaluation speed')."})
    overlap: bool = field(default=True, metadata={
        "help": "Execute one language's programs while the next language generates."})
    n_boot: int = field(default=2000, metadata={
        "help": "Bootstrap resamples of the intervals: the transfer table's and a sampled pass@k's. Not part of "
                "an evaluation stage's hash: changing it re-runs the tables, not the evaluations, so a run's "
                "evals/<ckpt>.scores.json keep the B they were evaluated with (their 'n_boot')."})

    def __post_init__(self):
        require(self, "langs", bool(self.langs) and set(self.langs) <= set(self.LANGUAGES),
                f"must be a non-empty subset of {self.LANGUAGES}")
        require(self, "n_tasks", self.n_tasks >= 0, "must be >= 0")
        require(self, "n_samples", self.n_samples >= 0, "must be >= 0")
        require(self, "greedy", self.greedy or self.n_samples > 0, "with greedy off, n_samples must be > 0")
        require(self, "ks", bool(self.ks) and all(k >= 1 for k in self.ks), "must be positive integers")
        require(self, "temperature", self.temperature > 0 or self.n_samples == 0, "sampling needs temperature > 0")
        require(self, "top_p", 0 < self.top_p <= 1, "must be in (0, 1]")
        require(self, "max_new_tokens", self.max_new_tokens >= 1, "must be >= 1")
        require(self, "batch_size", self.batch_size >= 1, "must be >= 1")
        require(self, "threads", self.threads >= 1, "must be >= 1")
        require(self, "gen_threads", self.gen_threads >= 0, "must be >= 0 (0: auto)")
        require(self, "n_boot", self.n_boot >= 100, "must be >= 100")
        require(self, "attention", self.attention in ("", "eager", "sdpa"), "must be 'eager', 'sdpa' or ''")
        require(self, "dtype", self.dtype in ("auto", "", "float32", "bfloat16"),
                "must be 'auto', 'float32', 'bfloat16' or ''")

    @classmethod
    def help(cls) -> dict[str, str]:
        return help_of(cls)

    def params(self, sampled: bool):
        from .generation import SamplingParams
        return SamplingParams(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size, seed=self.seed,
                              threads=self.threads, bf16=self.bf16,
                              temperature=self.temperature if sampled else 0.0, top_p=self.top_p if sampled else 1.0,
                              n=self.n_samples if sampled else 1)


GenerateFn = Callable[[Sequence, str, object], list[list[str]]]


def select_tasks(tasks: Sequence, cfg: EvalConfig) -> list:
    """`cfg.n_tasks` tasks drawn with `cfg.seed`, independent of the input order (sorted by id first)."""
    ordered = sorted(tasks, key=lambda t: t.id)
    if cfg.n_tasks == 0 or cfg.n_tasks >= len(ordered):
        return ordered
    return sorted(random.Random(f"eval-{cfg.seed}").sample(ordered, cfg.n_tasks), key=lambda t: t.id)


def evaluate_checkpoint(model, tokenizer, tasks: Sequence, cfg: EvalConfig, executor, progress: bool = True,
                        log: Callable[[str], None] | None = None, generate_fn: GenerateFn | None = None,
                        timings: dict | None = None) -> tuple[list[dict], dict]:
    """Rows and scores of one checkpoint on `select_tasks(tasks, cfg)` (see the module docstring).
    `timings`, when given, receives seconds per language for generation and execution."""
    from .rewards import judged
    log = log or (lambda _msg: None)
    chosen = select_tasks(tasks, cfg)
    if not chosen:
        raise ValueError("evaluate_checkpoint: no tasks")
    timings = timings if timings is not None else {}
    modes = ([("greedy", False)] if cfg.greedy else []) + ([("sampled", True)] if cfg.n_samples else [])
    for lang in cfg.langs:
        timings[lang] = {"generate_s": 0.0, "execute_s": 0.0}
    from .config import auto_threads
    from .generation import StopRule, generate, torch_threads

    def execute(lang: str, items: list[tuple]) -> list[dict]:
        t0 = time.perf_counter()
        judging = [judged(t, lang, c, id=f"{t.id}/{lang}/{s}") for t, s, c in items]
        results = [v(r) for (_, v), r in zip(judging, executor.map([p for p, _ in judging]))]
        timings[lang]["execute_s"] += time.perf_counter() - t0
        return [{"task_id": t.id, "lang": lang, "sample": s, "prompt": t.prompt(lang), "completion": c,
                 "status": r.status.value, "passed": r.passed, "detail": r.detail[:200]}
                for (t, s, c), r in zip(items, results)]

    rows: list[dict] = []
    pool = ThreadPoolExecutor(1, thread_name_prefix="psft-eval-exec") if cfg.overlap else None
    pending = []

    def submit(lang: str, mode: str, idx: Sequence[int], completions: Sequence[Sequence[str]]):
        items = [(chosen[i], -1 if mode == "greedy" else j, c) for i, outs in zip(idx, completions)
                 for j, c in enumerate(outs)]
        if pool:
            pending.append(pool.submit(execute, lang, items))
        else:
            rows.extend(execute(lang, items))

    def generate_lang(lang: str) -> None:
        t0 = time.perf_counter()
        for mode, sampled in modes:
            params = replace(cfg.params(sampled), threads=None)   # set once for all languages, below
            if generate_fn is None:  # stream: each finished batch starts executing at once
                generate(gen_model, tokenizer, [t.prompt(lang) for t in chosen], [StopRule.for_task(t, lang) for t in chosen],
                         params, progress=progress,
                         on_batch=lambda idx, outs, lang=lang, mode=mode: submit(lang, mode, idx, outs))
            else:
                submit(lang, mode, range(len(chosen)), generate_fn(chosen, lang, params))
        timings[lang]["generate_s"] = time.perf_counter() - t0
        log(f"eval {lang}: generated {len(chosen)} tasks in {timings[lang]['generate_s']:.1f}s")

    # One language at a time with injected generations, or without `overlap` (programs then execute in the
    # generating thread, and one executor call at a time is what the executor is written for).
    workers = 1 if generate_fn is not None or not cfg.overlap else min(auto_threads(cfg.gen_threads), len(cfg.langs))
    try:
        gen = generate_fn is None
        with torch_threads(cfg.threads), cast(model, cfg.dtype if gen else "") as gen_model, \
                attention(gen_model, cfg.attention if gen else ""):
            if workers > 1:
                with ThreadPoolExecutor(workers, thread_name_prefix="psft-eval-gen") as gen_pool:
                    list(gen_pool.map(generate_lang, cfg.langs))
            else:
                for lang in cfg.langs:
                    generate_lang(lang)
        for f in pending:
            rows.extend(f.result())
    finally:
        if pool:
            pool.shutdown(wait=True)
    position = {t.id: k for k, t in enumerate(chosen)}
    lang_pos = {la: k for k, la in enumerate(cfg.langs)}
    rows.sort(key=lambda r: (lang_pos[r["lang"]], position[r["task_id"]], r["sample"]))
    scores = score_rows(rows, cfg)
    for lang in cfg.langs:
        s = scores[lang]
        log(f"eval {lang}: pass@1 {s['pass@1']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] n={s['n']}")
    return rows, scores


@contextmanager
def cast(model, dtype: str):
    """`model` itself when `dtype` is '' or already its dtype, else a copy of it cast to `dtype` (for the block).
    'auto' not resolved by a recipe (a config built directly) is 'bfloat16', the default before 'auto'."""
    import torch
    dtype = "bfloat16" if dtype == "auto" else dtype
    want = getattr(torch, dtype) if dtype else None
    if want is None or getattr(model, "dtype", None) == want:
        yield model
        return
    if not hasattr(model, "to"):
        raise ValueError(f"[eval].dtype = {dtype!r}: {type(model).__name__} cannot be cast (set it to '' to keep "
                         "the model's own)")
    yield copy.deepcopy(model).to(want)


@contextmanager
def attention(model, kernel: str):
    """`model` with attention `kernel` ('' = unchanged) for the block, its own kernel again afterwards."""
    own = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if not kernel or kernel == own:
        yield model
        return
    if not hasattr(model, "set_attn_implementation"):
        raise ValueError(f"[eval].attention = {kernel!r}: {type(model).__name__} cannot switch its attention kernel "
                         "(set it to '' to keep the model's own)")
    model.set_attn_implementation(kernel)
    try:
        yield model
    finally:
        model.set_attn_implementation(own)


def per_task_pass(rows: Sequence[dict], lang: str) -> dict[str, float]:
    """task_id -> greedy pass (0/1) in `lang`, or the mean of its samples when the rows have no greedy."""
    greedy = {r["task_id"]: float(r["passed"]) for r in rows if r["lang"] == lang and r["sample"] < 0}
    if greedy:
        return greedy
    acc: dict[str, list[float]] = {}
    for r in rows:
        if r["lang"] == lang:
            acc.setdefault(r["task_id"], []).append(float(r["passed"]))
    return {t: sum(v) / len(v) for t, v in acc.items()}


def score_rows(rows: Sequence[dict], cfg: EvalConfig) -> dict:
    """Scores from rows (also usable on rows loaded from a file)."""
    from evals.scoring import bootstrap_ci, pass_at_k_table, wilson_interval
    scores = {}
    for lang in cfg.langs:
        mine = [r for r in rows if r["lang"] == lang]
        if not mine:
            continue
        entry: dict = {"status": dict(Counter(r["status"] for r in mine if r["sample"] < 0 or not cfg.greedy))}
        sampled: dict[str, list[bool]] = {}
        for r in mine:
            if r["sample"] >= 0:
                sampled.setdefault(r["task_id"], []).append(r["passed"])
        if sampled:
            counts = [(len(v), sum(v)) for v in sampled.values()]
            n = min(c[0] for c in counts)
            ks = [k for k in cfg.ks if k <= n] or [1]
            table = pass_at_k_table({lang: counts}, ks=ks, n_boot=cfg.n_boot, seed=cfg.seed)[lang]
            entry["pass@k"] = {k: v for k, v in table.items() if k.startswith(("pass@", "ci95@"))}
            entry["n_samples"] = n
        values = per_task_pass(mine, lang)
        v = list(values.values())
        entry["greedy"] = any(r["sample"] < 0 for r in mine)
        entry["pass@1"] = sum(v) / len(v)
        if all(x in (0.0, 1.0) for x in v):     # one proportion (greedy passes): Wilson, never [0, 0]
            entry["ci95"], entry["ci_method"] = list(wilson_interval(int(sum(v)), len(v))), "wilson"
        else:
            entry["ci95"], entry["ci_method"] = list(bootstrap_ci(v, n_boot=cfg.n_boot, seed=cfg.seed)), "bootstrap"
            entry["n_boot"] = cfg.n_boot
        entry["n"] = len(v)
        scores[lang] = entry
    return scores
