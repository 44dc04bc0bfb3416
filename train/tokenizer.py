"""A byte-level BPE tokenizer trained on the world's documents, wrapped as a `PreTrainedTokenizerFast`.

Encoding adds `<|bos|>` in front (a post-processor); `<|eos|>` ends a document (pretraining adds it,
trl's SFTTrainer appends it to each completion); `<|pad|>` pads batches. The pre-tokenizer is GPT-2's
ByteLevel regex, which always splits between a prompt's last character (`:`, `{`, `)`, `;`, see
`evals/world/render.py`) and the newline that opens the completion, so

    tok(prompt).input_ids + tok(completion, add_special_tokens=False).input_ids == tok(prompt + completion).input_ids

for every task and language (checked by `tests/test_train_tokenizer_model.py` and by `check_boundary`).
Not for: which texts a model trains on (`pretrain.py`, `mixtures.py`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evals.world import LANGS

from .config import require

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from evals.world import Task

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
SPECIAL_TOKENS = (PAD, BOS, EOS)  # ids 0, 1, 2


@dataclass(frozen=True)
class TokenizerConfig:
    vocab_size: int = field(default=2048, metadata={
        "help": "Vocabulary size including the 256 byte tokens and the 3 special tokens."})
    min_frequency: int = field(default=2, metadata={"help": "A pair must occur this often to be merged."})
    langs: tuple[str, ...] = field(default=LANGS, metadata={
        "help": "Languages whose documents train the tokenizer (all six by default, so no language is "
                "disadvantaged by segmentation)."})
    splits: tuple[str, ...] = field(default=("train",), metadata={
        "help": "World splits whose documents (prompt + solution) train the tokenizer."})
    max_tasks: int = field(default=0, metadata={"help": "Use at most this many tasks per split (0: all)."})

    def __post_init__(self):
        require(self, "vocab_size", 256 + len(SPECIAL_TOKENS) < self.vocab_size <= 65536,
                "must be above 259 (bytes + specials) and at most 65536")
        require(self, "min_frequency", self.min_frequency >= 1, "must be at least 1")
        require(self, "langs", bool(self.langs) and set(self.langs) <= set(LANGS),
                f"must be a non-empty subset of {LANGS}")
        require(self, "splits", bool(self.splits), "must name at least one split")
        require(self, "max_tasks", self.max_tasks >= 0, "must be >= 0")


def tokenizer_texts(tasks: Iterable[Task], langs: Sequence[str]) -> list[str]:
    """The training texts: every task's document (prompt + reference solution) in every language."""
    return [t.document(lang) for t in tasks for lang in langs]


def train_tokenizer(texts: Iterable[str], cfg: TokenizerConfig) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts`; deterministic for the same texts in the same order."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                  special_tokens=list(SPECIAL_TOKENS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(list(texts), trainer=trainer)
    bos_id = tk.token_to_id(BOS)
    tk.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                      special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   padding_side="right", model_max_length=1 << 30)


def build_tokenizer(world, cfg: TokenizerConfig) -> PreTrainedTokenizerFast:
    """Train the tokenizer of `cfg` on `world` (an `evals.world.World`)."""
    tasks = []
    for split in cfg.splits:
        ts = world.split(split)
        tasks += ts[:cfg.max_tasks] if cfg.max_tasks else ts
    return train_tokenizer(tokenizer_texts(tasks, cfg.langs), cfg)


def check_boundary(tok: PreTrainedTokenizerFast, prompts: Sequence[str], completions: Sequence[str]) -> list[int]:
    """Indices of (prompt, completion) pairs whose tokens do not split cleanly at the boundary, i.e. where
    tokens(prompt) + tokens(completion) != tokens(prompt + completion). Empty when all is well."""
    p = tok(list(prompts)).input_ids
    c = tok(list(completions), add_special_tokens=False).input_ids
    pc = tok([a + b for a, b in zip(prompts, completions)]).input_ids
    return [i for i in range(len(p)) if p[i] + c[i] != pc[i]]
