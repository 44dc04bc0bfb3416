"""The world: a deterministic set of distinct tasks, its splits, and the non-parallel pretraining corpus.

Splits (disjoint by id, canonical form and semantic signature):
- `train` / `valid` / `test`: depth 1-3 tasks, shuffled apart;
- `heldout_comp`: depth 2-3 tasks that contain a held-out composition (an adjacent template pair
  such as `filter:even -> map:square`); no other split contains any held-out pair, while each
  template of a pair appears elsewhere;
- `rl` / `rl_test`: deeper tasks (depth 3-4 by default) for reinforcement learning and its evaluation.

Each bucket draws from its own random stream, so e.g. changing `rl_frac` does not change `train`
(except through deduplication, which gives precedence to train/valid/test, then heldout_comp).
Building is cached per config in the process. Not for: running programs (`evals.execution`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from . import grammar
from .describe import describe, function_name
from .grammar import Pipeline
from .io_form import FORMS
from .io_task import IOTask
from .langs import DEFAULT_LANG_MIX, LANGS
from .render import NAMINGS
from .task import TYPE_NAMES, Signature, Task
from .tests_gen import analyze

SPLITS = ("train", "valid", "test", "heldout_comp", "rl", "rl_test")


@dataclass(frozen=True)
class WorldConfig:
    seed: int = field(default=0, metadata={"help": "Seed of everything random in the world."})
    n_tasks: int = field(default=6000, metadata={"help": "Distinct tasks over all splits."})
    valid_frac: float = field(default=0.05, metadata={"help": "Share of n_tasks in `valid`."})
    test_frac: float = field(default=0.10, metadata={"help": "Share of n_tasks in `test`."})
    heldout_comp_frac: float = field(default=0.07, metadata={"help": "Share of n_tasks in `heldout_comp`."})
    rl_frac: float = field(default=0.15, metadata={"help": "Share of n_tasks in `rl` (deep tasks)."})
    rl_test_frac: float = field(default=0.05, metadata={"help": "Share of n_tasks in `rl_test` (deep tasks)."})
    depth_weights: tuple[float, ...] = field(default=(0.12, 0.40, 0.48), metadata={
        "help": "Weights of depths 1, 2, 3, ... for train/valid/test."})
    heldout_depth_weights: tuple[float, ...] = field(default=(0.0, 0.5, 0.5), metadata={
        "help": "Weights of depths 1, 2, ... for heldout_comp (depth 1 has no pair)."})
    rl_depth_weights: tuple[float, ...] = field(default=(0.0, 0.0, 0.4, 0.6), metadata={
        "help": "Weights of depths 1, 2, 3, 4, ... for rl and rl_test."})
    n_heldout_pairs: int = field(default=40, metadata={"help": "Adjacent template pairs held out of training."})
    k_prob: float = field(default=0.12, metadata={
        "help": "Probability that a list/int task takes a second parameter k replacing one constant."})
    n_tests: int = field(default=6, metadata={"help": "Test cases per task (>= 5)."})
    naming: str = field(default="shared", metadata={
        "help": "Identifiers of the renderings: 'shared' (every language uses the same names: xs, n, s, x, ...) "
                "or 'per_language' (each language its own names for the same roles, as real code would have "
                "them; see evals/world/render.py). The tasks, tests, splits and function names are the same "
                "under both.", "hash": "if_set"})
    form: str = field(default="function", metadata={
        "help": "How tasks are rendered and judged: 'function' (the prompt ends with the signature, the completion "
                "is the body, a sealed harness checks it) or 'io' (the prompt is the statement with its input and "
                "output format, the completion a whole program reading its arguments from stdin and printing the "
                "result, judged on the host against one stdin/stdout test set shared by every language; see "
                "evals/world/io_form.py). The tasks, tests and splits are the same under both.", "hash": "if_set"})

    def __post_init__(self):
        def bad(name: str, why: str):
            raise ValueError(f"WorldConfig.{name}: {why} (got {getattr(self, name)!r})")
        if self.n_tasks < 50:
            bad("n_tasks", "must be at least 50")
        for f in ("valid_frac", "test_frac", "heldout_comp_frac", "rl_frac", "rl_test_frac", "k_prob"):
            if not 0.0 <= getattr(self, f) < 1.0:
                bad(f, "must be in [0, 1)")
        if self.valid_frac + self.test_frac + self.heldout_comp_frac + self.rl_frac + self.rl_test_frac >= 0.9:
            bad("rl_frac", "the held-out fractions leave less than 10% for train")
        for f in ("depth_weights", "heldout_depth_weights", "rl_depth_weights"):
            w = getattr(self, f)
            if not w or any(x < 0 for x in w) or sum(w) <= 0:
                bad(f, "needs non-negative weights with a positive sum")
            if len(w) > 4:
                bad(f, "depths above 4 are not supported")
        if sum(self.heldout_depth_weights[1:]) <= 0:
            bad("heldout_depth_weights", "needs weight on depth 2 or more")
        if self.n_tests < 5:
            bad("n_tests", "must be at least 5")
        if self.n_heldout_pairs < 1:
            bad("n_heldout_pairs", "must be at least 1")
        if self.naming not in NAMINGS:
            bad("naming", f"must be one of {', '.join(NAMINGS)}")
        if self.form not in FORMS:
            bad("form", f"must be one of {', '.join(FORMS)}")

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}


def task_id(pipe: Pipeline) -> str:
    """Stable across seeds and versions of the sampler: a hash of the canonical form."""
    return "w" + hashlib.sha1(pipe.canonical.encode()).hexdigest()[:10]


def _pair_candidates() -> list[tuple[tuple[str, str], float]]:
    """Adjacent template pairs that may be held out, with their probability of occurring in the first two
    positions of a sampled pipeline (a Markov chain over types): not pruned successions, and not the rare
    op x predicate combinations of map_when."""
    tpl = grammar.TEMPLATES
    total: dict[str, float] = {}
    for t in tpl.values():
        total[t.in_t] = total.get(t.in_t, 0.0) + t.weight

    def cond(t: grammar.Template) -> float:
        return t.weight / total[t.in_t]

    reach = [{grammar.DOMAIN_IN_TYPE[d]: w for d, w in grammar.DOMAIN_WEIGHTS.items()}]
    nxt: dict[str, float] = {}
    for t in tpl.values():
        nxt[t.out_t] = nxt.get(t.out_t, 0.0) + reach[0].get(t.in_t, 0.0) * cond(t)
    reach.append(nxt)
    out = []
    for a, b in grammar.feasible_pairs():
        ta, tb = tpl[a], tpl[b]
        if a.startswith("map_when") or b.startswith("map_when") or grammar.pruned(ta, tb):
            continue
        p_a = sum(r.get(ta.in_t, 0.0) for r in reach) * cond(ta)
        out.append(((a, b), p_a * cond(tb)))
    return out


def _choose_heldout_pairs(rng: random.Random, n: int) -> tuple[tuple[str, str], ...]:
    """n pairs, drawn without replacement in proportion to how often the sampler makes them."""
    keyed = sorted(((rng.random() ** (1.0 / w), pair) for pair, w in _pair_candidates()), reverse=True)
    return tuple(sorted(pair for _, pair in keyed[:n]))


@dataclass
class _Pools:
    main: list[tuple[Pipeline, object]]
    heldout: list[tuple[Pipeline, object]]
    deep: list[tuple[Pipeline, object]]
    heldout_pairs: tuple[tuple[str, str], ...]


def _sizes(cfg: WorldConfig) -> dict[str, int]:
    n = {"valid": cfg.valid_frac, "test": cfg.test_frac, "heldout_comp": cfg.heldout_comp_frac,
         "rl": cfg.rl_frac, "rl_test": cfg.rl_test_frac}
    out = {name: round(cfg.n_tasks * frac) for name, frac in n.items()}
    out["train"] = cfg.n_tasks - sum(out.values())
    return out


def _depth(rng: random.Random, weights: tuple[float, ...]) -> int:
    return rng.choices(range(1, len(weights) + 1), weights=weights, k=1)[0]


def _generate(cfg: WorldConfig) -> _Pools:
    pair_rng = random.Random(f"{cfg.seed}-pairs")
    heldout_pairs = _choose_heldout_pairs(pair_rng, cfg.n_heldout_pairs)
    held = set(heldout_pairs)
    sizes = _sizes(cfg)
    seen_canon: set[str] = set()
    seen_sig: set[tuple] = set()

    def fill(name: str, target: int, draw) -> list:
        rng = random.Random(f"{cfg.seed}-{name}")
        out: list = []
        attempts = 0
        while len(out) < target:
            attempts += 1
            if attempts > 60 * target + 2000:
                raise RuntimeError(f"could not draw {target} distinct {name} tasks (got {len(out)}); "
                                   "lower WorldConfig.n_tasks or the split fractions")
            pipe = draw(rng)
            if pipe is None or pipe.canonical in seen_canon:
                continue
            seen_canon.add(pipe.canonical)
            a = analyze(pipe, rng, cfg.n_tests, seen_sig)
            if a is None:
                continue
            seen_sig.add(a.signature)
            out.append((pipe, a))
        return out

    def free(weights):
        def draw(rng):
            p = grammar.sample(rng, _depth(rng, weights), cfg.k_prob)
            return None if p is None or any(pr in held for pr in p.pairs) else p
        return draw

    def forced(rng):
        pair = heldout_pairs[rng.randrange(len(heldout_pairs))]
        return grammar.sample(rng, max(2, _depth(rng, cfg.heldout_depth_weights)), cfg.k_prob, forced=pair)

    main = fill("main", sizes["train"] + sizes["valid"] + sizes["test"], free(cfg.depth_weights))
    heldout = fill("heldout", sizes["heldout_comp"], forced)
    deep = fill("deep", sizes["rl"] + sizes["rl_test"], free(cfg.rl_depth_weights))
    return _Pools(main, heldout, deep, heldout_pairs)


def _make(pipe: Pipeline, analysis, split: str) -> Task:
    sig = Signature(function_name(pipe), tuple((n, TYPE_NAMES[t]) for n, t in pipe.params),
                    TYPE_NAMES[pipe.out_type])
    return Task(task_id(pipe), split, describe(pipe), sig, analysis.tests, pipe)


_CACHE: dict[WorldConfig, tuple[dict[str, list[Task]], tuple]] = {}
_CACHE_SIZE = 4


class World:
    """`World(WorldConfig(seed=0))`: tasks by split, and corpora. Building is cached per config (the naming
    and the form aside: the same tasks are drawn under every naming and form, and only their renderings
    differ; under form "io" they are `IOTask`s)."""

    def __init__(self, config: WorldConfig | None = None):
        self.config = config or WorldConfig()
        key = dataclasses.replace(self.config, naming="shared", form="function")
        if key not in _CACHE:
            while len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = self._build(key)
        self._splits, self.heldout_pairs = _CACHE[key]
        if self.config.naming != "shared":
            self._splits = {name: [dataclasses.replace(t, naming=self.config.naming) for t in ts]
                            for name, ts in self._splits.items()}
        if self.config.form == "io":
            self._splits = {name: [IOTask.of(t) for t in ts] for name, ts in self._splits.items()}
        self._by_id = {t.id: t for ts in self._splits.values() for t in ts}

    @staticmethod
    def _build(cfg: WorldConfig) -> tuple[dict[str, list[Task]], tuple]:
        pools = _generate(cfg)
        main = list(pools.main)
        random.Random(f"{cfg.seed}-split").shuffle(main)
        sizes = _sizes(cfg)
        n_valid, n_test, n_rl = sizes["valid"], sizes["test"], sizes["rl"]
        deep = list(pools.deep)
        random.Random(f"{cfg.seed}-rlsplit").shuffle(deep)
        parts = {"valid": main[:n_valid], "test": main[n_valid:n_valid + n_test], "train": main[n_valid + n_test:],
                 "heldout_comp": pools.heldout, "rl": deep[:n_rl], "rl_test": deep[n_rl:]}
        splits = {name: [_make(p, a, name) for p, a in parts[name]] for name in SPLITS}
        return splits, pools.heldout_pairs

    def split(self, name: str) -> list[Task]:
        if name not in self._splits:
            raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLITS)}")
        return list(self._splits[name])

    @property
    def tasks(self) -> list[Task]:
        return [t for name in SPLITS for t in self._splits[name]]

    def get(self, task_id: str) -> Task:
        return self._by_id[task_id]

    def pretrain_corpus(self, mix: dict[str, float] | None = None, seed: int = 0,
                        splits: Iterable[str] = ("train",)) -> list[tuple[Task, str]]:
        """Non-parallel corpus: every task of `splits` once, in ONE language, languages in the exact
        proportions of `mix` (largest remainder), assigned at random from `seed`. Task order is the
        split's; shuffle as you like. Text of an item: `task.document(lang)`."""
        mix = dict(DEFAULT_LANG_MIX if mix is None else mix)
        unknown = set(mix) - set(LANGS)
        if unknown or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"mix must map languages in {LANGS} to non-negative weights, got {mix}")
        tasks = [t for s in splits for t in self.split(s)]
        total = sum(mix.values())
        langs = [lang for lang in LANGS if mix.get(lang, 0) > 0]
        exact = {lang: len(tasks) * mix[lang] / total for lang in langs}
        counts = {lang: int(exact[lang]) for lang in langs}
        for lang in sorted(langs, key=lambda la: (-(exact[la] - counts[la]), LANGS.index(la))):
            if sum(counts.values()) == len(tasks):
                break
            counts[lang] += 1
        assigned = [lang for lang in langs for _ in range(counts[lang])]
        random.Random(f"corpus-{seed}").shuffle(assigned)
        return list(zip(tasks, assigned))

    def stats(self) -> dict:
        out = {name: len(ts) for name, ts in self._splits.items()}
        out["depths"] = {name: _hist(t.depth for t in ts) for name, ts in self._splits.items()}
        return out


def _hist(xs: Iterable[int]) -> dict[int, int]:
    d: dict[int, int] = {}
    for x in xs:
        d[x] = d.get(x, 0) + 1
    return dict(sorted(d.items()))
