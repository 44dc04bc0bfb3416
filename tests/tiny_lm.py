"""Test helper: a tiny random LlamaForCausalLM and a ByteLevel BPE tokenizer trained on world documents.

Written here so that the generation, evaluation and GRPO tests do not depend on `train/tokenizer.py`
and `train/model.py` (another engineer's modules). The tokenizer follows the world's contract: ByteLevel
pre-tokenisation, so prompts end on a token boundary. Building both takes about a second.
"""
from __future__ import annotations

from functools import lru_cache

BOS, EOS, PAD = "<|bos|>", "<|endoftext|>", "<|pad|>"


def world(n_tasks: int = 200, seed: int = 0):
    from evals.world import World, WorldConfig
    return World(WorldConfig(seed=seed, n_tasks=n_tasks))


@lru_cache(maxsize=4)
def tokenizer(vocab_size: int = 1024, n_tasks: int = 200, pad_is_eos: bool = False):
    """A PreTrainedTokenizerFast that prepends BOS (like `train/tokenizer.py`), with EOS and a distinct
    PAD unless `pad_is_eos`, trained on every task of a small world in every language."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from evals.world import LANGS
    w = world(n_tasks)
    docs = [t.document(lang) for t in w.tasks for lang in LANGS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(docs, trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                       special_tokens=[(BOS, tok.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=EOS if pad_is_eos else PAD)


def model(tok, hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0, intermediate: int | None = None):
    """A random LlamaForCausalLM sized for tests (about 0.2M parameters at the defaults)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate or hidden * 2,
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      max_position_embeddings=1024, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      bos_token_id=tok.bos_token_id, tie_word_embeddings=True)
    m = LlamaForCausalLM(cfg)
    m.generation_config.pad_token_id = tok.pad_token_id
    m.generation_config.eos_token_id = tok.eos_token_id
    return m.eval()


class OracleLM:
    """A "model" for `train.generation`'s loop engine that runs a real LM's forward pass (so it costs
    what a real model of that size costs) but emits the reference completion of the task whose prompt
    it is given, then EOS: greedy generation through it reproduces `task.solution(lang)` cut by the
    stop rule, so evaluation scores 1.0 and execution runs real passing programs.

    `refs` maps a prompt string to (completion, StopRule). To follow the loop's removal of finished
    rows it precomputes, per row, after how many tokens the loop drops it (same pieces, same rule).
    Greedy, n = 1, loop engine only; one generation at a time per thread.
    """

    def __init__(self, base, tokenizer, refs: dict):
        import torch

        from train.generation import token_pieces
        self.base, self.tok, self.torch = base, tokenizer, torch
        self.pieces = token_pieces(tokenizer)
        self.eos = tokenizer.eos_token_id
        self.by_ids = {}
        for prompt, (completion, rule) in refs.items():
            ids = tuple(tokenizer(prompt)["input_ids"])
            ref = tokenizer(completion, add_special_tokens=False)["input_ids"] + [self.eos]
            text, stop = "", len(ref)
            for k, t in enumerate(ref[:-1], 1):
                text += self.pieces[t]
                if rule.done(text):
                    stop = k
                    break
            self.by_ids[ids] = (ref, stop)
        import threading
        self._state = threading.local()   # rows and step per thread: evaluation generates languages in threads

    rows = property(lambda self: getattr(self._state, "rows", []),
                    lambda self, v: setattr(self._state, "rows", v))
    step = property(lambda self: getattr(self._state, "step", 0),
                    lambda self, v: setattr(self._state, "step", v))

    # what the generation loop touches
    config = property(lambda self: self.base.config)
    generation_config = property(lambda self: self.base.generation_config)
    training = property(lambda self: self.base.training)

    def eval(self):
        self.base.eval()
        return self

    def train(self, mode: bool = True):
        self.base.train(mode)
        return self

    def set_attn_implementation(self, kernel: str):
        self.base.set_attn_implementation(kernel)

    dtype = property(lambda self: self.base.dtype)

    def __deepcopy__(self, memo):  # a copy with its own model; the references are shared, the thread state not
        import copy
        twin = copy.copy(self)
        twin.base = copy.deepcopy(self.base, memo)
        twin._state = type(self._state)()
        return twin

    def to(self, *args, **kwargs):
        self.base = self.base.to(*args, **kwargs)
        return self

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, cache=None, use_cache=None,
                logits_to_keep=0, **kwargs):
        torch = self.torch
        out = self.base(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=cache,
                        use_cache=use_cache, logits_to_keep=logits_to_keep, **kwargs)
        if input_ids.shape[1] > 1:  # prefill
            self.rows = [self.by_ids[tuple(r[m.bool()].tolist())] for r, m in zip(input_ids, attention_mask)]
            self.step = 0
        else:
            self.step += 1
            if len(self.rows) != input_ids.shape[0]:
                self.rows = [r for r in self.rows if r[1] > self.step]
            assert len(self.rows) == input_ids.shape[0], "OracleLM lost track of the rows"
        logits = torch.full((input_ids.shape[0], 1, out.logits.shape[-1]), -1e4)
        want = torch.tensor([ref[min(self.step, len(ref) - 1)] for ref, _ in self.rows], dtype=torch.long)
        logits[torch.arange(len(want)), 0, want] = 1e4   # one indexed write, not one per row (a real LM has none)
        out.logits = logits
        return out


def overfit(model, tok, texts, steps: int = 150, lr: float = 3e-3, seed: int = 0):
    """Plain next-token training on `texts` (prompt + solution + EOS) until the model mostly reproduces
    them: a stand-in for an SFT checkpoint whose samples are sometimes right (GRPO needs reward variance)."""
    import torch
    torch.manual_seed(seed)
    enc = tok([t + tok.eos_token for t in texts], padding=True, return_tensors="pt")
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())
