"""train/sft.py: SFT through trl's real SFTTrainer on a micro arm saves a checkpoint that
`AutoModelForCausalLM.from_pretrained` loads with its tokenizer; the loss covers completions only;
LoRA is merged into a plain checkpoint."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from evals.world import World, WorldConfig
from train.config import RuntimeConfig
from train.mixtures import build_arms
from train.model import ModelConfig, build_model
from train.sft import SFTStageConfig, entropy_set, run_sft
from train.tokenizer import TokenizerConfig, build_tokenizer

MICRO = ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=176, max_position_embeddings=384)
RUNTIME = RuntimeConfig(threads=1)   # correctness tests; 1 thread is faster on shared cores


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=0, n_tasks=300))


@pytest.fixture(scope="module")
def tok(world):
    return build_tokenizer(world, TokenizerConfig(vocab_size=512))


@pytest.fixture(scope="module")
def base(tok, tmp_path_factory):
    path = tmp_path_factory.mktemp("base")
    model = build_model(MICRO, tok, seed=0)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def arm(world, tok):
    datasets, _ = build_arms(world, tok, SFTStageConfig(budget_tokens=2000, arms=("parallel",)))
    return datasets["parallel"]


def _weights(path):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_sft_through_trl_saves_a_loadable_checkpoint(world, tok, base, arm, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    events = []
    cfg = SFTStageConfig(max_steps=3, batch_size=4, lr=1e-3, logging_steps=1)
    out = run_sft(base, tok, arm, cfg, tmp_path / "sft", progress=False, log=events.append, runtime=RUNTIME,
                  entropy_eval=entropy_set(world, 3, ("python", "lua")))
    model = AutoModelForCausalLM.from_pretrained(out)
    again = AutoTokenizer.from_pretrained(out)
    assert again.eos_token_id == tok.eos_token_id and model.config.vocab_size == len(tok)
    before, after = _weights(base), model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "sft_start" and kinds.count("sft_step") == 3 and kinds[-1] == "sft_done"
    done = events[-1]
    assert done["steps"] == 3 and set(done["entropy"]) == {"python", "lua"}
    assert all(0 < v < 7 for v in done["entropy"].values())
    step = next(e for e in events if e["event"] == "sft_step")
    assert {"loss", "entropy", "mean_token_accuracy"} <= set(step)


def test_sft_loss_is_on_completions_only(base, tok, arm, tmp_path):
    """A learning rate of ~0 leaves the model as it was, so trl's first logged loss must equal the base model's
    mean cross-entropy over completion tokens (+ EOS) of the first batch, not over whole sequences."""
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM
    events = []
    cfg = SFTStageConfig(max_steps=1, batch_size=len(arm), lr=1e-12, logging_steps=1, warmup_ratio=0.0)
    run_sft(base, tok, arm, cfg, tmp_path / "sft", progress=False, log=events.append, runtime=RUNTIME)
    trl_loss = next(e for e in events if e["event"] == "sft_step")["loss"]
    model = AutoModelForCausalLM.from_pretrained(base).eval()

    def mean_nll(only_completion: bool) -> float:
        total, count = 0.0, 0
        for row in arm:
            p = tok(row["prompt"]).input_ids
            c = tok(row["completion"] + tok.eos_token, add_special_tokens=False).input_ids
            ids = torch.tensor([p + c])
            with torch.no_grad():
                logp = F.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            nll = -logp.gather(1, ids[0, 1:, None])[:, 0]
            nll = nll[len(p) - 1:] if only_completion else nll
            total, count = total + float(nll.sum()), count + nll.numel()
        return total / count

    assert trl_loss == pytest.approx(mean_nll(True), abs=2e-3)
    assert abs(trl_loss - mean_nll(False)) > 1e-3   # the two are distinguishable at this scale


def test_sft_does_not_change_a_model_object_passed_in(tok, arm, tmp_path):
    model = build_model(MICRO, tok, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run_sft(model, tok, arm, SFTStageConfig(max_steps=1, batch_size=4, lr=1e-2), tmp_path / "sft", progress=False,
            runtime=RUNTIME)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_lora_sft_is_merged_into_a_plain_checkpoint(base, tok, arm, tmp_path):
    from transformers import AutoModelForCausalLM
    cfg = SFTStageConfig(max_steps=3, batch_size=4, lr=5e-3, lora=True, lora_r=4, lora_alpha=8)
    out = run_sft(base, tok, arm, cfg, tmp_path / "lora", progress=False, runtime=RUNTIME)
    assert not (out / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in k for k in model.state_dict())
    before = _weights(base)
    changed = [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]
    assert changed and all(any(t in k for t in cfg.lora_targets) for k in changed)


def test_joined_arm_trains_on_its_bodies_only_in_as_many_steps_as_parallel(world, base, tok, tmp_path):
    """trl's real trainer on the pre-tokenized `parallel-joined` rows: at a learning rate of ~0 its first loss is
    the base model's mean cross-entropy over the masked-in tokens (the bodies and their <|eos|>, read with the
    other language's program in the context), not over whole rows; and with `batch_size_for` it takes as
    many steps as `parallel` does over the same examples."""
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM
    cfg = SFTStageConfig(budget_tokens=600, arms=("parallel", "parallel-joined"), batch_size=4)
    datasets, _ = build_arms(world, tok, cfg)
    rows = datasets["parallel-joined"]
    events = []
    one = SFTStageConfig(max_steps=1, lr=1e-12, logging_steps=1, warmup_ratio=0.0)
    run_sft(base, tok, rows, one, tmp_path / "joined", progress=False, log=events.append, runtime=RUNTIME,
            batch_size=len(rows))
    trl_loss = next(e for e in events if e["event"] == "sft_step")["loss"]
    model = AutoModelForCausalLM.from_pretrained(base).eval()

    def mean_nll(masked: bool) -> float:
        total, count = 0.0, 0
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            with torch.no_grad():
                logp = F.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            nll = -logp.gather(1, ids[0, 1:, None])[:, 0]
            keep = torch.tensor(row["completion_mask"][1:], dtype=torch.bool) if masked else torch.ones_like(nll, dtype=torch.bool)
            total, count = total + float(nll[keep].sum()), count + int(keep.sum())
        return total / count

    assert trl_loss == pytest.approx(mean_nll(True), abs=2e-3)
    assert abs(trl_loss - mean_nll(False)) > 1e-3
    steps = {}
    for arm in ("parallel", "parallel-joined"):
        done = []
        run_sft(base, tok, datasets[arm], dataclasses.replace(cfg, lr=1e-12), tmp_path / arm, progress=False,
                log=done.append, runtime=RUNTIME, batch_size=cfg.batch_size_for(arm))
        steps[arm] = done[-1]["steps"]
    assert steps["parallel"] == steps["parallel-joined"] == math.ceil(len(datasets["parallel"]) / 4)
