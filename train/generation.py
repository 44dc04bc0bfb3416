"""Fast batched generation for a small causal LM on CPU, with per-sequence stop rules.

`generate(model, tokenizer, prompts, rules, params)` returns `n` completions per prompt. Prompts are
tokenised once, sorted by length and left-padded into batches; each batch is prefilled once (the `n`
samples of a prompt share that prefill through the KV cache) and decoded by a plain loop over the
model's forward pass that DROPS finished rows from the batch and its cache (in bulk, once they are a
quarter of it), so a batch costs about what its unfinished rows cost. `engine="hf"` runs
`model.generate` with a `StopRuleCriteria` instead (a reference: greedy outputs are identical).
Greedy when `temperature == 0`, otherwise temperature + top-p sampling from a seeded generator
(deterministic given the prompts, their order and `params`).

Stop rule (`StopRule`): a row is done when its text contains a stop string (`task.stop(lang)`), when the
optional `truncate` (the world's `task.truncate(lang, .)`) would cut it short (Python's "new
unindented line"), at an EOS token, or at `max_new_tokens`. The returned completion is
`truncate(text)` when a `truncate` is given, else the text up to and INCLUDING the first stop string
(in this world the stop string is the function's closing line, which the program needs).

Cost (3.7M-parameter Llama, 2k vocabulary, one thread): ~14 ms of CPU per Python task, ~60% of it in
the linear layers; prefill of the ~45-token prompts is over half of the tokens (artifacts/bench/eval.json).
Written for CPU (a GPU works: tensors follow `model.device`). Not for: choosing tasks or scoring
(`train.evaluate`), or training-time sampling (`train.grpo` reuses `StopRuleCriteria` inside trl).
"""
from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields

import torch
from transformers import StoppingCriteria

_PIECES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class StopRule:
    """When a completion is finished, and how its final text is cut."""

    strings: tuple[str, ...] = ()
    truncate: Callable[[str], str] | None = None

    def done(self, text: str) -> bool:
        for s in self.strings:
            if s in text:
                return True
        if self.truncate is not None and "\n" in text:
            return len(self.truncate(text).rstrip()) < len(text.rstrip())
        return False

    def finish(self, text: str) -> str:
        if self.truncate is not None:
            return self.truncate(text)
        cut = min((i + len(s) for s in self.strings if (i := text.find(s)) >= 0), default=len(text))
        return text[:cut]

    @classmethod
    def for_task(cls, task, lang: str) -> StopRule:
        """The world's rule for `lang` (any object with `.stop(lang)` and `.truncate(lang, text)`)."""
        return cls(tuple(task.stop(lang)), _Truncate(task, lang))


@dataclass(frozen=True)
class _Truncate:  # picklable `partial(task.truncate, lang)`
    task: object
    lang: str

    def __call__(self, text: str) -> str:
        return self.task.truncate(self.lang, text)


@dataclass(frozen=True)
class SamplingParams:
    """How to generate. Built by the evaluation / RL configs from their own fields."""

    max_new_tokens: int = field(default=192, metadata={"help": "Generated tokens per completion, at most."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy; otherwise sampling temperature."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass (sampling only)."})
    n: int = field(default=1, metadata={"help": "Completions per prompt (share one prefill)."})
    batch_size: int = field(default=128, metadata={"help": "Sequences (prompts x n) decoded together."})
    seed: int = field(default=0, metadata={"help": "Seed of the sampling generator."})
    threads: int | None = field(default=2, metadata={"help": "torch threads during generation (None: leave)."})
    bf16: bool = field(default=False, metadata={"help": "bf16 autocast on CPU (greedy may differ from fp32)."})
    engine: str = field(default="loop", metadata={
        "help": "'loop': own decode loop that drops finished rows (fast); 'hf': model.generate (reference)."})

    def __post_init__(self):
        def bad(name, why):
            raise ValueError(f"SamplingParams.{name}: {why} (got {getattr(self, name)!r})")
        if self.max_new_tokens < 1:
            bad("max_new_tokens", "must be >= 1")
        if self.temperature < 0:
            bad("temperature", "must be >= 0")
        if not 0 < self.top_p <= 1:
            bad("top_p", "must be in (0, 1]")
        if self.n < 1:
            bad("n", "must be >= 1")
        if self.n > 1 and self.temperature == 0:
            bad("n", "several completions per prompt need temperature > 0")
        if self.batch_size < 1:
            bad("batch_size", "must be >= 1")
        if self.engine not in ("loop", "hf"):
            bad("engine", "must be 'loop' or 'hf'")

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}


