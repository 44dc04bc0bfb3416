"""Chat-template prompts for benchmark problems (train/prompts.py) with SmolLM2's own tokenizer."""
from __future__ import annotations

import pytest

pytest.importorskip("gguf")

LANGS = ("python", "javascript", "typescript", "ruby", "php", "cpp", "java")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from train.pretrained import ModelSourceError, gguf_path
    try:
        path = gguf_path("smollm2")
    except ModelSourceError as e:
        pytest.skip(str(e))
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


@pytest.fixture(scope="module")
def tasks(shared_data, tokenizer):
    from evals.benchmarks import load_benchmark, parallel_set
    from evals.benchmarks.task import bench_tasks
    from train.prompts import ChatPrompt
    problems = load_benchmark("mbxp", shared_data / "mbxp", langs=list(LANGS))
    aligned = parallel_set(problems, LANGS, require_solution=True)
    return bench_tasks(aligned, "mbxp", ChatPrompt(tokenizer))[::25]


@pytest.mark.data
def test_prompt_is_the_chat_template_with_the_code_begun(tasks):
    t = tasks[0]
    for lang in LANGS:
        p = t.prompt(lang)
        assert p.startswith("<|im_start|>system\n") and "<|im_start|>user\n" + t.problem(lang).description in p
        assert p.endswith(t.code(lang)) and f"<|im_start|>assistant\n```{lang}\n" in p
        assert not p.endswith("\n")
        assert t.solution(lang).endswith("\n```") and t.solution(lang).startswith("\n")


@pytest.mark.data
def test_prompt_and_completion_split_on_a_token_boundary(tasks, tokenizer):
    # trl tokenizes prompt and completion apart; generation continues the prompt's tokens: both see the
    # same ids as the joint text only when the prompt ends where a token ends.
    for t in tasks:
        for lang in LANGS:
            prompt, completion = t.prompt(lang), t.solution(lang)
            joint = tokenizer(prompt + completion)["input_ids"]
            apart = tokenizer(prompt)["input_ids"] + tokenizer(completion, add_special_tokens=False)["input_ids"]
            assert joint == apart, (t.id, lang)


def test_a_template_that_starts_with_bos_is_not_doubled():
    from train.prompts import ChatPrompt, PromptConfig

    class Llama3Like:   # a tokenizer that adds BOS itself and whose template writes it too
        bos_token, bos_token_id = "<|begin_of_text|>", 1

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            return self.bos_token + "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"

        def __call__(self, text):
            return {"input_ids": [1, 42]}

    class P:
        lang, description = "go", "Add two numbers."
    fmt = ChatPrompt(Llama3Like(), PromptConfig(system="Be brief."))
    assert fmt.prompt(P(), "func add(a int, b int) int {") == \
        "<|system|>Be brief.<|user|>Add two numbers.\nWrite it in Go.<|assistant|>```go\nfunc add(a int, b int) int {"


@pytest.mark.data
def test_auto_budget_is_the_largest_every_arm_fills(tasks, tokenizer):
    import dataclasses

    from train.bench_config import BenchSFTConfig
    from train.bench_data import TaskPool, auto_budget
    from train.mixtures import build_arms
    cfg = BenchSFTConfig(budget_auto=True)
    full = auto_budget(tasks, tokenizer, cfg, share=1.0)
    budget = auto_budget(tasks, tokenizer, cfg)
    assert budget == int(0.9 * full)
    _, manifest = build_arms(TaskPool({"train": tasks}), tokenizer, dataclasses.replace(cfg, budget_tokens=budget))
    assert all(budget <= arm["tokens"] for arm in manifest["arms"].values())
    with pytest.raises(ValueError, match="more than the mono arm can draw"):
        build_arms(TaskPool({"train": tasks}), tokenizer, dataclasses.replace(cfg, budget_tokens=full + 1))
