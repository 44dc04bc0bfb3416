"""Pretraining a tiny Llama from scratch on the world's NON-parallel corpus (each task in one language,
languages in the proportions of `PretrainConfig.lang_mix`).

A plain torch loop, readable top to bottom: documents (`<|bos|> prompt + solution <|eos|>`) are
packed whole into rows of `seq_len + 1` tokens (a document never straddles two rows; `pack` fills
~94% of each row, the rest is padding that the loss ignores), rows are reshuffled every epoch, AdamW with linear warmup and
cosine decay, optional bf16 autocast for the forward pass. Deterministic on CPU for a given seed and
thread count. Not for: choosing the corpus's tasks (`evals.world.World.pretrain_corpus`) or where the
checkpoint goes (the caller passes `out_dir`).
"""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.world import DEFAULT_LANG_MIX, LANGS

from .config import RuntimeConfig, quiet_libraries, require
from .model import ModelConfig, build_model

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PreTrainedTokenizerBase

Log = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class PretrainConfig:
    lang_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LANG_MIX), metadata={
        "help": "Share of each language in the corpus; each task appears once, in one language drawn "
                "with these exact proportions (evals.world.World.pretrain_corpus)."})
    splits: tuple[str, ...] = field(default=("train",), metadata={"help": "World splits the corpus draws tasks from."})
    epochs: float = field(default=4.0, metadata={"help": "Passes over the corpus (ignored when max_steps > 0)."})
    max_steps: int = field(default=0, metadata={"help": "Optimizer steps; 0 derives them from epochs."})
    batch_size: int = field(default=16, metadata={"help": "Rows per optimizer step."})
    seq_len: int = field(default=512, metadata={
        "help": "Tokens per row (documents are packed whole; at most the model's max_position_embeddings)."})
    lr: float = field(default=2e-3, metadata={"help": "Peak learning rate of AdamW."})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "Final learning rate as a fraction of lr (cosine)."})
    warmup_steps: int = field(default=20, metadata={"help": "Linear warmup steps."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay on matrices (not norms, embeddings)."})
    betas: tuple[float, float] = field(default=(0.9, 0.95), metadata={"help": "AdamW betas."})
    grad_clip: float = field(default=1.0, metadata={"help": "Clip the gradient norm to this (0: no clipping)."})
    log_every: int = field(default=10, metadata={"help": "Steps between two `pretrain_step` log events."})
    valid_tasks: int = field(default=100, metadata={
        "help": "Tasks of the `valid` split per language whose documents' loss is logged at the end (0: none)."})

    def __post_init__(self):
        mix = self.lang_mix
        require(self, "lang_mix", bool(mix) and set(mix) <= set(LANGS) and all(v >= 0 for v in mix.values())
                and sum(mix.values()) > 0, f"must map languages of {LANGS} to non-negative weights with a positive sum")
        require(self, "splits", bool(self.splits), "must name at least one split")
        require(self, "epochs", self.epochs > 0, "must be positive")
        require(self, "max_steps", self.max_steps >= 0, "must be >= 0")
        require(self, "batch_size", self.batch_size >= 1, "must be at least 1")
        require(self, "seq_len", self.seq_len >= 16, "must be at least 16")
        require(self, "lr", 0 < self.lr < 1, "must be in (0, 1)")
        require(self, "min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "must be in [0, 1]")
        require(self, "warmup_steps", self.warmup_steps >= 0, "must be >= 0")
        require(self, "weight_decay", self.weight_decay >= 0, "must be >= 0")
        require(self, "betas", all(0 <= b < 1 for b in self.betas), "must be in [0, 1)")
        require(self, "grad_clip", self.grad_clip >= 0, "must be >= 0")
        require(self, "log_every", self.log_every >= 1, "must be at least 1")
        require(self, "valid_tasks", self.valid_tasks >= 0, "must be >= 0")


# ---- the corpus -----------------------------------------------------------------------------------

def pretrain_texts(world, cfg: PretrainConfig, seed: int) -> list[str]:
    """The non-parallel corpus of `world` (an `evals.world.World`): one document per task of `cfg.splits`,
    its language drawn by `seed` with the proportions of `cfg.lang_mix`."""
    return [task.document(lang) for task, lang in world.pretrain_corpus(cfg.lang_mix, seed, cfg.splits)]


def valid_texts(world, cfg: PretrainConfig) -> dict[str, list[str]]:
    """Documents of the first `cfg.valid_tasks` tasks of the `valid` split, in every language."""
    tasks = world.split("valid")[:cfg.valid_tasks]
    return {lang: [t.document(lang) for t in tasks] for lang in LANGS} if tasks else {}


def pack(docs: Sequence[list[int]], row_len: int, pad_id: int, window: int = 16) -> tuple[list[list[int]], int]:
    """Pack token lists whole into rows of exactly `row_len` tokens (right-padded). Up to `window` rows stay
    open; each document goes into the first open row with room, else a new row (closing the oldest when
    `window` are open). `window=1` is plain sequential packing; 16 fills ~94% of a 257-token row with this
    world's ~80-token documents (sequential: ~86%). A document longer than a row is cut to the row.
    Returns (rows, number of cut documents)."""
    done: list[list[int]] = []
    open_rows: list[list[int]] = []
    cut = 0
    for d in docs:
        if len(d) > row_len:
            d, cut = d[:row_len], cut + 1
        row = next((r for r in open_rows if len(r) + len(d) <= row_len), None)
        if row is None:
            if len(open_rows) == window:
                done.append(open_rows.pop(0))
            row = []
            open_rows.append(row)
        row.extend(d)
    return [r + [pad_id] * (row_len - len(r)) for r in done + open_rows], cut


def lr_at(step: int, total: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


# ---- training -------------------------------------------------------------------------------------

def pretrain(model_cfg: ModelConfig, tokenizer: PreTrainedTokenizerBase, corpus_texts: Sequence[str],
             cfg: PretrainConfig, out_dir: str | Path | None = None, progress: bool = True, log: Log | None = None,
             runtime: RuntimeConfig | None = None,
             valid: dict[str, Sequence[str]] | None = None) -> LlamaForCausalLM:
    """Build a model from `model_cfg` (seeded by `runtime.seed`) and train it on `corpus_texts`.

    `log` receives dict events: `pretrain_start`, `pretrain_step` every `cfg.log_every` steps (loss, lr,
    tokens/s) and `pretrain_done` (totals, and the per-language loss on `valid`, a dict lang -> documents,
    when given). With `out_dir`, the model and tokenizer are saved there with `save_pretrained`."""
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    runtime = runtime or RuntimeConfig()
    log = log or (lambda event: None)
    if cfg.seq_len > model_cfg.max_position_embeddings:
        raise ValueError(f"PretrainConfig.seq_len: {cfg.seq_len} exceeds ModelConfig.max_position_embeddings "
                         f"({model_cfg.max_position_embeddings})")
    device = runtime.apply()
    model = build_model(model_cfg, tokenizer, runtime.seed).to(device)
    pad, bos, eos = tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id

    docs = [ids + [eos] for ids in tokenizer(list(corpus_texts)).input_ids]   # the tokenizer adds <|bos|>
    if not docs:
        raise ValueError("pretrain: corpus_texts is empty")
    rng = random.Random(f"pretrain-{runtime.seed}")

    def epoch_rows():
        order = list(range(len(docs)))
        rng.shuffle(order)
        rows, cut = pack([docs[i] for i in order], cfg.seq_len + 1, pad)
        rng.shuffle(rows)
        return torch.tensor(rows, dtype=torch.long), cut

    rows, cut = epoch_rows()
    steps = cfg.max_steps or max(1, round(cfg.epochs * len(rows) / cfg.batch_size))
    n_real = sum(len(d) for d in docs)
    efficiency = n_real / rows.numel()

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas)
    n_params = sum(p.numel() for p in model.parameters())
    log({"event": "pretrain_start", "docs": len(docs), "tokens_per_epoch": n_real, "rows_per_epoch": len(rows),
         "pack_efficiency": round(efficiency, 4), "cut_docs": cut, "steps": steps, "params": n_params,
         "threads": torch.get_num_threads(), "bf16_autocast": runtime.bf16_autocast, "device": str(device)})

    model.train()
    pos, tokens_seen, window_loss, window_tokens, window_steps = 0, 0, 0.0, 0, 0
    t_start = t_window = time.perf_counter()
    bar = tqdm(total=steps, desc="pretrain", disable=not progress, dynamic_ncols=True)
    loss_value = float("nan")
    for step in range(steps):
        if pos + cfg.batch_size > len(rows):
            rows, _ = epoch_rows()
            pos = 0
        batch = rows[pos:pos + cfg.batch_size].to(device)
        pos += cfg.batch_size
        x, y = batch[:, :-1], batch[:, 1:].clone()
        y[(y == pad) | (y == bos)] = -100          # padding and the next document's BOS are not predicted
        lr = lr_at(step, steps, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=runtime.bf16_autocast):
            logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()

        n_tok = int((x != pad).sum())
        loss_value = float(loss.detach())
        tokens_seen += n_tok
        window_loss, window_tokens, window_steps = window_loss + loss_value, window_tokens + n_tok, window_steps + 1
        bar.update(1)
        if (step + 1) % cfg.log_every == 0 or step + 1 == steps:
            now = time.perf_counter()
            tps = window_tokens / max(now - t_window, 1e-9)
            log({"event": "pretrain_step", "step": step + 1, "loss": round(window_loss / window_steps, 4),
                 "lr": lr, "tokens": tokens_seen, "tokens_per_s": round(tps, 1)})
            bar.set_postfix(loss=f"{window_loss / window_steps:.3f}", tok_s=f"{tps:.0f}")
            window_loss, window_tokens, window_steps, t_window = 0.0, 0, 0, now
    bar.close()
    seconds = time.perf_counter() - t_start

    model.eval()
    valid_loss = {lang: round(document_loss(model, tokenizer, texts), 4) for lang, texts in (valid or {}).items()}
    log({"event": "pretrain_done", "steps": steps, "tokens": tokens_seen, "seconds": round(seconds, 2),
         "tokens_per_s": round(tokens_seen / max(seconds, 1e-9), 1), "final_loss": round(loss_value, 4),
         "valid_loss": valid_loss})
    if out_dir is not None:
        with quiet_libraries(not progress):
            save(model, tokenizer, out_dir)
    return model


def document_loss(model, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], batch_size: int = 32) -> float:
    """Mean next-token cross-entropy (nats per token) of whole documents (`<|bos|> text <|eos|>`)."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            ids = [x + [tokenizer.eos_token_id] for x in tokenizer(list(texts[i:i + batch_size])).input_ids]
            width = max(map(len, ids))
            batch = torch.full((len(ids), width), -100, dtype=torch.long)
            for r, x in enumerate(ids):
                batch[r, :len(x)] = torch.tensor(x)
            inp = batch.clamp(min=0).to(device)
            logits = model(input_ids=inp, attention_mask=(batch >= 0).long().to(device)).logits
            y = batch[:, 1:].to(device)
            loss = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.size(-1)), y.reshape(-1),
                                   ignore_index=-100, reduction="sum")
            total, count = total + float(loss), count + int((y >= 0).sum())
    return total / max(count, 1)


def save(model, tokenizer, out_dir: str | Path) -> Path:
    """`save_pretrained` of model and tokenizer into `out_dir` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
