"""Evaluate any Hugging Face causal LM (a folder or hub id, optionally with a LoRA adapter) on a benchmark or
on the synthetic world's held-out tasks: which tasks, their prompts, the generation engine, then
`train.evaluate.evaluate_checkpoint`, the pipeline's own evaluation (sealed programs run in the sandbox and
counted as passed only with their completion proof, as `psft score` counts them).

- Tasks. A benchmark (`mbxp`, `multi-humaneval`, `humaneval-x`, `multipl-e`): the problems present in every
  evaluated language (`train.bench_data.eval_tasks`: for MBXP only the test numbers 11-510, never the
  numbers the bench recipes train on), so languages compare task by task; the world: the held-out splits
  (`test`, `heldout_comp`, `rl_test`) of a recipe's world, as the world pipeline evaluates them.
  `select_tasks` then draws `n_tasks` with the config's seed: a checkpoint evaluated here and the same
  checkpoint evaluated by the pipeline under the same config see the same tasks.
- Prompts. Benchmarks: the model's chat template (`train.prompts.ChatPrompt`, as the bench recipes prompt)
  when its tokenizer has one, else the benchmark's code as a plain completion prompt (`style` forces one);
  the world: its own prompts (the world's checkpoints are trained on them).
- Engines. `hf` (default): the lab's batched decoding loop over the transformers model
  (`train.generation`). `vllm`: vLLM's offline engine, only where vllm is installed and a GPU is present
  (`vllm_unavailable` says why not); its completions are cut by the same stop rules, but its sampling
  and kernels differ, so its numbers are not bit-identical to `hf`'s.
Not for: where results are written (`app/evalrun.py`), comparing checkpoints (`train.transfer`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from evals.languages import LANGUAGES

from .evaluate import EvalConfig, evaluate_checkpoint

BENCHES = ("mbxp", "multi-humaneval", "humaneval-x", "multipl-e", "world")
WORLD_HELD_OUT = ("test", "heldout_comp", "rl_test")   # what the world pipeline evaluates on
ENGINES = ("hf", "vllm")
PROMPT_STYLES = ("auto", "chat", "plain")


class ModelEvalError(ValueError):
    """Bad input to an evaluation (a model that does not load, no tasks, an engine that cannot run here)."""


@dataclass(frozen=True)
class ModelEvalConfig(EvalConfig):
    """`EvalConfig` for any model: every language the sandbox runs, and the model's own dtype and attention
    kernel by default (the world config's 'eager' and bf16 were measured on the world's tiny model only)."""

    LANGUAGES: ClassVar[tuple[str, ...]] = tuple(LANGUAGES)

    n_tasks: int = field(default=0, metadata={
        "help": "Tasks per language (the same tasks in every language); 0 = every task of the set."})
    batch_size: int = field(default=32, metadata={"help": "Sequences decoded together."})
    attention: str = field(default="", metadata={
        "help": "Attention kernel while generating: 'eager', 'sdpa', or '' for the model's own."})
    dtype: str = field(default="", metadata={
        "help": "Weights' dtype while generating: 'bfloat16', 'float32', or '' for the model's own."})


def is_local(name: str) -> bool:
    """Whether `name` means a path on this machine rather than a hub id ('org/model')."""
    return Path(name).expanduser().exists() or name.startswith(("/", ".", "~")) or name.count("/") > 1


def _source(name: str) -> str:
    return str(Path(name).expanduser()) if is_local(name) else name


def load_tokenizer(model: str, adapter: str | None = None):
    """The adapter folder's tokenizer when it has one, else the model's (a pad token added when missing)."""
    from transformers import AutoTokenizer
    check_sources(model, adapter)
    src = adapter if adapter is not None and _has_tokenizer(Path(adapter)) else model
    try:
        tok = AutoTokenizer.from_pretrained(_source(src))
    except (OSError, ValueError) as e:
        raise ModelEvalError(f"cannot load a tokenizer from {src}: {str(e).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def check_sources(model: str, adapter: str | None = None) -> None:
    """A local `model` must be a folder, an `adapter` a peft adapter folder: else `ModelEvalError`."""
    if is_local(model) and not Path(model).expanduser().is_dir():
        raise ModelEvalError(f"--model {model}: no such model folder")
    if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelEvalError(f"--adapter {adapter}: not a peft adapter folder (no adapter_config.json)")


def load_model(model: str, adapter: str | None = None, device: str = "cpu", dtype: str = "float32"):
    """`model` from a folder or hub id in eval mode, with the LoRA `adapter` (a peft folder) merged into it
    when given."""
    import torch
    from transformers import AutoModelForCausalLM
    check_sources(model, adapter)
    try:
        lm = AutoModelForCausalLM.from_pretrained(_source(model), dtype=getattr(torch, dtype))
    except (OSError, ValueError) as e:
        raise ModelEvalError(f"cannot load {model} as a causal LM: {str(e).splitlines()[0]}") from None
    if adapter is not None:
        from peft import PeftModel
        try:
            lm = PeftModel.from_pretrained(lm, adapter).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise ModelEvalError(f"cannot apply the adapter {adapter} to {model}: {str(e).splitlines()[0]}") from None
    return lm.to(device).eval()


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))


def prompt_format(tokenizer, style: str = "auto", cfg=None):
    """How benchmark prompts are written: the chat template (`ChatPrompt`) or the plain code prefix.
    `auto`: the chat template when the tokenizer has one."""
    from evals.benchmarks.task import CodePrefix

    from .prompts import ChatPrompt, PromptConfig
    if style not in PROMPT_STYLES:
        raise ModelEvalError(f"prompt style {style!r}: expected one of {', '.join(PROMPT_STYLES)}")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if style == "chat" and not has_template:
        raise ModelEvalError("--prompt chat: the tokenizer has no chat template")
    if style == "chat" or (style == "auto" and has_template):
        return ChatPrompt(tokenizer, cfg or PromptConfig())
    return CodePrefix()


def bench_langs(bench: str, data: str) -> list[str]:
    """Every language of a benchmark's data that the sandbox runs, in `evals.languages` order."""
    from evals.benchmarks import load_benchmark
    found = {p.lang for p in load_benchmark(bench, data)}
    return [la for la in LANGUAGES if la in found]


