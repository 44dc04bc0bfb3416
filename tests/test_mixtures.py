"""train/mixtures.py: the three SFT arms have the same token budget (recounted here from the datasets),
held-out languages appear in no arm, the parallel arm has the same tasks in several languages and the
multi arm does not."""
from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from evals.world import World, WorldConfig
from train.mixtures import arm_languages_seen, build_arms, pairings
from train.sft import SFTStageConfig
from train.tokenizer import TokenizerConfig, build_tokenizer

BUDGET = 3000   # supervised (completion) tokens


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldConfig(seed=0, n_tasks=600))


@pytest.fixture(scope="module")
def tok(world):
    return build_tokenizer(world, TokenizerConfig(vocab_size=512))


@pytest.fixture(scope="module")
def cfg() -> SFTStageConfig:
    return SFTStageConfig(budget_tokens=BUDGET)


@pytest.fixture(scope="module")
def arms(world, tok, cfg):
    return build_arms(world, tok, cfg, seed=0)


def _recount(tok, ds, prompts: bool = False) -> int:
    """Tokens as trl trains on them: completion + <|eos|> (the supervised ones), after <|bos|> + prompt
    when `prompts`."""
    c = tok([x + tok.eos_token for x in ds["completion"]], add_special_tokens=False).input_ids
    p = tok(list(ds["prompt"])).input_ids if prompts else []
    return sum(map(len, p)) + sum(map(len, c))


def test_arms_get_equal_supervision_by_default(arms, tok, cfg):
    datasets, manifest = arms
    assert set(datasets) == {"mono", "multi", "parallel"}
    assert cfg.budget_counts == "completion" and manifest["budget_counts"] == "completion"
    counts = {arm: _recount(tok, ds) for arm, ds in datasets.items()}
    for arm, n in counts.items():
        assert n == manifest["arms"][arm]["tokens"] == manifest["arms"][arm]["completion_tokens"], arm
        assert BUDGET <= n <= BUDGET * 1.03, (arm, n)
    assert max(counts.values()) / min(counts.values()) <= 1.03


def test_budget_can_count_prompt_and_completion_tokens(world, tok):
    cfg = SFTStageConfig(budget_tokens=8000, budget_counts="prompt+completion")
    datasets, manifest = build_arms(world, tok, cfg)
    supervised = {}
    for arm, ds in datasets.items():
        n = _recount(tok, ds, prompts=True)
        assert 8000 <= n <= 8000 * 1.02 and manifest["arms"][arm]["tokens"] == n, arm
        supervised[arm] = manifest["arms"][arm]["completion_tokens"]
        assert supervised[arm] == _recount(tok, ds)
    # equal sequence budgets, unequal supervision: mono's prompts are longer for their completions
    assert max(supervised.values()) / min(supervised.values()) > 1.05


def test_heldout_languages_are_absent_from_every_arm(arms, cfg):
    datasets, manifest = arms
    assert cfg.heldout_langs == ("lua", "perl") and manifest["heldout_langs"] == ["lua", "perl"]
    assert arm_languages_seen(manifest).isdisjoint({"lua", "perl"})
    for ds in datasets.values():
        assert not {"lua", "perl"} & set(list(ds["lang"]))
        text = "\n".join(ds["prompt"]) + "\n".join(ds["completion"])
        assert "language: lua" not in text and "language: perl" not in text
        assert "local function" not in text and "my (" not in text


def test_parallel_arm_has_the_same_tasks_in_every_language(arms, cfg):
    datasets, manifest = arms
    ids = manifest["arms"]["parallel"]["task_ids_by_lang"]
    assert set(ids) == set(cfg.parallel_langs) and len(ids) >= 2
    first = set(ids["python"])
    assert len(first) >= 10 and all(set(v) == first for v in ids.values())
    by_task = defaultdict(set)
    for tid, lang in zip(datasets["parallel"]["task_id"][:], datasets["parallel"]["lang"]):
        by_task[tid].add(lang)
    assert all(langs == set(cfg.parallel_langs) for langs in by_task.values())


def test_multi_arm_has_different_tasks_per_language(arms, cfg):
    _, manifest = arms
    arm = manifest["arms"]["multi"]
    ids = arm["task_ids_by_lang"]
    assert set(ids) == set(cfg.multi_langs)
    seen: set[str] = set()
    for v in ids.values():
        assert seen.isdisjoint(v)
        seen |= set(v)
    shares = [n / arm["tokens"] for n in arm["tokens_by_lang"].values()]
    assert max(shares) - min(shares) < 0.05                        # balanced by tokens


def test_mono_arm_is_the_source_language_only_and_matches_the_world(arms, world):
    datasets, manifest = arms
    ds = datasets["mono"]
    assert set(list(ds["lang"])) == {"python"} and manifest["arms"]["mono"]["langs"] == ["python"]
    for row in ds.select(range(5)):
        task = world.get(row["task_id"])
        assert row["prompt"] == task.prompt("python") and row["completion"] == task.solution("python")
    assert len(set(list(ds["task_id"]))) == len(ds)


