"""nnsight capture against a plain HF forward with `output_hidden_states=True`, for mean and last
pooling, left and right padding, plain and LoRA models."""
from __future__ import annotations

import numpy as np
import pytest

from tests import tiny_lm

torch = pytest.importorskip("torch")

TEXTS = ["def f(xs):\n    return [x * 3 for x in xs]\n", "function g(a, b) { return a + b; }",
         "x", "local function h(n)\n  return n + 1\nend\n", "sub k {\n    my ($s) = @_;\n    return $s;\n}\n"]


@pytest.fixture(scope="module")
def lm():
    torch.set_num_threads(1)
    tok = tiny_lm.tokenizer()
    return tiny_lm.model(tok, layers=3), tok


def reference(model, tok, texts, last_layer_hook=True):
    """Pooled hidden states from one unpadded plain forward per text: mean over non-special tokens
    and the last non-special token. HF applies the final norm to its last hidden state, so the last
    decoder layer's own output comes from a forward hook."""
    layers = model.model.layers if hasattr(model, "model") and hasattr(model.model, "layers") \
        else model.get_base_model().model.layers
    out = {"mean": [], "last": []}
    for t in texts:
        enc = tok(t, return_tensors="pt", return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask")[0].bool()
        got: dict = {}

        def keep_output(module, inputs, output, got=got):
            got["last"] = output[0] if isinstance(output, tuple) else output
        handle = layers[-1].register_forward_hook(keep_output)
        with torch.no_grad():
            hs = list(model(**enc, output_hidden_states=True).hidden_states)
        handle.remove()
        hs[-1] = got["last"]
        keep = ~special
        out["mean"].append([h[0, keep].mean(0).numpy() for h in hs])
        out["last"].append([h[0, keep.nonzero().max()].numpy() for h in hs])
    return {p: [np.stack([row[k] for row in v]) for k in range(len(v[0]))] for p, v in out.items()}


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("batch_size", [2, 16])
def test_capture_equals_plain_forward_hidden_states(lm, side, batch_size):
    from probe.capture import capture
    model, tok = lm
    acts = capture(model, tok, TEXTS, batch_size=batch_size, padding_side=side)
    ref = reference(model, tok, TEXTS)
    assert acts.hooks == ["hook_embed"] + [f"blocks.{i}.hook_resid_post" for i in range(3)]
    for pooling in ("mean", "last"):
        for k, hook in enumerate(acts.hooks):
            got = acts.pooled[pooling][hook]
            assert got.dtype == np.float32 and got.shape == (len(TEXTS), 64)
            np.testing.assert_allclose(got, ref[pooling][k], atol=2e-5, err_msg=f"{pooling} {hook} {side}")
    assert acts.n_tokens == [len(tok(t)["input_ids"]) - 1 for t in TEXTS]      # BOS is not pooled


def test_capture_equals_a_batched_plain_forward_with_the_same_padding(lm):
    """The same comparison against HF's own batched forward (left padding, positions from the mask)."""
    from probe.capture import capture
    model, tok = lm
    enc = tok(TEXTS, return_tensors="pt", padding=True, padding_side="left", return_special_tokens_mask=True)
    special = enc.pop("special_tokens_mask").bool()
    pos = (enc["attention_mask"].cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        hs = model(**enc, position_ids=pos, output_hidden_states=True).hidden_states
    keep = enc["attention_mask"].bool() & ~special
    acts = capture(model, tok, TEXTS, layers="embed,0,1", padding_side="left")
    for k, hook in enumerate(acts.hooks):
        want_mean = torch.stack([hs[k][b, keep[b]].mean(0) for b in range(len(TEXTS))]).numpy()
        want_last = hs[k][:, -1].numpy()     # left padding: the last column is every row's last token
        np.testing.assert_allclose(acts.pooled["mean"][hook], want_mean, atol=2e-5)
        np.testing.assert_allclose(acts.pooled["last"][hook], want_last, atol=2e-5)


def test_capture_on_a_lora_model_sees_the_adapter(lm):
    from peft import LoraConfig, get_peft_model

    from probe.capture import capture
    model, tok = lm
    base = capture(model, tok, TEXTS[:3], layers="-1")
    torch.manual_seed(0)
    peft_model = get_peft_model(tiny_lm.model(tok, layers=3), LoraConfig(
        r=4, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)).eval()
    acts = capture(peft_model, tok, TEXTS[:3], layers="-1")
    ref = reference(peft_model, tok, TEXTS[:3])
    hook = "blocks.2.hook_resid_post"
    assert acts.hooks == [hook]
    np.testing.assert_allclose(acts.pooled["mean"][hook], ref["mean"][-1], atol=2e-5)
    np.testing.assert_allclose(acts.pooled["last"][hook], ref["last"][-1], atol=2e-5)
    assert np.abs(acts.pooled["mean"][hook] - base.pooled["mean"][hook]).max() > 1e-3


def test_capture_keeps_input_order_and_leaves_the_tokenizer_alone(lm):
    from probe.capture import capture
    model, tok = lm
    side, pad = tok.padding_side, tok.pad_token
    a = capture(model, tok, TEXTS, batch_size=2, poolings=("mean",))
    b = capture(model, tok, TEXTS[::-1], batch_size=3, poolings=("mean",))
    for hook in a.hooks:
        np.testing.assert_allclose(a.pooled["mean"][hook], b.pooled["mean"][hook][::-1], atol=1e-5)
    assert (tok.padding_side, tok.pad_token) == (side, pad)
    assert set(a.pooled) == {"mean"}


def test_layer_specs_and_bad_layers():
    from probe.capture import resolve_layers
    assert resolve_layers(None, 3) == resolve_layers("all", 3) == resolve_layers((), 3)
    assert resolve_layers("embed,-1,0", 3) == ["hook_embed", "blocks.0.hook_resid_post", "blocks.2.hook_resid_post"]
    assert resolve_layers(["blocks.1.hook_resid_post", "1"], 3) == ["blocks.1.hook_resid_post"]
    for bad in ("3", "-4", "blocks.7.hook_resid_post", "attn"):
        with pytest.raises(ValueError, match="unknown layer"):
            resolve_layers(bad, 3)


def test_bad_pooling_is_refused(lm):
    from probe.capture import capture
    model, tok = lm
    with pytest.raises(ValueError, match="pooling"):
        capture(model, tok, TEXTS, poolings=("max",))
