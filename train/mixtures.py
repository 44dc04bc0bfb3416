"""The SFT arms: `mono`, `multi`, `parallel`, `parallel-joined`, `parallel-paired`, `translate` and `align` data
mixtures with the same supervised-token budget.

- `mono`: the source language only (Python by default);
- `multi`: several languages, DIFFERENT tasks per language (non-parallel); each next task goes to the
  language with the fewest tokens so far, so the languages get about equal shares;
- `parallel`: the same tasks in all of the arm's languages (a task enters with all its renderings, one
  language per example: nothing puts a program beside its translation);
- `parallel-joined`: the `parallel` arm's examples joined two by two, a task's program in one language
  and then the same task's program in another in one sequence, each exactly as `parallel` trains on it
  (`<|bos|>`, its prompt in the evaluation's format, its body, `<|eos|>`), the loss on the bodies and
  their `<|eos|>` only. Its supervised tokens are `parallel`'s, token for token; the only difference is
  that a translation of the program is in the context. A task's languages are split into pairs by the
  round-robin schedule (`pairings`: tasks take its rounds in turn, so every two languages share a
  sequence equally often). Pairs, not the whole group, to keep rows within the positions pretraining
  trained (the study's four languages in one row reached 521 tokens against its 256-token pretraining
  rows). Rows are pre-tokenized (`input_ids`, `completion_mask`: trl's format for a loss on part of a
  sequence); the arm trains with `batch_size / 2` rows a step (`SFTStageConfig.batch_size_for`), so its
  steps and examples per step match `parallel`'s;
- `parallel-paired`: one example holds a task's programs in every language of one group, in one sequence:
  the first language's prompt, then its body, then for each further language its tag line, signature and
  body (the description once). Tasks take the groups (`SFTStageConfig.groups`) in turn;
- `align`: the `multi` arm's rows, trained with a contrastive loss on parallel pairs of programs that are
  never generation targets (`arm_align_pairs`, `train.align`);
- `translate`: the prompt is a task's program in language A (tag line, signature, body; no description)
  and the tag line and signature in language B, the completion its body in B. Tasks take the directions
  (`SFTStageConfig.directions`) in turn.

All arms draw tasks from the world's `train` split in one seeded order, so the arms overlap as much
as their definitions allow. An arm is filled until its token count reaches `budget_tokens`; it
overshoots by at most one example (one task group for `parallel`), well under 1% at the default sizes.
For `parallel-paired` the supervised tokens include the further languages' tag lines and signatures
(they are in the completion), so at an equal budget it holds fewer bodies than `parallel`.
Tokens are counted with the model's tokenizer exactly as trl trains on them. By default the budget
counts supervised tokens, the completion + `<|eos|>` (`budget_counts="completion"`: the loss is on
completions, so equal budgets mean equal supervision); `budget_counts="prompt+completion"` counts the
whole sequence, `<|bos|>` + prompt + completion + `<|eos|>`, and then the arms' supervision differs with
their prompt lengths. The manifest (`data/sft_mixtures.json`) records the rule and both counts per arm.
Languages of no arm (`SFTStageConfig.heldout_langs`, Lua and Perl by default) never appear in SFT
data, so transfer to them is zero-shot. Not for: training (`sft.py`).
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .align import align_pairs
from .sft import SFTStageConfig

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from evals.world import Task


def task_order(world, seed: int) -> list[Task]:
    """The `train` split in the seeded order every arm draws from."""
    tasks = world.split("train")
    random.Random(f"sft-order-{seed}").shuffle(tasks)
    return tasks


class _Counter:
    """Token counts of (task, lang) examples, computed in batches on demand and cached."""

    def __init__(self, tok: PreTrainedTokenizerBase, tasks: list[Task], count_prompt: bool):
        self.tok, self.tasks, self.count_prompt = tok, tasks, count_prompt
        self.cache: dict[tuple[str, str], tuple[int, int]] = {}   # (id, lang) -> (total, completion)

    def prefetch(self, lang: str, start: int, stop: int) -> None:
        todo = [t for t in self.tasks[start:stop] if (t.id, lang) not in self.cache]
        if not todo:
            return
        p = self.tok([t.prompt(lang) for t in todo]).input_ids
        c = self.tok([t.solution(lang) + self.tok.eos_token for t in todo], add_special_tokens=False).input_ids
        for t, pi, ci in zip(todo, p, c):
            self.cache[(t.id, lang)] = (len(pi) + len(ci), len(ci))

    def __call__(self, i: int, lang: str) -> tuple[int, int]:
        t = self.tasks[i]
        if (t.id, lang) not in self.cache:
            self.prefetch(lang, i, i + 256)
        total, completion = self.cache[(t.id, lang)]
        return (total if self.count_prompt else completion), completion


def _pick(kind: str, langs: tuple[str, ...], n_tasks: int, count: _Counter, budget: int) -> list[tuple[int, str]]:
    """(task index, language) pairs of one arm, in training order, until the budget is reached."""
    picked: list[tuple[int, str]] = []
    spent: dict[str, int] = {lang: 0 for lang in langs}
    for i in range(n_tasks):
        if sum(spent.values()) >= budget:
            return picked
        if kind == "parallel":
            chosen = list(langs)
        elif kind == "multi":
            chosen = [min(langs, key=lambda la: (spent[la], langs.index(la)))]
        else:
            chosen = [langs[0]]
        for lang in chosen:
            picked.append((i, lang))
            spent[lang] += count(i, lang)[0]
    if sum(spent.values()) < budget:
        raise ValueError(f"SFTStageConfig.budget_tokens: {budget} tokens is more than the {kind} arm can draw "
                         f"from {n_tasks} train tasks in {', '.join(langs)} ({sum(spent.values())}); lower it or "
                         "grow the world")
    return picked


def _headless(task, lang: str) -> str:
    """The task's prompt in `lang` without its description (world tasks), else its whole prompt."""
    try:
        return task.prompt(lang, describe=False)
    except TypeError:        # a benchmark task: its prompt is its code and docstring, shown as they are
        return task.prompt(lang)