def test_arms_depend_on_the_seed_only(world, tok, cfg, arms):
    again, _ = build_arms(world, tok, cfg, seed=0)
    other, _ = build_arms(world, tok, cfg, seed=1)
    assert again["parallel"]["task_id"][:] == arms[0]["parallel"]["task_id"][:]
    assert other["parallel"]["task_id"][:] != arms[0]["parallel"]["task_id"][:]


def test_an_arm_does_not_depend_on_the_other_arms(world, tok, cfg, arms, forms):
    """What lets `study-forms` retrain `multi` to the study's own checkpoint: its data is the same whichever
    arms are built beside it."""
    _, datasets, _ = forms
    alone, _ = build_arms(world, tok, SFTStageConfig(budget_tokens=BUDGET, arms=("multi",)), seed=0)
    for got in (alone["multi"], datasets["multi"]):
        assert got[:] == arms[0]["multi"][:]


def test_a_budget_beyond_the_world_names_the_field(world, tok):
    with pytest.raises(ValueError, match=r"SFTStageConfig\.budget_tokens: .* more than the mono arm"):
        build_arms(world, tok, SFTStageConfig(budget_tokens=10_000_000, arms=("mono",)))


def test_arm_language_config_is_checked():
    with pytest.raises(ValueError, match=r"SFTStageConfig\.parallel_langs"):
        SFTStageConfig(parallel_langs=("python",))
    with pytest.raises(ValueError, match=r"SFTStageConfig\.arms"):
        SFTStageConfig(arms=("mono", "oracle"))


# ---- the parallel forms the field uses: paired sequences and translations ----------------------------

@pytest.fixture(scope="module")
def forms(world, tok):
    cfg = SFTStageConfig(budget_tokens=BUDGET, arms=("multi", "parallel", "parallel-paired", "translate"),
                         paired_groups=(("python", "javascript"), ("python", "ruby", "php")))
    return cfg, *build_arms(world, tok, cfg, seed=0)


def test_every_parallel_form_gets_the_same_supervised_budget(forms, tok):
    _, datasets, manifest = forms
    counts = {arm: _recount(tok, ds) for arm, ds in datasets.items()}
    for arm, n in counts.items():
        assert n == manifest["arms"][arm]["completion_tokens"] == manifest["arms"][arm]["tokens"], arm
        assert BUDGET <= n <= BUDGET * 1.05, (arm, n)


def test_a_paired_example_holds_its_task_in_every_language_of_its_group(forms, world):
    cfg, datasets, manifest = forms
    ds = datasets["parallel-paired"]
    assert set(ds["lang"]) == {"python+javascript", "python+ruby+php"}
    for row in ds:
        task, group = world.get(row["task_id"]), row["lang"].split("+")
        assert row["prompt"] == task.prompt(group[0])
        text = row["prompt"] + row["completion"]
        for lang in group:           # every language's tag line, signature and body, in group order
            head = task.prompt(lang, describe=lang == group[0])
            assert head + task.solution(lang) in text
        positions = [text.index(task.prompt(lang, describe=False).splitlines()[-1]) for lang in group]
        assert positions == sorted(positions)
        assert text.count(task.description) == 1                      # the description once
        assert not {"lua", "perl"} & set(group)
    assert manifest["arms"]["parallel-paired"]["langs"] == ["python", "javascript", "ruby", "php"]


def test_translate_prompts_and_completions_are_the_same_task_in_two_languages(forms, world, cfg):
    _, datasets, manifest = forms
    ds = datasets["translate"]
    directions = {tuple(x.split(">")) for x in ds["lang"]}
    assert directions == {("python", la) for la in ("javascript", "ruby", "php")} | \
        {(la, "python") for la in ("javascript", "ruby", "php")}
    for row in ds:
        task = world.get(row["task_id"])
        a, b = row["lang"].split(">")
        assert row["completion"] == task.solution(b)
        assert row["prompt"] == task.prompt(a, describe=False) + task.solution(a) + "\n" + task.prompt(b, describe=False)
        assert task.description not in row["prompt"]        # translated from code, not written from the description
    assert arm_languages_seen(manifest).isdisjoint({"lua", "perl"})


def test_paired_and_translate_languages_are_checked():
    with pytest.raises(ValueError, match=r"SFTStageConfig\.paired_groups"):
        SFTStageConfig(paired_groups=(("python",),))
    with pytest.raises(ValueError, match=r"SFTStageConfig\.translate_pairs"):
        SFTStageConfig(translate_pairs=(("python", "python"),))
    assert SFTStageConfig(translate_pairs=[["python", "lua"]]).translate_pairs == (("python", "lua"),)
    cfg = SFTStageConfig(arms=("mono", "translate"), translate_pairs=(("python", "lua"),))
    assert "lua" in cfg.seen_langs and "lua" not in cfg.heldout_langs    # a language an arm holds is seen


