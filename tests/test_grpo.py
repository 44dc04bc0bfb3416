"""The GRPO stage through real trl on CPU: config validation, the stop rule inside trl's generation,
and a few real steps from a tiny "SFT" model that saves a loadable checkpoint."""
from __future__ import annotations

import json

import pytest
import torch

from train.generation import StopRule
from train.grpo import GRPOStageConfig, _StopAtRule, run_grpo

from . import tiny_lm


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="per_device_train_batch_size"):
        GRPOStageConfig(per_device_train_batch_size=24, num_generations=16)
    with pytest.raises(ValueError, match="GRPOStageConfig.lang"):
        GRPOStageConfig(lang="cobol")
    with pytest.raises(ValueError, match="num_generations"):
        GRPOStageConfig(num_generations=1, per_device_train_batch_size=4)
    GRPOStageConfig(per_device_train_batch_size=8, steps_per_generation=2, num_generations=16)  # 16 | 8 x 2
    assert GRPOStageConfig().beta == 0.0 and GRPOStageConfig().lr == 5e-5
    assert all(GRPOStageConfig.help().values())


def test_stop_wrapper_ends_rows_with_eos_after_the_rule():
    tok = tiny_lm.tokenizer()
    model = tiny_lm.model(tok)
    wrap = _StopAtRule(model, tok, StopRule(("e",)))  # fires early on random text
    model.generate = wrap
    try:
        ids = tok(["def f(x):", "local function g(a, b)"], padding=True, padding_side="left", return_tensors="pt")
        torch.manual_seed(0)
        out = model.generate(**ids, do_sample=True, max_new_tokens=40, pad_token_id=tok.pad_token_id)
    finally:
        wrap.restore()
    assert "generate" not in model.__dict__
    width = ids["input_ids"].shape[1]
    assert wrap.stopped >= 1
    for row in out[:, width:].tolist():
        text = ""
        for k, t in enumerate(row):
            if t == tok.eos_token_id:
                assert "e" in text and all(x == tok.eos_token_id for x in row[k:])  # only EOS after the stop
                break
            text += tok.decode([t])


def test_loop_engine_answers_trl_generate_call_like_generate():
    """The 'loop' engine gets trl's call (rows = prompts repeated num_generations times, left-padded) and
    returns what `generate` would: the prompt, then the completion, EOS after a stopped row, none after
    one that ran out. Greedy, it decodes the same tokens as the 'hf' engine."""
    from transformers import GenerationConfig
    tok = tiny_lm.tokenizer()
    model = tiny_lm.model(tok)
    ids = tok(["def f(x):"] * 3 + ["local function g(a, b)"] * 3, padding=True, padding_side="left",
              return_tensors="pt")
    width = ids["input_ids"].shape[1]
    outs = {}
    for engine in ("hf", "loop"):
        wrap = _StopAtRule(model, tok, StopRule(("e",)), engine=engine, seed=0)
        model.generate = wrap
        try:
            gc = GenerationConfig(do_sample=False, max_new_tokens=30, pad_token_id=tok.pad_token_id,
                                  eos_token_id=tok.eos_token_id, top_k=0)
            out = model.generate(**ids, generation_config=gc)
        finally:
            wrap.restore()
        assert torch.equal(out[:, :width], ids["input_ids"]) and wrap.rows == 6
        rows = []
        for row in out[:, width:].tolist():
            cut = row.index(tok.eos_token_id) if tok.eos_token_id in row else len(row)
            rows.append(row[:cut])
        outs[engine] = (rows, wrap.stopped)
    assert outs["loop"] == outs["hf"]
    # sampled: every row either stopped (the rule fired, then EOS) or ran to max_new_tokens without EOS
    wrap = _StopAtRule(model, tok, StopRule(("e",)), engine="loop", seed=0)
    model.generate = wrap
    try:
        gc = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, max_new_tokens=30,
                              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        out = model.generate(**ids, generation_config=gc)
    finally:
        wrap.restore()
    assert wrap.stopped >= 1
    for row in out[:, width:width + 30].tolist():
        if tok.eos_token_id not in row:   # ran out: the rule never fired before the last token
            assert "e" not in tok.decode(row[:-1])


def test_group_size_finds_trl_repeats():
    from train.grpo import _group_size
    assert _group_size([[1], [1], [2], [2]]) == 2
    assert _group_size([[1], [1], [1]]) == 3
    assert _group_size([[1], [2], [1], [2]]) == 1
    assert _group_size([[1], [1], [2]]) == 1


@pytest.mark.slow
def test_grpo_steps_train_and_save_a_loadable_checkpoint(tmp_path, executor):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(1)
    tok = tiny_lm.tokenizer()
    tasks = tiny_lm.world().split("rl")[:8]
    sft = tiny_lm.model(tok)
    tiny_lm.overfit(sft, tok, [t.document("python") for t in tasks], steps=150)
    sft.save_pretrained(tmp_path / "sft")
    tok.save_pretrained(tmp_path / "sft")
    before = {k: v.clone() for k, v in sft.state_dict().items()}

    cfg = GRPOStageConfig(steps=3, num_generations=4, per_device_train_batch_size=16, temperature=1.0,
                          max_completion_length=96, lr=5e-4, threads=1, reward_mode="all")
    logs: list[str] = []
    out = run_grpo(tmp_path / "sft", tok, tasks, "python", cfg, executor, tmp_path / "rl", progress=False,
                   log=logs.append)

    model = AutoModelForCausalLM.from_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    summary = json.loads((out / "grpo_history.json").read_text())
    hist = summary["history"]
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert all({"reward", "frac_reward_zero_std", "entropy", "step_s", "reward_s"} <= set(h) for h in hist)
    # the reward saw the dataset columns, in the RL language, for several tasks
    calls = summary["reward_calls"]
    assert len(calls) == 3 and all(c["langs"] == ["python"] and c["n"] == 16 and c["tasks"] == 4 for c in calls)
    # the overfit model is sometimes right at temperature 1: rewards vary within groups, weights move
    assert any(h["reward"] > 0 for h in hist) and any(h["frac_reward_zero_std"] < 1 for h in hist)
    assert summary["stopped_by_rule"] > 0 and 0 < summary["reward_frac"] < 1
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items() if k in before)
    assert changed
    assert any("grpo step 3" in m for m in logs)
