"""Benchmark problems as training and evaluation data: the SFT pool, the RL problems, the evaluation sets.

- SFT pool: MBXP problems whose number is in `[data].sft_ids` (MBPP train numbers by default) and whose
  reference solution PASSES its tests (as assembled from a completion: `BenchTask.program`) in every
  language of the SFT arms; so the mono, multi and parallel arms draw from the same problems, aligned by
  number, and the parallel arm has each problem in every language. `build_arms` (the world's) fills the
  arms to equal token budgets from this pool (`TaskPool` gives it the world's `split("train")`).
- RL problems: `[data].rl_ids` (MBPP validation numbers) in the RL language, with a passing reference
  (so the tests are sound); the reward is the tests' verdict.
- Entropy set: the first RL problems whose references pass in every SFT language (never SFT data).
- Evaluation: MBXP test numbers (11-510) present in every evaluated language, and Multi-HumanEval
  problems present in every evaluated language; `select_tasks` picks the fixed subset.
Reference verdicts come from `evals.benchmarks.splits.passing_references`; pass `known` (a dict of
program hash -> status) to reuse earlier verdicts. Not for: where files go (`app/`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evals.benchmarks import load_benchmark, parallel_set
from evals.benchmarks.splits import MBPP_SPLITS, in_range
from evals.benchmarks.task import BenchTask, CodePrefix, PromptFormat, bench_tasks

from .bench_config import BenchDataConfig

PLAIN = CodePrefix()


@dataclass
class TaskPool:
    """Named lists of tasks with the world's `split(name)` interface (what `build_arms` draws from)."""

    splits: dict[str, list] = field(default_factory=dict)

    def split(self, name: str) -> list:
        return list(self.splits.get(name, []))


def load_mbxp(cfg: BenchDataConfig, langs: Sequence[str]):
    if not cfg.mbxp:
        raise ValueError("BenchDataConfig.mbxp: no MBXP data given (psft run --data PATH)")
    return load_benchmark("mbxp", cfg.mbxp, langs=list(langs))


def humaneval_source(cfg: BenchDataConfig) -> str:
    """Where Multi-HumanEval comes from: `cfg.humaneval`, else mxeval's layout beside a local MBXP folder,
    else the hub id."""
    from pathlib import Path
    if cfg.humaneval:
        return cfg.humaneval
    if cfg.mbxp and Path(cfg.mbxp).is_dir():
        sibling = Path(cfg.mbxp).resolve().parent / "multilingual_humaneval"
        if sibling.is_dir():
            return str(sibling)
    return "mxeval/multi-humaneval"


def candidates(problems, langs: Sequence[str], ranges: Sequence[Sequence[int]], limit: int = 0,
               fmt: PromptFormat = PLAIN, split: str = "") -> list[BenchTask]:
    """Tasks with a reference solution in every language of `langs`, numbers in `ranges`, lowest first."""
    aligned = parallel_set(problems, list(langs), require_solution=True)
    tasks = [t for t in bench_tasks(aligned, "mbxp", fmt, split) if in_range(t.number, ranges)]
    return tasks[:limit or None]


def verify(tasks: Sequence[BenchTask], langs: Sequence[str], executor, timeout_s: float = 10.0,
           known: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """{task id: {lang: status}} of every reference, reusing and filling `known` (program hash -> status)."""
    from evals.benchmarks.splits import passing_references
    from evals.execution import Limits
    return passing_references(tasks, langs, executor, limits=Limits(timeout_s=timeout_s), known=known)


def passing(tasks: Sequence[BenchTask], verdicts: dict[str, dict[str, str]], langs: Sequence[str]) -> list[BenchTask]:
    return [t for t in tasks if all(verdicts.get(t.id, {}).get(la) == "passed" for la in langs)]


def eval_tasks(problems, langs: Sequence[str], benchmark: str, fmt: PromptFormat = PLAIN) -> list[BenchTask]:
    """Evaluation tasks: problems present in every language of `langs` (tests needed, no solution); for
    MBXP only the test numbers."""
    tasks = bench_tasks(parallel_set(problems, list(langs)), benchmark, fmt, split=benchmark)
    if benchmark == "mbxp":
        tasks = [t for t in tasks if in_range(t.number, [MBPP_SPLITS["test"]])]
    return [t for t in tasks if not any(t.problem(la).unavailable for la in langs)]


def entropy_eval(tasks: Sequence[BenchTask], langs: Sequence[str], n: int) -> dict[str, tuple[list[str], list[str]]]:
    """lang -> (prompts, reference completions) of the first `n` tasks (for `run_sft(entropy_eval=...)`)."""
    chosen = list(tasks)[:n]
    if not chosen:
        return {}
    return {la: ([t.prompt(la) for t in chosen], [t.solution(la) for t in chosen]) for la in langs}


def auto_budget(tasks: Sequence[BenchTask], tokenizer, cfg, share: float = 0.9) -> int:
    """`share` of the tokens the mono arm can draw from `tasks` (its language's examples, counted as
    `train.mixtures` counts them): the largest budget every arm can fill, with room to spare."""
    lang = cfg.source_lang
    completions = tokenizer([t.solution(lang) + tokenizer.eos_token for t in tasks], add_special_tokens=False)
    total = sum(len(ids) for ids in completions["input_ids"])
    if cfg.budget_counts == "prompt+completion":
        total += sum(len(ids) for ids in tokenizer([t.prompt(lang) for t in tasks])["input_ids"])
    return int(share * total)
