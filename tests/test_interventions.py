"""Interventions on the residual stream (`probe.interventions`), on tiny random Llamas built here: each edit
does what it claims, in one forward pass and at every step of the generation loop the evaluation uses."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests import tiny_lm

pytest.importorskip("nnsight")


@pytest.fixture(scope="module")
def tok():
    return tiny_lm.tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    return tiny_lm.model(tok, layers=3).requires_grad_(False)


def _inputs(tok):
    return tok(["def f(x):\n    return x", "local function g(a, b)"], padding=True, return_tensors="pt")


def _donor(model, scale=0.3, seed=1):
    """The model with its decoder layers perturbed, embeddings, final norm and head unchanged."""
    donor = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in donor.model.layers.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return donor


class _Hooked:
    """The same edit as a plain torch forward hook on decoder layer `layer` (an independent mechanism)."""

    def __init__(self, model, layer, fn):
        self.handle = model.model.layers[layer].register_forward_hook(lambda mod, args, out: fn(out))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_transplanted_direction_moves_logits_as_computed_by_hand(model, tok):
    from probe.interventions import AddVector, EditedLM
    enc = _inputs(tok)
    v = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(3))
    last = model.config.num_hidden_layers - 1
    with torch.inference_mode():
        plain = model(**enc).logits
        _, got = EditedLM(model, tok)(**enc, read=[last])
        # last layer: the final norm and the unembedding of (h + alpha v), written out
        by_hand = model.lm_head(model.model.norm(got[last] + 0.5 * v))
        edited = EditedLM(model, tok, [AddVector(last, v, 0.5)])(**enc).logits
        assert torch.allclose(edited, by_hand, atol=1e-5)
        assert (edited - plain).abs().max() > 1e-2            # the edit did move the logits
        # a middle layer: against the same edit made by a torch hook
        edited0 = EditedLM(model, tok, [AddVector(0, v, 2.0)])(**enc).logits
        with _Hooked(model, 0, lambda out: out + 2.0 * v):
            hooked = model(**enc).logits
        assert torch.allclose(edited0, hooked, atol=1e-5)
        zero = EditedLM(model, tok, [AddVector(0, v, 0.0)])(**enc).logits
        assert torch.allclose(zero, plain, atol=1e-6)


def test_transplant_applies_at_every_decode_step(model, tok):
    """Greedy generation (the evaluation's loop: KV cache, rows dropped as they finish) with the edit equals
    generation by the model with the same edit as a torch hook, and differs from the unedited model."""
    from probe.interventions import AddVector, EditedLM
    from train.generation import SamplingParams, StopRule, generate
    prompts = [t.prompt("python") for t in tiny_lm.world().split("train")[:6]]
    rules = [StopRule(strings=(s,)) for s in ("e", "a", "(", "x", "\n", "s")]   # rows finish at different steps
    params = SamplingParams(max_new_tokens=20, batch_size=6, threads=1)
    v = 3.0 * torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(4))
    edited = generate(EditedLM(model, tok, [AddVector(1, v, 1.0)]), tok, prompts, rules, params)
    with _Hooked(model, 1, lambda out: out + v):
        hooked = generate(model, tok, prompts, rules, params)
    plain = generate(model, tok, prompts, rules, params)
    assert edited == hooked
    assert edited != plain
    assert len({len(c[0]) for c in edited}) > 1


def test_patching_the_last_layer_reproduces_the_donor(model, tok):
    from probe.interventions import EditedLM, Patch
    from train.generation import SamplingParams, StopRule, generate
    donor = _donor(model)
    last = model.config.num_hidden_layers - 1
    enc = _inputs(tok)
    with torch.inference_mode():
        want = donor(**enc).logits
        assert torch.allclose(EditedLM(model, tok, [Patch(last, donor)])(**enc).logits, want, atol=1e-5)
        every = [Patch(L, donor) for L in range(last + 1)]
        assert torch.allclose(EditedLM(model, tok, every)(**enc).logits, want, atol=1e-5)
        first = EditedLM(model, tok, [Patch(0, donor)])(**enc).logits   # one early layer: neither model
        assert (first - want).abs().max() > 1e-3 and (first - model(**enc).logits).abs().max() > 1e-3
    # during generation: the donor runs on the receiver's prefix with its own cache, rows dropped alike,
    # and n > 1 samples sharing a prefill (the cache's repeat mirrored)
    prompts = [t.prompt("lua") for t in tiny_lm.world().split("train")[:6]]
    rules = [StopRule(strings=(s,)) for s in ("e", "a", "(", "x", "\n", "s")]
    for params in (SamplingParams(max_new_tokens=20, batch_size=6, threads=1),
                   SamplingParams(max_new_tokens=12, batch_size=12, threads=1, temperature=1.0, n=2, seed=5)):
        patched = generate(EditedLM(model, tok, [Patch(last, donor)]), tok, prompts, rules, params)
        assert patched == generate(donor, tok, prompts, rules, params)
        assert patched != generate(model, tok, prompts, rules, params)


def test_patching_works_on_a_lora_model(model, tok):
    """A PEFT (LoRA) receiver is edited at the same site; patching its last layer gives the donor's logits."""
    peft = pytest.importorskip("peft")
    lora = peft.get_peft_model(copy.deepcopy(model), peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                                     init_lora_weights=False)).eval()
    from probe.interventions import EditedLM, Patch
    enc = _inputs(tok)
    last = model.config.num_hidden_layers - 1
    with torch.inference_mode():
        assert (lora(**enc).logits - model(**enc).logits).abs().max() > 1e-4
        patched = EditedLM(lora, tok, [Patch(last, model)])(**enc).logits
        assert torch.allclose(patched, model(**enc).logits, atol=1e-5)