def test_new_arm_fields_left_at_their_defaults_keep_the_sft_hash():
    from train.config import hashed_view
    assert "paired_groups" not in hashed_view(SFTStageConfig()) and "translate_pairs" not in hashed_view(SFTStageConfig())


# ---- parallel-joined: the parallel arm's examples of one task in one sequence -------------------------

@pytest.fixture(scope="module")
def joined(world, tok):
    cfg = SFTStageConfig(budget_tokens=BUDGET, arms=("parallel", "parallel-joined"))
    return cfg, *build_arms(world, tok, cfg, seed=0)


def _supervised_runs(ids: list[int], mask: list[int]) -> list[tuple[int, ...]]:
    """The runs of consecutive supervised tokens of one row."""
    runs, cur = [], []
    for i, m in zip(ids, mask):
        if m:
            cur.append(i)
        elif cur:
            runs, cur = runs + [tuple(cur)], []
    return runs + [tuple(cur)] if cur else runs


def test_pairings_pair_every_two_languages_once():
    langs = ("python", "javascript", "ruby", "php")
    rounds = pairings(langs)
    assert len(rounds) == 3 and all(sorted(la for p in r for la in p) == sorted(langs) for r in rounds)
    assert sorted(p for r in rounds for p in r) == sorted(itertools.combinations(langs, 2))
    odd = pairings(langs[:3])
    assert len(odd) == 3 and sorted(p for r in odd for p in r if len(p) == 2) == sorted(itertools.combinations(langs[:3], 2))
    assert sorted(p[0] for r in odd for p in r if len(p) == 1) == sorted(langs[:3])      # each alone once


def test_joined_rows_are_two_of_the_parallel_arms_examples_of_one_task(joined, world, tok):
    cfg, datasets, manifest = joined
    par, ds = datasets["parallel"], datasets["parallel-joined"]
    assert list(dict.fromkeys(par["task_id"])) == list(dict.fromkeys(ds["task_id"]))      # the same tasks, in order
    by_task = defaultdict(list)
    for row in ds:
        task, unit = world.get(row["task_id"]), tuple(row["lang"].split("+"))
        by_task[row["task_id"]].append(unit)
        assert len(unit) == 2 and tok.decode(row["input_ids"]) == tok.bos_token + row["prompt"] + row["completion"] == "".join(
            tok.bos_token + task.prompt(lang) + task.solution(lang) + tok.eos_token for lang in unit)
        assert len(row["input_ids"]) == len(row["completion_mask"])
    rounds = pairings(cfg.parallel_langs)
    for k, units in enumerate(by_task.values()):      # each task's languages once, paired as its round says
        assert units == rounds[k % 3]
    entry = manifest["arms"]["parallel-joined"]
    assert entry["task_ids_by_lang"] == manifest["arms"]["parallel"]["task_ids_by_lang"]
    assert entry["examples"] == len(ds) == 2 * entry["tasks"] and entry["longest_row"] <= cfg.max_length


def test_joined_supervises_exactly_the_parallel_arms_tokens(joined, tok):
    """Token for token: the supervised runs of the joined rows (each body + <|eos|>) are the parallel arm's
    completions as trl tokenizes them, and nothing of a prompt is supervised."""
    _, datasets, manifest = joined
    par, ds = datasets["parallel"], datasets["parallel-joined"]
    want = sorted(tuple(x) for x in tok([c + tok.eos_token for c in par["completion"]], add_special_tokens=False).input_ids)
    got = sorted(run for row in ds for run in _supervised_runs(row["input_ids"], row["completion_mask"]))
    assert got == want
    entry = manifest["arms"]["parallel-joined"]
    assert entry["supervised_tokens"] == entry["completion_tokens"] == manifest["arms"]["parallel"]["completion_tokens"]
    assert all(tok.eos_token_id == run[-1] for run in got)


def test_joined_arm_holds_no_heldout_language_and_checks_its_length_and_batch(joined, world, tok):
    cfg, datasets, _ = joined
    text = "".join(tok.decode(ids) for ids in datasets["parallel-joined"]["input_ids"])
    assert "language: lua" not in text and "language: perl" not in text and cfg.heldout_langs == ("lua", "perl")
    assert cfg.batch_size_for("parallel-joined") == cfg.batch_size // 2 and cfg.batch_size_for("parallel") == cfg.batch_size
    with pytest.raises(ValueError, match=r"SFTStageConfig\.batch_size: must be even"):
        SFTStageConfig(arms=("parallel-joined",), batch_size=7)
    short = SFTStageConfig(budget_tokens=BUDGET, arms=("parallel-joined",), max_length=128)
    with pytest.raises(ValueError, match=r"SFTStageConfig\.max_length: a parallel-joined row holds \d+ tokens"):
        build_arms(world, tok, short, seed=0)
