"""`EditedLM`: a causal LM whose every forward pass runs as an nnsight trace with edits at
`blocks.{L}.hook_resid_post`, usable wherever the model was: by a generation loop (every prefill and
every decode step is edited), for logits, or for activations (`activations`).

    edited = EditedLM(sft_model, tokenizer, [AddVector(2, delta, alpha=1.0)])
    edited(input_ids=ids, attention_mask=mask).logits          # one edited forward
    train.generation.generate(edited, tok, prompts, rules)      # edited greedy decoding (wired in app/)

It exposes what a decode loop touches (`config`, `generation_config`, `device`, `dtype`, `eval`,
`forward(input_ids, attention_mask, position_ids, cache, use_cache, logits_to_keep)`), and forwards
everything to the wrapped model. Edits at several layers apply in layer order, in one trace.

Patching during decoding, and how positions are matched. A `Patch` edit's donor model is run on the
*same input ids* as the edited (receiving) model at every call: the prompt at prefill, then at each
step the token the edited model itself chose. So the donor is teacher-forced on the receiver's prefix,
and the residual that replaces the receiver's at position t is the donor's at position t of the same
token sequence; the receiver's own generated tokens decide the continuation. The donor keeps its own
KV cache, a companion of the receiver's: the loop's `batch_select_indices` (rows dropped when they
finish) and `batch_repeat_interleave` (samples sharing a prefill) are mirrored onto it, so the two
caches always hold the same rows. The donor's trace stops after the last patched layer (its later
layers are never needed, and their cache stays empty).

Works for a plain HF model and for a PEFT (LoRA) model around one (`probe.capture.find_modules`).
Thread safety: one generation at a time per `EditedLM` (evaluate languages one after the other).
It is not a `GenerationMixin`: drive it with a decode loop that calls its forward and passes its own cache
(`train.generation`'s default `engine="loop"`), not with `model.generate`.
Not for: choosing edits (`directions.py`, `erasure.py`), or scoring (`app/`).
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np

from ..capture import find_modules


def _envoy(root, path: str):
    for part in path.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def _wrap(model, tokenizer):
    """(nnsight TransformersModel around `model`, the envoy of its decoder-layer list, number of layers)."""
    from ..capture import nnsight_model
    _, layers_path, n = find_modules(model)
    lm = nnsight_model(model, tokenizer)
    return lm, _envoy(lm, layers_path), n


def _cache_kwarg(model) -> str:
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class EditedLM:
    """`model` with `edits` (see the module docstring)."""

    def __init__(self, model, tokenizer, edits: Sequence = ()):
        self.model = model
        self.edits = sorted(edits, key=lambda e: e.layer)
        self._lm, self._layers, self.n_layers = _wrap(model, tokenizer)
        for e in self.edits:
            if not 0 <= e.layer < self.n_layers:
                raise ValueError(f"edit at layer {e.layer}: the model has {self.n_layers} decoder layers "
                                 f"(0..{self.n_layers - 1})")
        if len({e.layer for e in self.edits}) != len(self.edits):
            raise ValueError("at most one edit per layer")
        self._donors = []          # (donor model, its nnsight wrapper, its layer envoy, [patched layers])
        for e in self.edits:
            if e.kind == "patch":
                for d in self._donors:
                    if d[0] is e.donor:
                        d[3].append(e.layer)
                        break
                else:
                    lm, env, n = _wrap(e.donor, tokenizer)
                    if n != self.n_layers:
                        raise ValueError(f"the donor has {n} decoder layers, the model {self.n_layers}")
                    self._donors.append((e.donor, lm, env, [e.layer]))
        self._kw = _cache_kwarg(model)

    # ---- what a decode loop touches --------------------------------------------------------------
    config = property(lambda self: self.model.config)
    generation_config = property(lambda self: self.model.generation_config)
    training = property(lambda self: self.model.training)
    device = property(lambda self: next(self.model.parameters()).device)
    dtype = property(lambda self: next(self.model.parameters()).dtype)

    def eval(self):
        self.model.eval()
        for d in self._donors:
            d[0].eval()
        return self

    def train(self, mode: bool = True):   # an edited model is for inference; keep the interface
        self.model.train(mode)
        return self

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _companion(self, cache, k: int, donor):
        """The donor's KV cache that follows `cache`'s rows (see the module docstring)."""
        comps = getattr(cache, "_psft_companions", None)
        if comps is None:
            comps = {}
            select, repeat = cache.batch_select_indices, cache.batch_repeat_interleave

            def batch_select_indices(indices):
                select(indices)
                for c in comps.values():
                    c.batch_select_indices(indices)

            def batch_repeat_interleave(repeats):
                repeat(repeats)
                for c in comps.values():
                    c.batch_repeat_interleave(repeats)
            cache.batch_select_indices = batch_select_indices
            cache.batch_repeat_interleave = batch_repeat_interleave
            cache._psft_companions = comps
        if k not in comps:
            from transformers import DynamicCache
            comps[k] = DynamicCache(config=donor.config)
        return comps[k]

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, past_key_values=None,
                use_cache=None, logits_to_keep=0, read: Sequence[int] = (), **kwargs):
        """The model's forward with the edits. `read`: layers whose (edited) residual to return as well;
        then the result is (output, {layer: [B, T, d] tensor}), and the trace stops after the last layer read
        when no logits are needed (`logits_to_keep=None`)."""
        import nnsight
        cache = cache if cache is not None else past_key_values
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids,
                  "use_cache": use_cache, **kwargs}
        inputs = {k: v for k, v in inputs.items() if v is not None}
        want_logits = logits_to_keep is not None
        if want_logits:
            inputs["logits_to_keep"] = logits_to_keep
        donor_h: dict[int, object] = {}
        for k, (donor, lm, env, layers) in enumerate(self._donors):
            dkw = dict(inputs)
            dkw.pop("logits_to_keep", None)
            if cache is not None:
                dkw[_cache_kwarg(donor)] = self._companion(cache, k, donor)
            with lm.trace(**dkw) as tracer:
                got = nnsight.save([env[L].output for L in sorted(layers)])
                tracer.stop()
            donor_h.update(zip(sorted(layers), got))
        if cache is not None:
            inputs[self._kw] = cache
        by_layer = {e.layer: e for e in self.edits}
        read = sorted(set(read))
        sites = sorted(set(by_layer) | set(read))
        last = max(sites, default=-1)
        env = self._layers
        with self._lm.trace(**inputs) as tracer:
            saved = []
            for L in sites:
                if L in by_layer:
                    env[L].output = by_layer[L].new(env[L].output, donor_h.get(L))
                if L in read:
                    saved.append(env[L].output)
            saved = nnsight.save(saved)
            if want_logits:
                out = nnsight.save(self._lm.output)
            elif last >= 0:
                tracer.stop()
        out = out if want_logits else None
        return (out, dict(zip(read, saved))) if read else out


def activations(model, tokenizer, texts: Sequence[str], layers: Sequence[int], edits: Sequence = (),
                batch_size: int = 16, max_tokens: int | None = 512):
    """Token-level residuals of `model` (under `edits`) on `texts` at `layers`: ({layer: float32 [N, d]},
    program index [N]) over every attended, non-special token (BOS left out, as `probe.capture` pools).
    A program's mean-pooled vector is the mean of its rows."""
    import torch
    edited = model if isinstance(model, EditedLM) else EditedLM(model, tokenizer, edits)
    device = edited.device
    enc = tokenizer(list(texts), add_special_tokens=True, return_special_tokens_mask=True,
                    truncation=max_tokens is not None, max_length=max_tokens)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    out = {L: [] for L in layers}
    owner = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = range(start, min(start + batch_size, len(texts)))
            width = max(len(enc["input_ids"][i]) for i in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            keep = torch.zeros((len(rows), width), dtype=torch.bool)
            for b, i in enumerate(rows):
                row, sp = enc["input_ids"][i], enc["special_tokens_mask"][i]
                ids[b, :len(row)] = torch.tensor(row)
                mask[b, :len(row)] = 1
                k = torch.tensor([not s for s in sp])
                keep[b, :len(row)] = k if k.any() else torch.ones(len(row), dtype=torch.bool)
            pos = (mask.cumsum(1) - 1).clamp(min=0)
            _, got = edited(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=pos.to(device),
                            use_cache=False, logits_to_keep=None, read=layers)
            for L in layers:
                out[L].append(got[L][keep.to(device)].float().cpu().numpy())
            owner.append(np.repeat(np.array(list(rows)), keep.sum(1).numpy()))
    return {L: np.concatenate(v) for L, v in out.items()}, np.concatenate(owner)


def pooled(tokens: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Mean over each program's rows: [n, d] (float32)."""
    sums = np.zeros((n, tokens.shape[1]), np.float64)
    np.add.at(sums, owner, tokens)
    counts = np.bincount(owner, minlength=n)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)
