"""The `align` arm's auxiliary loss: alignment induced in training, to test whether alignment causes transfer.

The `align` arm trains on the `multi` arm's data (different tasks per language, no parallel generation
examples, the same supervised budget) and adds, at every optimizer step, a contrastive loss on parallel
pairs: the same task's program in two languages (tag line, signature and body; no description, whose
English text is the same in every language and would align the pair by itself). Each side is mean-pooled
over its tokens at one layer's residual stream (`blocks.{L}.hook_resid_post`: `hidden_states[L + 1]` of a
transformers causal LM), L2-normalised, and the pairs of a batch are scored by symmetric InfoNCE (each
program must pick its translation among the batch's other programs in the other language, at temperature
`align_temperature`). The total loss is `lm_loss + align_weight * infonce`. The pairs are seen only
through this loss: no token of them is a generation target.

If the paper's explanation holds (parallel data aligns the languages, and alignment carries RL's gain
across them), `align` transfers more than `multi`; if its gain needs parallel *generation* data, it does
not. Its probes must show the alignment it was trained for, against the lexical baseline.

`align_pairs(tasks, langs, n, seed)` draws the pairs; `AlignLoss` computes the loss for one batch;
`with_alignment(trainer_cls)` makes a trl trainer class that adds it. Not for: building the LM data
(`mixtures.py`) or running SFT (`sft.py`).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


def _program(task, lang: str) -> str:
    try:
        head = task.prompt(lang, describe=False)
    except TypeError:        # a benchmark task: its prompt is its code, shown as it is
        head = task.prompt(lang)
    return head + task.solution(lang)


def align_pairs(tasks: Sequence, langs: Sequence[str], n: int, seed: int) -> list[tuple[str, str, str, str, str]]:
    """`n` (task id, lang a, lang b, program a, program b) pairs: the first `n` of `tasks` (in their order),
    each with two different languages of `langs` drawn with `seed`."""
    if len(langs) < 2:
        raise ValueError(f"align pairs need two languages, got {list(langs)}")
    if n > len(tasks):
        raise ValueError(f"SFTStageConfig.align_tasks: {n} pairs asked, {len(tasks)} tasks to draw from")
    rng = random.Random(f"align-{seed}")
    out = []
    for task in tasks[:n]:
        a, b = rng.sample(list(langs), 2)
        out.append((task.id, a, b, _program(task, a), _program(task, b)))
    return out


@dataclass
class AlignLoss:
    """Symmetric InfoNCE between the pooled layer-`layer` states of two lists of programs (row i of each
    is one task). `layer` counts blocks from 0; -1 = the middle block."""
    tokenizer: object
    layer: int = -1
    temperature: float = 0.1
    max_length: int = 256

    def block(self, model) -> int:
        n = model.config.num_hidden_layers
        return n // 2 if self.layer < 0 else self.layer

    def pooled(self, model, texts: Sequence[str]):
        import torch
        enc = self.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True,
                             max_length=self.max_length, add_special_tokens=False)
        device = next(model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True,
                    use_cache=False)
        h = out.hidden_states[self.block(model) + 1]            # blocks.{L}.hook_resid_post
        mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)

    def __call__(self, model, a: Sequence[str], b: Sequence[str]):
        import torch
        za, zb = self.pooled(model, a), self.pooled(model, b)
        logits = za @ zb.T / self.temperature
        target = torch.arange(len(a), device=logits.device)
        return (torch.nn.functional.cross_entropy(logits, target) +
                torch.nn.functional.cross_entropy(logits.T, target)) / 2


def with_alignment(trainer_cls):
    """A subclass of the trl trainer class `trainer_cls` whose loss adds `weight * AlignLoss` on a batch of
    `per_step` pairs at every step (batches drawn in a seeded order; pass `align_pairs`, `align_loss`,
    `align_weight`, `align_per_step`, `align_seed` as keyword arguments). The last values are logged as
    `align_loss` beside trl's own logs."""

    class AlignTrainer(trainer_cls):
        def __init__(self, *args, align_pairs, align_loss: AlignLoss, align_weight: float, align_per_step: int,
                     align_seed: int = 0, **kwargs):
            super().__init__(*args, **kwargs)
            if len(align_pairs) < 2:
                raise ValueError("the align arm needs at least 2 pairs per batch")
            self._pairs = list(align_pairs)
            self._align, self._weight = align_loss, align_weight
            self._per_step = min(align_per_step, len(self._pairs))
            self._rng = random.Random(f"align-batches-{align_seed}")
            self._order: list[int] = []
            self._last: list[float] = []

        def _batch(self):
            if len(self._order) < self._per_step:
                more = list(range(len(self._pairs)))
                self._rng.shuffle(more)
                self._order += more
            take, self._order = self._order[:self._per_step], self._order[self._per_step:]
            return [self._pairs[i][0] for i in take], [self._pairs[i][1] for i in take]

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                       num_items_in_batch=num_items_in_batch)
            loss, rest = (out[0], out[1:]) if return_outputs else (out, ())
            if model.training and self._weight > 0:
                aux = self._align(model, *self._batch())
                self._last.append(float(aux.detach()))
                loss = loss + self._weight * aux
            return (loss, *rest) if return_outputs else loss

        def log(self, logs, *args, **kwargs):
            if self._last and "loss" in logs:
                logs["align_loss"] = round(sum(self._last) / len(self._last), 4)
                self._last = []
            return super().log(logs, *args, **kwargs)

    AlignTrainer.__name__ = f"Align{trainer_cls.__name__}"
    return AlignTrainer


__all__ = ["AlignLoss", "align_pairs", "with_alignment"]