def bench_tasks(bench: str, data: str, langs: Sequence[str], fmt) -> list:
    """The evaluation tasks of a benchmark in `langs` (see the module docstring); `BenchmarkError` on bad data."""
    from evals.benchmarks import load_benchmark

    from .bench_data import eval_tasks
    tasks = eval_tasks(load_benchmark(bench, data, langs=list(langs)), langs, bench, fmt)
    if not tasks:
        raise ModelEvalError(f"{data}: no {bench} problem is present in every one of {', '.join(langs)}")
    return tasks


def world_tasks(world) -> list:
    """The world's held-out tasks, as the world pipeline evaluates them."""
    return [t for s in WORLD_HELD_OUT for t in world.split(s)]


def vllm_unavailable() -> str:
    """Why the vLLM engine cannot run here ('' when it can)."""
    import importlib.util

    import torch
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install '.[gpu]')"
    if not torch.cuda.is_available():
        return "vLLM needs a GPU and torch sees none"
    return ""


def vllm_generate(model: str, adapter: str | None = None, dtype: str = "auto"):
    """A `generate_fn(tasks, lang, params)` for `evaluate_checkpoint` backed by vLLM's offline engine. Stop
    strings are kept in the output (the world's is the function's closing line, which the program needs) and
    every completion is cut by the task's stop rule, as the `hf` engine cuts it."""
    why = vllm_unavailable()
    if why:
        raise ModelEvalError(f"--engine vllm: {why}")
    from vllm import LLM
    from vllm import SamplingParams as VParams
    from vllm.lora.request import LoRARequest

    from .generation import StopRule
    llm = LLM(model=model, dtype=dtype, enable_lora=adapter is not None, seed=0)
    lora = LoRARequest("adapter", 1, adapter) if adapter is not None else None

    def generate_fn(tasks, lang, params):
        prompts = [t.prompt(lang) for t in tasks]
        rules = [StopRule.for_task(t, lang) for t in tasks]
        out = []
        for prompt, rule in zip(prompts, rules):   # one request per prompt: each has its own stop strings
            out.append((prompt, rule, VParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                              max_tokens=params.max_new_tokens, seed=params.seed,
                                              stop=list(rule.strings), include_stop_str_in_output=True)))
        results = llm.generate([p for p, _, _ in out], [sp for _, _, sp in out], lora_request=lora, use_tqdm=False)
        return [[rule.finish(c.text) for c in res.outputs] for (_, rule, _), res in zip(out, results)]
    return generate_fn


def evaluate_model(model, tokenizer, tasks: Sequence, cfg: EvalConfig, executor, generate_fn=None,
                   progress: bool = False, log=None) -> tuple[list[dict], dict, dict]:
    """(rows, scores, timings) of one model on `tasks` (`evaluate_checkpoint`), every row with its `split`
    (the world task's split, or the benchmark's name)."""
    timings: dict = {}
    rows, scores = evaluate_checkpoint(model, tokenizer, tasks, cfg, executor, progress=progress, log=log,
                                       generate_fn=generate_fn, timings=timings)
    split_of = {t.id: t.split for t in tasks}
    for r in rows:
        r["split"] = split_of.get(r["task_id"], "")
    return rows, scores, timings


def with_overrides(cfg: EvalConfig, **kw) -> EvalConfig:
    """`cfg` with the given fields replaced (None leaves a field as it is); a bad value is a `ValueError`
    naming the field."""
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None})
