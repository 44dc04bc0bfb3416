"""train/tokenizer.py, train/model.py, train/pretrain.py: the BPE tokenizer's round trip and its
prompt/completion boundary in every language, parameter counts from the config, seeded init, the
entropy helper, and a micro pretraining run that lowers the loss and saves a loadable checkpoint."""
from __future__ import annotations

import math

import pytest
import torch

from evals.world import LANGS, World, WorldConfig
from train.config import ConfigError, RuntimeConfig
from train.model import ModelConfig, build_model, count_params, mean_completion_entropy
from train.pretrain import PretrainConfig, document_loss, pack, pretrain, pretrain_texts
from train.tokenizer import TokenizerConfig, build_tokenizer, check_boundary

MICRO = ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=176, max_position_embeddings=384)


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=0, n_tasks=300))


@pytest.fixture(scope="module")
def tok(world):
    return build_tokenizer(world, TokenizerConfig(vocab_size=512))


def test_tokenizer_round_trips_documents_in_every_language(world, tok):
    tasks = world.split("test")
    for lang in LANGS:
        docs = [t.document(lang) for t in tasks]
        for doc, ids in zip(docs, tok(docs).input_ids):
            assert ids[0] == tok.bos_token_id and tok.eos_token_id not in ids
            assert tok.decode(ids, skip_special_tokens=True) == doc
    assert [tok.pad_token_id, tok.bos_token_id, tok.eos_token_id] == [0, 1, 2]


def test_prompt_completion_boundary_is_clean_in_every_language(world, tok):
    """tokens(prompt) + tokens(completion) == tokens(prompt + completion) on every task of every split."""
    for lang in LANGS:
        tasks = world.tasks
        assert check_boundary(tok, [t.prompt(lang) for t in tasks], [t.solution(lang) for t in tasks]) == [], lang


def test_boundary_check_catches_a_prompt_ending_in_newline(world, tok):
    """The pitfall the world's contract avoids: move the newline into the prompt and ByteLevel BPE merges it
    with the completion's indentation, so the check must flag (nearly) every pair."""
    tasks = world.split("train")[:50]
    prompts = [t.prompt("python") + "\n" for t in tasks]
    completions = [t.solution("python")[1:] for t in tasks]
    assert len(check_boundary(tok, prompts, completions)) >= 45


def test_tokenizer_saves_and_reloads_with_auto_tokenizer(world, tok, tmp_path):
    from transformers import AutoTokenizer
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    doc = world.split("valid")[0].document("perl")
    assert again(doc).input_ids == tok(doc).input_ids
    assert (again.bos_token, again.eos_token, again.pad_token) == (tok.bos_token, tok.eos_token, tok.pad_token)
    assert again("x" + again.eos_token).input_ids[-1] == again.eos_token_id   # trl appends EOS as text


def test_tokenizer_training_is_deterministic(world, tok):
    assert build_tokenizer(world, TokenizerConfig(vocab_size=512)).get_vocab() == tok.get_vocab()


@pytest.mark.parametrize("cfg", [MICRO, ModelConfig(hidden_size=96, num_layers=3, num_heads=6, num_kv_heads=2,
                                                     intermediate_size=200, tie_word_embeddings=False)])
def test_param_count_from_config_matches_the_model(cfg, tok):
    model = build_model(cfg, tok, seed=0)
    assert count_params(model) == cfg.n_params(len(tok))
    assert model.config.vocab_size == len(tok) and model.config.eos_token_id == tok.eos_token_id


def test_model_init_is_seeded(tok):
    a, b, c = (build_model(MICRO, tok, seed=s) for s in (1, 1, 2))
    wa, wb, wc = (m.model.layers[0].mlp.up_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_model_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"^ModelConfig\.num_heads: must divide hidden_size \(got 3\)"):
        ModelConfig(hidden_size=64, num_heads=3)
    with pytest.raises(ConfigError, match=r"PretrainConfig\.lr"):
        PretrainConfig(lr=0.0)