@dataclass
class GenStats:
    """Filled by `generate`: how much work was done and how long it took."""

    sequences: int = 0
    new_tokens: int = 0
    forward_rows: int = 0   # rows x steps actually computed (the loop drops finished rows)
    seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def token_pieces(tokenizer) -> list[str]:
    """Text of every token id on its own (special tokens as ""); cached per tokenizer. Concatenating
    pieces equals decoding for ByteLevel BPE on ASCII text; it is only used to detect stops early,
    final texts are decoded properly."""
    try:
        return _PIECES[tokenizer]
    except (KeyError, TypeError):
        pass
    pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))], skip_special_tokens=True)
    try:
        _PIECES[tokenizer] = pieces
    except TypeError:
        pass
    return pieces


def eos_ids(model, tokenizer) -> set[int]:
    ids = set()
    for v in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(v, int):
            ids.add(v)
        elif v is not None:
            ids.update(int(x) for x in v)
    return ids


def pad_id(tokenizer) -> int:
    for v in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if v is not None:
            return int(v)
    return 0


@contextmanager
def torch_threads(n: int | None):
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def generate(model, tokenizer, prompts: Sequence[str], rules: StopRule | Sequence[StopRule],
             params: SamplingParams = SamplingParams(), progress: bool = False,
             stats: GenStats | None = None,
             on_batch: Callable[[list[int], list[list[str]]], None] | None = None) -> list[list[str]]:
    """`params.n` completions for each prompt, in prompt order: `out[i][j]` is sample j of prompt i.
    `on_batch(prompt_indices, completions)` is called as each batch finishes (to start executing early)."""
    if isinstance(rules, StopRule):
        rules = [rules] * len(prompts)
    if len(rules) != len(prompts):
        raise ValueError(f"need one StopRule per prompt, got {len(rules)} for {len(prompts)} prompts")
    stats = stats if stats is not None else GenStats()
    t0 = time.perf_counter()
    ids = tokenizer(list(prompts))["input_ids"]
    order = sorted(range(len(prompts)), key=lambda i: (-len(ids[i]), i))
    per_batch = max(1, params.batch_size // params.n)
    batches = [order[i:i + per_batch] for i in range(0, len(order), per_batch)]
    out: list[list[str]] = [[] for _ in prompts]
    pieces = token_pieces(tokenizer)
    eos, pad = eos_ids(model, tokenizer), pad_id(tokenizer)
    device = getattr(model, "device", torch.device("cpu"))
    gen = torch.Generator(device=device).manual_seed(params.seed)
    was_training = model.training
    model.eval()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(prompts), desc="generating", unit="prompt")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if params.bf16 else nullcontext()
    try:
        with torch_threads(params.threads), torch.inference_mode(), autocast:
            for batch in batches:
                rows = [r for i in batch for r in [rules[i]] * params.n]
                run = decode_loop if params.engine == "loop" else _decode_hf
                token_lists = run(model, [ids[i] for i in batch], rows, params, pieces, eos, pad, gen, stats)
                texts = tokenizer.batch_decode(token_lists, skip_special_tokens=True)
                for k, i in enumerate(batch):
                    out[i] = [rules[i].finish(t) for t in texts[k * params.n:(k + 1) * params.n]]
                if on_batch is not None:
                    on_batch(list(batch), [out[i] for i in batch])
                stats.sequences += len(token_lists)
                stats.new_tokens += sum(len(t) for t in token_lists)
                if bar:
                    bar.update(len(batch))
    finally:
        if bar:
            bar.close()
        if was_training:
            model.train()
    stats.seconds += time.perf_counter() - t0
    return out


def _left_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        if s:
            ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s):] = 1
    return ids, mask


