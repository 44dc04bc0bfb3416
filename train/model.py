"""A tiny Llama built from `ModelConfig` (random init, seeded), and the mean token entropy of a model's
completions (how much an RL stage after it has left to explore).

torch and transformers are imported inside the functions, so `ModelConfig` loads without them.
Not for: training (`pretrain.py`, `sft.py`) or generation for evaluation (`generation.py`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import require

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class ModelConfig:
    hidden_size: int = field(default=256, metadata={"help": "Width of the residual stream."})
    num_layers: int = field(default=4, metadata={"help": "Decoder layers."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads (head_dim = hidden_size / num_heads)."})
    num_kv_heads: int = field(default=0, metadata={"help": "Key/value heads for GQA (0: same as num_heads)."})
    intermediate_size: int = field(default=688, metadata={"help": "Width of the SwiGLU MLP (~8/3 x hidden)."})
    max_position_embeddings: int = field(default=512, metadata={
        "help": "Longest sequence (prompt + completion) the model is used with."})
    rope_theta: float = field(default=10000.0, metadata={"help": "RoPE base."})
    tie_word_embeddings: bool = field(default=True, metadata={
        "help": "Share the input embedding and the LM head (saves vocab x hidden parameters)."})
    initializer_range: float = field(default=0.02, metadata={"help": "Std of the normal initialisation."})
    attn_implementation: str = field(default="sdpa", metadata={"help": "'sdpa' or 'eager'."})

    def __post_init__(self):
        for name in ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings"):
            require(self, name, getattr(self, name) >= 1, "must be at least 1")
        require(self, "num_heads", self.hidden_size % self.num_heads == 0, "must divide hidden_size")
        require(self, "num_heads", (self.hidden_size // self.num_heads) % 2 == 0,
                "must leave an even head_dim (RoPE rotates pairs)")
        require(self, "num_kv_heads", self.num_kv_heads >= 0 and self.num_heads % self.kv_heads == 0,
                "must be 0 or divide num_heads")
        require(self, "initializer_range", self.initializer_range > 0, "must be positive")
        require(self, "attn_implementation", self.attn_implementation in ("sdpa", "eager"), "must be 'sdpa' or 'eager'")

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    def n_params(self, vocab_size: int) -> int:
        """Parameter count of the model this config builds (Llama without biases)."""
        h, i = self.hidden_size, self.intermediate_size
        kv = self.kv_heads * (h // self.num_heads)
        attn = h * h + 2 * h * kv + h * h
        layer = attn + 3 * h * i + 2 * h
        embed = vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return embed + self.num_layers * layer + h

    def hf_config(self, tokenizer: PreTrainedTokenizerBase):
        from transformers import LlamaConfig
        return LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            num_key_value_heads=self.kv_heads, max_position_embeddings=self.max_position_embeddings,
            rope_theta=self.rope_theta, tie_word_embeddings=self.tie_word_embeddings,
            initializer_range=self.initializer_range, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, use_cache=True)


def build_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase, seed: int) -> LlamaForCausalLM:
    """A randomly initialised `LlamaForCausalLM` whose vocabulary and special ids come from `tokenizer`.
    The same seed gives the same weights; torch's global random state is left untouched."""
    import torch
    from transformers import LlamaForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(cfg.hf_config(tokenizer))
    model.config._attn_implementation = cfg.attn_implementation
    gc = model.generation_config
    gc.bos_token_id, gc.eos_token_id, gc.pad_token_id = (tokenizer.bos_token_id, tokenizer.eos_token_id,
                                                         tokenizer.pad_token_id)
    return model


def count_params(model) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def mean_completion_entropy(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                            completions: Sequence[str] | None = None, *, batch_size: int = 32,
                            max_new_tokens: int = 128) -> float:
    """Mean entropy (nats) of the model's next-token distribution over completion tokens.

    With `completions` (e.g. reference solutions), positions are teacher-forced along them (one forward
    pass per batch; the EOS after each completion counts too). Without, the model decodes greedily from
    each prompt (up to `max_new_tokens` or EOS) and the entropy is taken along its own path. An entropy
    near 0.01 means sampling at temperature 1 returns the same program every time: RL has nothing to
    compare. Runs without gradients, in the model's dtype, on the model's device."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                ps = list(prompts[start:start + batch_size])
                if completions is not None:
                    cs = [c + tokenizer.eos_token for c in completions[start:start + batch_size]]
                    s, n = _teacher_forced_entropy(model, tokenizer, ps, cs, device)
                else:
                    s, n = _greedy_entropy(model, tokenizer, ps, max_new_tokens, device)
                total, count = total + s, count + n
    finally:
        model.train(was_training)
    return total / max(count, 1)


def _entropy(logits):
    import torch
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def _teacher_forced_entropy(model, tok, prompts, completions, device) -> tuple[float, int]:
    import torch
    p_ids = tok(prompts).input_ids
    c_ids = tok(completions, add_special_tokens=False).input_ids
    seqs = [p + c for p, c in zip(p_ids, c_ids)]
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    mask = torch.zeros_like(ids, dtype=torch.bool)   # positions whose next-token distribution is scored
    for row, (p, s) in enumerate(zip(p_ids, seqs)):
        ids[row, :len(s)] = torch.tensor(s)
        attn[row, :len(s)] = 1
        mask[row, len(p) - 1:len(s) - 1] = True
    logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits
    ent = _entropy(logits)[mask.to(device)]
    return float(ent.sum()), int(ent.numel())


def _greedy_entropy(model, tok, prompts, max_new_tokens, device) -> tuple[float, int]:
    import torch
    side = tok.padding_side
    tok.padding_side = "left"
    try:
        enc = tok(prompts, return_tensors="pt", padding=True).to(device)
    finally:
        tok.padding_side = side
    out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, output_scores=True,
                         return_dict_in_generate=True, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    new = out.sequences[:, enc.input_ids.shape[1]:]
    # A row is live at step t until (and including) the step that produced its EOS.
    done_before = torch.cumsum((new == tok.eos_token_id).long(), dim=1) - (new == tok.eos_token_id).long()
    live = done_before == 0
    ent = torch.stack([_entropy(s) for s in out.scores], dim=1)[live]
    return float(ent.sum()), int(ent.numel())