def test_entropy_of_a_random_model_is_near_uniform(world, tok):
    """At init (std 0.02 weights) the next-token distribution is almost flat: entropy ~ ln(vocab)."""
    model = build_model(MICRO, tok, seed=0)
    tasks = world.split("valid")[:6]
    forced = mean_completion_entropy(model, tok, [t.prompt("lua") for t in tasks], [t.solution("lua") for t in tasks])
    assert abs(forced - math.log(len(tok))) < 0.05
    greedy = mean_completion_entropy(model, tok, [t.prompt("lua") for t in tasks[:2]], max_new_tokens=4)
    assert abs(greedy - math.log(len(tok))) < 0.05


def test_pack_keeps_documents_whole():
    docs = [[1, 5, 5, 2], [1, 6, 6, 6, 2], [1, 7, 2], [1] + [8] * 10 + [2]]
    rows, cut = pack(docs, row_len=8, pad_id=0, window=1)
    assert rows == [[1, 5, 5, 2, 0, 0, 0, 0], [1, 6, 6, 6, 2, 1, 7, 2], [1, 8, 8, 8, 8, 8, 8, 8]] and cut == 1
    rows, cut = pack(docs, row_len=8, pad_id=0, window=4)   # the short document fills the first row's gap
    assert rows == [[1, 5, 5, 2, 1, 7, 2, 0], [1, 6, 6, 6, 2, 0, 0, 0], [1, 8, 8, 8, 8, 8, 8, 8]] and cut == 1


def test_pack_fills_rows_with_world_documents(world, tok):
    docs = [x + [tok.eos_token_id] for x in tok([t.document("python") for t in world.split("train")]).input_ids]
    rows, _ = pack(docs, row_len=257, pad_id=tok.pad_token_id)
    assert sorted(map(len, docs)) == sorted(map(len, _split_docs(rows, tok)))   # every document, whole
    sequential, _ = pack(docs, row_len=257, pad_id=tok.pad_token_id, window=1)
    assert len(rows) / len(sequential) < 0.9                                    # ~80% -> ~93% full here


def _split_docs(rows, tok):
    out = []
    for r in rows:
        r = [x for x in r if x != tok.pad_token_id]
        starts = [i for i, x in enumerate(r) if x == tok.bos_token_id] + [len(r)]
        out += [r[a:b] for a, b in zip(starts, starts[1:])]
    return out


def test_pretraining_a_micro_model_lowers_the_loss_and_saves_it(world, tok, tmp_path):
    """1 thread: the test is about learning, and 2 threads are several times slower on shared cores."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    cfg = PretrainConfig(max_steps=24, batch_size=8, seq_len=128, lr=3e-3, warmup_steps=4, log_every=4, valid_tasks=8)
    texts = pretrain_texts(world, cfg, seed=0)
    valid = {"python": [t.document("python") for t in world.split("valid")[:8]]}
    events = []
    model = pretrain(MICRO, tok, texts, cfg, out_dir=tmp_path, progress=False, log=events.append,
                     runtime=RuntimeConfig(threads=1, bf16_autocast=True), valid=valid)
    steps = [e for e in events if e["event"] == "pretrain_step"]
    done = events[-1]
    assert done["event"] == "pretrain_done" and done["steps"] == 24 and done["tokens_per_s"] > 0
    assert steps[0]["loss"] > math.log(len(tok)) - 0.5          # starts near uniform
    assert steps[-1]["loss"] < steps[0]["loss"] - 1.0           # and learns
    assert done["valid_loss"]["python"] < math.log(len(tok)) - 1.0
    # the saved folder loads without this code and computes the same loss
    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    again_tok = AutoTokenizer.from_pretrained(tmp_path)
    assert abs(document_loss(again, again_tok, valid["python"]) - done["valid_loss"]["python"]) < 1e-3
    assert document_loss(model, tok, valid["python"]) == pytest.approx(done["valid_loss"]["python"], abs=1e-3)


@pytest.mark.slow
def test_pretraining_is_deterministic_given_the_seed(world, tok):
    cfg = PretrainConfig(max_steps=6, batch_size=4, seq_len=128, log_every=6, valid_tasks=0)
    texts = pretrain_texts(world, cfg, seed=0)
    runs = []
    for seed in (3, 3, 4):
        events = []
        pretrain(MICRO, tok, texts, cfg, progress=False, log=events.append, runtime=RuntimeConfig(threads=1, seed=seed))
        runs.append(events[-1]["final_loss"])
    assert runs[0] == runs[1] != runs[2]