def _cache_kwarg(model) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _pick(logits: torch.Tensor, params: SamplingParams, gen: torch.Generator) -> torch.Tensor:
    if params.temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / params.temperature
    probs = torch.softmax(logits, -1)
    if params.top_p < 1.0:
        sorted_p, idx = probs.sort(-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < params.top_p  # always keeps the top token
        sorted_p = sorted_p * keep
        probs = torch.zeros_like(probs).scatter_(-1, idx, sorted_p)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def decode_loop(model, prompt_ids, rules, params, pieces, eos, pad, gen, stats) -> list[list[int]]:
    """Token-level decoding under `generate` (also what `train.grpo` answers trl's `generate` call with):
    `prompt_ids` are token ids, `rules` one StopRule per output row (`params.n` rows per prompt), `pieces`
    the token strings (`token_pieces`), `eos` the ids that end a row, `gen` the torch.Generator that samples.
    Prefill, then one forward per step over the unfinished rows only (finished rows leave the batch
    and the KV cache). Returns the generated token ids of each row (prompt-major, n per prompt), EOS excluded."""
    from transformers import DynamicCache
    n = params.n
    device = gen.device
    ids, mask = (x.to(device) for x in _left_pad(prompt_ids, pad))
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    kw = {_cache_kwarg(model): cache}
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1,
                   **kw).logits[:, -1, :]
    next_pos = pos[:, -1] + 1
    if n > 1:
        logits = logits.repeat_interleave(n, 0)
        mask = mask.repeat_interleave(n, 0)
        next_pos = next_pos.repeat_interleave(n, 0)
        cache.batch_repeat_interleave(n)
    total = len(rules)
    alive = list(range(total))    # original row of each batch row
    finished = [False] * total
    tokens: list[list[int]] = [[] for _ in range(total)]
    texts = [""] * total
    stats.forward_rows += len(prompt_ids)
    for step in range(params.max_new_tokens):
        picked = _pick(logits, params, gen).tolist()
        keep = []
        for j, (r, t) in enumerate(zip(alive, picked)):
            if finished[r]:
                continue
            if t in eos:
                finished[r] = True
                continue
            tokens[r].append(t)
            texts[r] += pieces[t]
            if rules[r].done(texts[r]):
                finished[r] = True
            else:
                keep.append(j)
        if not keep or step == params.max_new_tokens - 1:
            break
        step_ids = torch.tensor(picked, dtype=torch.long, device=device)
        # Drop finished rows from the batch and the cache once they are a quarter of it (copying the
        # cache on every single finish costs more than computing a few dead rows).
        if len(alive) - len(keep) >= max(1, len(alive) // 4):
            sel = torch.tensor(keep, dtype=torch.long, device=device)
            alive = [alive[j] for j in keep]
            step_ids, mask, next_pos = step_ids[sel], mask[sel], next_pos[sel]
            cache.batch_select_indices(sel)
        mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
        logits = model(input_ids=step_ids[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                       use_cache=True, **kw).logits[:, -1, :]
        next_pos = next_pos + 1
        stats.forward_rows += len(alive)
    return tokens


class StopRuleCriteria(StoppingCriteria):
    """A transformers `StoppingCriteria` for `model.generate`: row i stops when `rules[i]` says its
    generated text is done. `tokenizer` may be a tokenizer or its `token_pieces`. `prompt_len` is the
    (padded) prompt width, inferred on the first call when None; rows are in generate's order
    (prompt-major when `num_return_sequences > 1`: pass `rules` expanded accordingly, or one rule).
    `stop_positions[i]` is the number of generated tokens of row i when it stopped (None if it did not)."""

    def __init__(self, tokenizer, rules: StopRule | Sequence[StopRule], prompt_len: int | None = None):
        self.pieces = tokenizer if isinstance(tokenizer, list) else token_pieces(tokenizer)
        self.rules = rules
        self.prompt_len = prompt_len
        self.texts: list[str] = []
        self.seen: list[int] = []
        self.stop_positions: list[int | None] = []

    def _rule(self, i: int) -> StopRule:
        return self.rules if isinstance(self.rules, StopRule) else self.rules[i]

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        b, width = input_ids.shape
        if self.prompt_len is None:  # first call: one token has been generated
            self.prompt_len = width - 1
        if len(self.texts) != b:
            self.texts, self.seen, self.stop_positions = [""] * b, [0] * b, [None] * b
        done = torch.zeros(b, dtype=torch.bool)
        new = input_ids[:, self.prompt_len:].tolist()
        for i in range(b):
            if self.stop_positions[i] is not None:
                done[i] = True
                continue
            row = new[i]
            self.texts[i] += "".join(self.pieces[t] for t in row[self.seen[i]:])
            self.seen[i] = len(row)
            if self._rule(i).done(self.texts[i]):
                self.stop_positions[i] = len(row)
                done[i] = True
        return done


def _decode_hf(model, prompt_ids, rules, params, pieces, eos, pad, gen, stats) -> list[list[int]]:
    from transformers import StoppingCriteriaList
    ids, mask = (x.to(gen.device) for x in _left_pad(prompt_ids, pad))
    crit = StopRuleCriteria(pieces, rules, ids.shape[1])
    kwargs = dict(max_new_tokens=params.max_new_tokens, pad_token_id=pad, eos_token_id=sorted(eos) or None,
                  num_return_sequences=params.n, stopping_criteria=StoppingCriteriaList([crit]))
    if params.temperature == 0:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=gen.device)))
        kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
    out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, ids.shape[1]:].tolist()
    result = []
    for i, row in enumerate(out):
        stop = crit.stop_positions[i] if i < len(crit.stop_positions) else None
        row = row[:stop] if stop is not None else row
        cut = next((k for k, t in enumerate(row) if t in eos), len(row))
        result.append(row[:cut])
    stats.forward_rows += len(out) * (len(out[0]) if out else 0)
    return result