def example(task, kind: str, unit: tuple[str, ...]) -> tuple[str, str]:
    """(prompt, completion) of one `parallel-paired` example (`unit`: its language group) or one `translate`
    example (`unit`: (from, to))."""
    if kind == "parallel-paired":
        first, rest = unit[0], unit[1:]
        return task.prompt(first), task.solution(first) + "".join(
            "\n" + _headless(task, lang) + task.solution(lang) for lang in rest)
    if kind == "translate":
        a, b = unit
        return _headless(task, a) + task.solution(a) + "\n" + _headless(task, b), task.solution(b)
    raise ValueError(f"not a multi-language example kind: {kind!r}")


def _pick_units(kind: str, units: tuple[tuple[str, ...], ...], tasks: list, tok, count_prompt: bool,
                budget: int) -> list[tuple[int, tuple[str, ...], str, str, int, int]]:
    """(task index, unit, prompt, completion, budgeted tokens, completion tokens) of one arm whose examples
    hold several languages, in training order (task i takes unit i mod len(units)), until the budget."""
    picked, spent = [], 0
    for i, task in enumerate(tasks):
        if spent >= budget:
            return picked
        unit = units[i % len(units)]
        prompt, completion = example(task, kind, unit)
        comp = len(tok(completion + tok.eos_token, add_special_tokens=False).input_ids)
        total = comp + (len(tok(prompt).input_ids) if count_prompt else 0)
        picked.append((i, unit, prompt, completion, total, comp))
        spent += total
    if spent < budget:
        raise ValueError(f"SFTStageConfig.budget_tokens: {budget} tokens is more than the {kind} arm can draw "
                         f"from {len(tasks)} train tasks ({spent}); lower it or grow the world")
    return picked


def _unit_name(kind: str, unit: tuple[str, ...]) -> str:
    return ("+" if kind == "parallel-paired" else ">").join(unit)


def _multi_language_arm(kind: str, tasks: list, tok, cfg: SFTStageConfig) -> tuple[dict, dict]:
    """Rows and manifest entry of a `parallel-paired` or `translate` arm. `lang` of a row names its unit
    (`python+ruby`, `python>ruby`); the manifest counts tokens per unit and examples per language held."""
    units = cfg.groups if kind == "parallel-paired" else cfg.directions
    picked = _pick_units(kind, units, tasks, tok, cfg.budget_counts == "prompt+completion", cfg.budget_tokens)
    rows = {"prompt": [], "completion": [], "task_id": [], "lang": []}
    tokens: dict[str, int] = defaultdict(int)
    completion_tokens: dict[str, int] = defaultdict(int)
    ids: dict[str, list[str]] = defaultdict(list)
    for i, unit, prompt, completion, budgeted, comp in picked:
        name = _unit_name(kind, unit)
        rows["prompt"].append(prompt)
        rows["completion"].append(completion)
        rows["task_id"].append(tasks[i].id)
        rows["lang"].append(name)
        tokens[name] += budgeted
        completion_tokens[name] += comp
        for lang in unit:
            ids[lang].append(tasks[i].id)
    entry = {"kind": kind, "langs": list(cfg.arm_langs(kind)), "examples": len(picked),
             "tasks": len({i for i, *_ in picked}),
             "tokens": sum(tokens.values()), "completion_tokens": sum(completion_tokens.values()),
             "units": [_unit_name(kind, u) for u in units],
             "tokens_by_unit": dict(tokens), "completion_tokens_by_unit": dict(completion_tokens),
             "examples_by_lang": {lang: len(v) for lang, v in ids.items()},
             "task_ids_by_lang": dict(ids)}
    return rows, entry


