"""Residual-stream activations of a causal LM over a set of programs, pooled per program.

>>> acts = capture(model, tokenizer, ["def f(x):\\n    return x\\n"], poolings=("mean", "last"))  # doctest: +SKIP
>>> acts.pooled["mean"]["blocks.0.hook_resid_post"].shape                                      # doctest: +SKIP
(1, 64)

Hooks are named like TransformerLens: `hook_embed` (the token embeddings, what the first decoder
layer reads) and `blocks.{L}.hook_resid_post` (the output of decoder layer L, before any final norm:
HF's `output_hidden_states[L + 1]` except for the last layer, where HF applies the final norm).

One nnsight trace per batch (programs sorted by length so that batches carry little padding), pooling
done inside the trace so that only [batch, d] tensors leave it: `mean` over the program's tokens
(attention mask on, special tokens such as BOS off) and `last` (its last such token, wherever the
padding is). Position ids follow the attention mask, so a row's activations do not depend on the
padding side or on its batch neighbours. Works for a plain HF model and for a PEFT (LoRA) model.
Not for: choosing programs (`programs.py`) or writing files (`app/`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

POOLINGS = ("mean", "last")
EMBED = "hook_embed"
_BLOCK = re.compile(r"^blocks\.(\d+)\.hook_resid_post$")


def hook_names(n_layers: int) -> list[str]:
    return [EMBED] + [f"blocks.{i}.hook_resid_post" for i in range(n_layers)]


def hook_index(name: str) -> int:
    """-1 for `hook_embed`, L for `blocks.L.hook_resid_post`."""
    if name == EMBED:
        return -1
    m = _BLOCK.match(name)
    if not m:
        raise ValueError(f"not a hook name: {name!r}")
    return int(m.group(1))


def resolve_layers(spec: Sequence[str] | str | None, n_layers: int) -> list[str]:
    """Hook names for a layer spec: None, "all" or () for every hook; else items among "embed",
    `hook_embed`, a block index (negative counts from the end) or a hook name. Sorted, deduplicated."""
    if spec is None or spec == "all" or (not isinstance(spec, str) and len(spec) == 0):
        return hook_names(n_layers)
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if str(x).strip()]
    if items == ["all"]:
        return hook_names(n_layers)
    out = set()
    for item in items:
        item = str(item)
        if item in ("embed", EMBED):
            out.add(-1)
            continue
        try:
            i = int(item)
        except ValueError:
            try:
                i = hook_index(item)
            except ValueError:
                raise ValueError(f"unknown layer {item!r}: use 'embed', a block index in [-{n_layers}, "
                                 f"{n_layers - 1}] or a hook name like blocks.0.hook_resid_post") from None
        if not -n_layers <= i < n_layers:
            raise ValueError(f"unknown layer {item!r}: the model has {n_layers} decoder layers "
                             f"(indices 0..{n_layers - 1})")
        out.add(i % n_layers)
    names = hook_names(n_layers)
    return [names[i + 1] for i in sorted(out)]


@dataclass
class Activations:
    """Pooled activations: `pooled[pooling][hook]` is float32 [n_programs, d], rows in input order."""
    pooled: dict[str, dict[str, np.ndarray]]
    n_tokens: list[int]                         # tokens pooled by `mean` per program
    hooks: list[str] = field(default_factory=list)


def find_modules(model) -> tuple[str, str, int]:
    """(path of the input embedding, path of the decoder-layer list, number of layers) in `model`'s
    module tree, for any HF causal LM, wrapped by PEFT or not."""
    import torch
    config = model.config
    n = getattr(config, "num_hidden_layers", None) or getattr(getattr(config, "text_config", None),
                                                              "num_hidden_layers", None)
    emb = model.get_input_embeddings()
    emb_path = layers_path = None
    for name, mod in model.named_modules():
        if mod is emb and emb_path is None:
            emb_path = name
        if layers_path is None and isinstance(mod, torch.nn.ModuleList) and len(mod) == n:
            layers_path = name
    if emb_path is None or layers_path is None:
        raise ValueError(f"cannot find the embedding and {n} decoder layers in {type(model).__name__}")
    return emb_path, layers_path, n


def _envoy(root, path: str):
    for part in path.split("."):
        root = root[int(part)] if part.isdigit() else getattr(root, part)
    return root


def _tokenize(tokenizer, texts: Sequence[str], max_tokens: int | None):
    enc = tokenizer(list(texts), add_special_tokens=True, return_special_tokens_mask=True,
                    truncation=max_tokens is not None, max_length=max_tokens)
    return enc["input_ids"], enc["special_tokens_mask"]


def _batch(ids: list[list[int]], special: list[list[int]], pad_id: int, side: str):
    """Padded input ids, attention mask, position ids (from the mask) and pooling mask (attended and
    not special; all attended tokens for a program that is only special tokens)."""
    import torch
    width = max(len(x) for x in ids)
    B = len(ids)
    input_ids = torch.full((B, width), pad_id, dtype=torch.long)
    attn = torch.zeros((B, width), dtype=torch.long)
    pool = torch.zeros((B, width), dtype=torch.bool)
    for b, (row, sp) in enumerate(zip(ids, special)):
        n = len(row)
        sl = slice(0, n) if side == "right" else slice(width - n, width)
        input_ids[b, sl] = torch.tensor(row)
        attn[b, sl] = 1
        keep = torch.tensor([not s for s in sp])
        pool[b, sl] = keep if keep.any() else torch.ones(n, dtype=torch.bool)
    pos = (attn.cumsum(1) - 1).clamp(min=0)
    return input_ids, attn, pos, pool


def _pool(h, poolings: Sequence[str], weights, rows, last) -> list:
    """[B, T, d] hidden states -> one float32 [B, d] per pooling (mean with `weights`, or at `last`)."""
    import torch
    h = h[0] if isinstance(h, tuple) else h
    return [torch.einsum("bt,btd->bd", weights, h.float()) if p == "mean" else h[rows, last].float()
            for p in poolings]


def capture(model, tokenizer, texts: Sequence[str], layers: Sequence[str] | str | None = None,
            poolings: Sequence[str] = POOLINGS, batch_size: int = 16, max_tokens: int | None = None,
            padding_side: str | None = None, progress: bool = False) -> Activations:
    """Pooled residual-stream activations of `model` (an HF causal LM, or a PEFT model around one) on
    `texts`, at the hooks `layers` names (see `resolve_layers`), one nnsight trace per batch."""

    import nnsight
    import torch

    bad = [p for p in poolings if p not in POOLINGS]
    if bad or not poolings:
        raise ValueError(f"unknown pooling {bad or poolings}; known: {', '.join(POOLINGS)}")
    side = padding_side or getattr(tokenizer, "padding_side", "right") or "right"
    if side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
    emb_path, layers_path, n = find_modules(model)
    hooks = resolve_layers(layers, n)
    wanted = [hook_index(h) for h in hooks]
    last_needed = max(wanted)
    out = {p: {h: [] for h in hooks} for p in poolings}
    if not texts:
        return Activations({p: {h: np.zeros((0, model.config.hidden_size), np.float32) for h in hooks}
                            for p in poolings}, [], hooks)

    ids, special = _tokenize(tokenizer, texts, max_tokens)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    lm = nnsight_model(model, tokenizer)
    emb_env, layers_env = _envoy(lm, emb_path), _envoy(lm, layers_path)
    device = next(model.parameters()).device

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(ids), desc="capture", unit="prog")
    n_tokens = [0] * len(ids)
    chunks: list[list[int]] = []
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        input_ids, attn, pos, pool = _batch([ids[i] for i in rows], [special[i] for i in rows], pad_id, side)
        input_ids, attn, pos, pool = (t.to(device) for t in (input_ids, attn, pos, pool))
        weights = pool.float() / pool.sum(1, keepdim=True).float()            # [B, T] mean-pool weights
        last = torch.where(pool, torch.arange(pool.shape[1], device=device), -1).max(1).values
        arange = torch.arange(len(rows), device=device)

        with torch.no_grad(), lm.trace(input_ids=input_ids, attention_mask=attn, position_ids=pos) as tracer:
            got = []
            if -1 in wanted:
                got.append(_pool(emb_env.output, poolings, weights, arange, last))
            for i in range(last_needed + 1):
                if i in wanted:
                    got.append(_pool(layers_env[i].output, poolings, weights, arange, last))
            got = nnsight.save(got)
            tracer.stop()  # nothing after the last hook is needed (later layers, final norm, LM head)
        for h, per_pool in zip(hooks, got):
            for p, t in zip(poolings, per_pool):
                out[p][h].append(t.cpu().numpy())
        for b, i in enumerate(rows):
            n_tokens[i] = int(pool[b].sum())
        chunks.append(rows)
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    inverse = np.argsort(np.concatenate(chunks))
    pooled_arrays = {p: {h: np.ascontiguousarray(np.concatenate(v)[inverse], dtype=np.float32)
                         for h, v in per_hook.items()} for p, per_hook in out.items()}
    return Activations(pooled_arrays, n_tokens, hooks)


def load_model(path, device: str = "cpu", dtype: str = "float32"):
    """(model, tokenizer) from an HF folder: a full checkpoint, or a PEFT adapter folder
    (`adapter_config.json`) whose base model the adapter config names. Eval mode, no gradients."""
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    torch_dtype = getattr(torch, dtype)
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM
        model = AutoPeftModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    model = model.to(device).eval()
    model.requires_grad_(False)
    tok = AutoTokenizer.from_pretrained(path)
    return model, tok


def nnsight_model(model, tokenizer):
    """nnsight's TransformersModel around `model`, with a copy of `tokenizer` (nnsight adopts the tokenizer it
    is given: it sets padding side and pad token) and transformers' PEFT-wrapper warnings silenced."""
    import copy

    from nnsight import TransformersModel
    from transformers.utils import logging as hf_logging
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the text-generation pipeline complains about PEFT wrappers
    try:
        return TransformersModel(model, tokenizer=copy.deepcopy(tokenizer))
    finally:
        hf_logging.set_verbosity(verbosity)