def test_mean_difference_is_the_per_token_mean_of_the_two_models_residuals(model, tok):
    from probe.interventions import mean_difference, random_direction
    donor = _donor(model, scale=0.1)
    texts = ["def f(x):\n    return x", "local function g(a, b)", "sub h { return 1; }"]
    got = mean_difference(donor, model, tok, texts, [0, 1])
    per_text = []
    with torch.inference_mode():
        for t in texts:
            ids = tok(t, return_tensors="pt")
            ha = donor(**ids, output_hidden_states=True).hidden_states
            hb = model(**ids, output_hidden_states=True).hidden_states
            per_text.append([(ha[L + 1][0, 1:] - hb[L + 1][0, 1:]).mean(0).numpy() for L in (0, 1)])  # BOS left out
    for k, L in enumerate((0, 1)):
        want = np.mean([p[k] for p in per_text], axis=0)
        np.testing.assert_allclose(got[L]["vector"], want, atol=1e-5)
        assert got[L]["norm"] == pytest.approx(float(np.linalg.norm(want)), rel=1e-5)
    r = random_direction(got[0]["vector"], seed=7)
    assert np.linalg.norm(r) == pytest.approx(got[0]["norm"], rel=1e-5)
    assert np.array_equal(r, random_direction(got[0]["vector"], seed=7))
    assert abs(float(r @ got[0]["vector"])) < 0.9 * got[0]["norm"] ** 2


def test_after_erasure_no_linear_probe_decodes_the_language(model, tok):
    """A LEACE eraser fitted on the tokens of programs in three languages at layer 0, applied inside the
    model: a linear probe (grouped by task) decodes the language well above chance before, at chance after."""
    from probe.clustering import decode_language
    from probe.interventions import Erase, activations, class_mean_gap, fit_eraser
    from probe.programs import world_programs
    rows = world_programs(tiny_lm.world(), "train", ["python", "lua", "ruby"], 30)
    texts = [r.code for r in rows]
    acts, owner = activations(model, tok, texts, [0])
    labels = np.array([rows[i].lang for i in owner])
    tasks = np.array([rows[i].task_id for i in owner])
    eraser, classes = fit_eraser(acts[0], labels)
    assert classes == ["lua", "python", "ruby"]
    after, owner_after = activations(model, tok, texts, [0], edits=[Erase(0, eraser)])
    assert np.array_equal(owner, owner_after)
    chance = np.unique(labels, return_counts=True)[1].max() / len(labels)   # the majority class
    before_acc = decode_language(acts[0], labels, tasks).mean()
    after_acc = decode_language(after[0], labels, tasks).mean()
    assert before_acc > chance + 0.1
    assert after_acc <= chance + 0.02
    assert class_mean_gap(acts[0], labels) > 0.05
    assert class_mean_gap(after[0], labels) < 1e-4


def test_an_edit_at_a_layer_the_model_does_not_have_is_refused(model, tok):
    from probe.interventions import AddVector, EditedLM
    with pytest.raises(ValueError, match="decoder layers"):
        EditedLM(model, tok, [AddVector(7, torch.zeros(model.config.hidden_size))])


def test_an_eraser_fitted_on_the_cpu_follows_the_residual_to_its_device():
    """A model on a GPU gets the CPU-fitted eraser's tensors on its own device, moved once; the `meta` device
    stands in for a GPU here (tensors of shape only, on a device other than the eraser's)."""
    from probe.interventions import Erase, fit_eraser
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    eraser, _ = fit_eraser(X, ["a", "b", "c"] * 20)
    edit = Erase(0, eraser)
    h = torch.as_tensor(X[:4])
    assert torch.allclose(edit.new(h), eraser(h))            # on the eraser's own device: the eraser itself
    assert edit.on(h.device) is eraser
    far = torch.empty(4, 8, device="meta")
    out = edit.new(far)
    assert out.device.type == "meta" and out.shape == far.shape
    moved = edit.on(far.device)
    assert moved.proj_left.device.type == "meta" and moved is edit.on(far.device)