def _trl_pair(tok, prompt: str, completion: str) -> tuple[list[int], list[int]]:
    """(input_ids, completion_mask) of one prompt-completion example, as trl's SFTTrainer makes them:
    `<|eos|>` appended to the completion, prompt and prompt + completion tokenized apart, the completion
    starting where the two token sequences diverge."""
    ids = tok(prompt + completion + tok.eos_token).input_ids
    head = tok(prompt).input_ids
    n = 0
    while n < min(len(ids), len(head)) and ids[n] == head[n]:
        n += 1
    return ids, [0] * n + [1] * (len(ids) - n)


def pairings(langs: tuple[str, ...]) -> list[list[tuple[str, ...]]]:
    """The rounds of a round-robin schedule over `langs` (the circle method): each round splits them into
    pairs (one language alone when their number is odd), and over all rounds every two languages are
    paired once. A pair keeps the order of `langs`."""
    seats = list(langs) + ([None] if len(langs) % 2 else [])
    order = {lang: i for i, lang in enumerate(langs)}
    rounds = []
    for _ in range(len(seats) - 1):
        pairs = [tuple(x for x in (seats[i], seats[-1 - i]) if x is not None) for i in range(len(seats) // 2)]
        rounds.append(sorted((tuple(sorted(p, key=order.get)) for p in pairs), key=lambda p: order[p[0]]))
        seats = [seats[0], seats[-1], *seats[1:-1]]
    return rounds


def _joined_arm(tasks: list, tok, count: _Counter, cfg: SFTStageConfig) -> tuple[dict, dict]:
    """Rows and manifest entry of the `parallel-joined` arm: the `parallel` arm's picks, task k's languages
    paired as round k mod (number of rounds) of `pairings` says. `prompt` is a row's first prompt and
    `completion` the rest of the row as text (what a reader sees); training reads `input_ids` and
    `completion_mask`."""
    langs = cfg.parallel_langs
    rounds = pairings(langs)
    picked = _pick("parallel", langs, len(tasks), count, cfg.budget_tokens)
    rows = {"prompt": [], "completion": [], "input_ids": [], "completion_mask": [], "task_id": [], "lang": []}
    tokens: dict[str, int] = defaultdict(int)
    completion_tokens: dict[str, int] = defaultdict(int)
    ids: dict[str, list[str]] = defaultdict(list)
    for k, i in enumerate(dict.fromkeys(i for i, _ in picked)):
        task = tasks[i]
        for unit in rounds[k % len(rounds)]:
            seq, mask = [], []
            for lang in unit:
                part, part_mask = _trl_pair(tok, task.prompt(lang), task.solution(lang))
                seq += part
                mask += part_mask
                budgeted, comp = count(i, lang)
                tokens[lang] += budgeted
                completion_tokens[lang] += comp
                ids[lang].append(task.id)
            rows["prompt"].append(task.prompt(unit[0]))
            rows["completion"].append(tok.decode(seq[mask.index(1):]))   # special tokens shown where they are
            rows["input_ids"].append(seq)
            rows["completion_mask"].append(mask)
            rows["task_id"].append(task.id)
            rows["lang"].append("+".join(unit))
    lengths = [len(x) for x in rows["input_ids"]]
    if max(lengths) > cfg.max_length:
        raise ValueError(f"SFTStageConfig.max_length: a parallel-joined row holds {max(lengths)} tokens, more "
                         f"than max_length {cfg.max_length} (it would be cut, and its second body lost); raise it")
    entry = {"kind": "parallel-joined", "langs": list(langs), "examples": len(rows["task_id"]),
             "tasks": len(set(rows["task_id"])), "tokens": sum(tokens.values()),
             "completion_tokens": sum(completion_tokens.values()),
             "supervised_tokens": sum(map(sum, rows["completion_mask"])), "longest_row": max(lengths),
             "units": ["+".join(u) for r in rounds for u in r],
             "tokens_by_lang": dict(tokens), "completion_tokens_by_lang": dict(completion_tokens),
             "examples_by_lang": {lang: len(v) for lang, v in ids.items()}, "task_ids_by_lang": dict(ids)}
    return rows, entry


def build_arms(world, tokenizer: PreTrainedTokenizerBase, cfg: SFTStageConfig,
               seed: int = 0) -> tuple[dict[str, Dataset], dict[str, Any]]:
    """The datasets of the arms in `cfg.arms`, and a JSON-ready manifest.

    Each dataset has trl's prompt-completion columns `prompt` and `completion` (so the loss is on the
    completion only) plus `task_id` and `lang` (dropped before training); a `parallel-joined` arm adds the
    pre-tokenized `input_ids` and `completion_mask` it trains on. The manifest has, per arm:
    kind, languages, examples, tokens and completion tokens (in total and per language) and the task
    ids per language (a `parallel-paired` or `translate` arm: tokens per unit, examples and task ids per
    language it holds); and the budget, the counting rule and the held-out languages."""
    from datasets import Dataset

    tasks = task_order(world, seed)
    count = _Counter(tokenizer, tasks, cfg.budget_counts == "prompt+completion")
    datasets: dict[str, Dataset] = {}
    manifest: dict[str, Any] = {"budget_tokens": cfg.budget_tokens, "budget_counts": cfg.budget_counts,
                                "heldout_langs": list(cfg.heldout_langs), "seed": seed, "arms": {}}
    for arm in cfg.arms:
        if arm == "parallel-joined":
            rows, manifest["arms"][arm] = _joined_arm(tasks, tokenizer, count, cfg)
            datasets[arm] = Dataset.from_dict(rows)
            continue
        if arm in ("parallel-paired", "translate"):
            rows, manifest["arms"][arm] = _multi_language_arm(arm, tasks, tokenizer, cfg)
            datasets[arm] = Dataset.from_dict(rows)
            continue
        langs = cfg.arm_langs(arm)
        picked = _pick("multi" if arm == "align" else arm, langs, len(tasks), count, cfg.budget_tokens)
        rows = {"prompt": [], "completion": [], "task_id": [], "lang": []}
        tokens: dict[str, int] = defaultdict(int)
        completion_tokens: dict[str, int] = defaultdict(int)
        ids: dict[str, list[str]] = defaultdict(list)
        for i, lang in picked:
            t = tasks[i]
            rows["prompt"].append(t.prompt(lang))
            rows["completion"].append(t.solution(lang))
            rows["task_id"].append(t.id)
            rows["lang"].append(lang)
            budgeted, comp = count(i, lang)
            tokens[lang] += budgeted
            completion_tokens[lang] += comp
            ids[lang].append(t.id)
        datasets[arm] = Dataset.from_dict(rows)
        manifest["arms"][arm] = {
            "kind": arm, "langs": list(langs), "examples": len(picked),
            "tasks": len({i for i, _ in picked}),
            "tokens": sum(tokens.values()), "completion_tokens": sum(completion_tokens.values()),
            "tokens_by_lang": dict(tokens), "completion_tokens_by_lang": dict(completion_tokens),
            "examples_by_lang": {lang: len(v) for lang, v in ids.items()},
            "task_ids_by_lang": dict(ids)}
        if arm == "align":
            pairs = align_pairs(tasks, cfg.multi_langs, cfg.align_tasks, seed)
            manifest["arms"][arm].update(
                align={"pairs": len(pairs), "layer": cfg.align_layer, "weight": cfg.align_weight,
                       "temperature": cfg.align_temperature, "per_step": cfg.align_per_step,
                       "pair_ids": [[tid, a, b] for tid, a, b, _, _ in pairs]})
    return datasets, manifest


def arm_align_pairs(world, cfg: SFTStageConfig, seed: int = 0) -> list[tuple[str, str]]:
    """The align arm's pairs of texts (the same task's program in two languages of `cfg.multi_langs`), as
    `build_arms` recorded them in the manifest; for `train.sft.run_sft(..., align=...)`."""
    return [(x, y) for *_, x, y in align_pairs(task_order(world, seed), cfg.multi_langs, cfg.align_tasks, seed)]


def arm_languages_seen(manifest: dict[str, Any]) -> set[str]:
    """Every language that appears in any arm of a manifest."""
    return {lang for arm in manifest["arms"].values() for lang in arm["examples_by_lang"]}


__all__ = ["arm_align_pairs", "arm_languages_seen", "build_arms", "example", "pairings", "task_order"]
