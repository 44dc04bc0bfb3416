"""Recipes: one TOML file fills every stage's config; `load_recipe` checks every key and type.

    recipe = load_recipe("toy")                                   # train/recipes/toy.toml
    recipe = load_recipe("my.toml", {"sft.lr": 1e-4, "runtime": {"threads": 1}})

A recipe file has top-level `name`, `description`, `seeds` and the tables `[world]` (an
`evals.world.WorldConfig`), `[runtime]`, `[tokenizer]`, `[model]`, `[pretrain]`, `[sft]`, `[rl]`,
`[eval]` and `[analysis]` (a `train.transfer.AnalysisConfig`: the confirmatory contrasts, declared before the
run), and the optional `[probe]` and `[interventions]` tables (checked by `app`); a missing key takes the config's default. `[rl]` and `[eval]` become `train.grpo.GRPOStageConfig`
and `train.evaluate.EvalConfig` when those modules define them (imported lazily, at load time), else
they stay plain dicts. An unknown key, a wrong type or a value the config rejects raises one
`RecipeError` naming the key: `[sft].lr: expected float, got str 'fast'`.

`Recipe.hash(section)` is a stable hash of one section; `Recipe.stage_hashes()` chains them along the
pipeline (world -> tokenizer -> pretrain -> sft -> rl -> eval), so a stage's hash changes when its
section or any upstream section changes. Runtime fields that change speed but not results (threads,
device) are left out of every hash; `runtime.seed` and `runtime.bf16_autocast` are in from pretrain on.
A recipe may start from another: `extends = "study"` (a built-in name, or a .toml path relative to the
file) takes that recipe's tables and values, and the file's own replace them key by key (a table merges, any
other value, lists included, replaces). `study-forms` extends `study` with other SFT arms: the shared stages
(world, tokenizer, pretraining) keep their hashes, so a seed's finished ones can be reused.

Not for: running the stages or choosing paths (`app/`).
"""
from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

from evals.world import WorldConfig

from .config import (
    ConfigError,
    RuntimeConfig,
    coerce,
    follow_precision,
    from_dict,
    hashed_view,
    is_text_type,
    override_value,
    stable_hash,
    to_dict,
)
from .model import ModelConfig
from .pretrain import PretrainConfig
from .sft import SFTStageConfig
from .tokenizer import TokenizerConfig
from .transfer import AnalysisConfig

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
BUILTIN = ("micro", "toy", "study", "study-forms", "study-joined", "mechanism")
STAGES = ("world", "tokenizer", "pretrain", "sft", "rl", "eval")
TYPED = (*STAGES, "runtime", "model", "analysis")   # sections built into a config class


class RecipeError(ValueError):
    """A recipe problem; `str(e)` is `"<key>: <why>"` with keys like `[sft].lr` or `seeds`."""

    def __init__(self, key: str, why: str):
        self.key, self.why = key, why
        super().__init__(f"{key}: {why}")


# Sections whose config class lives in another engineer's module: (module, class name).
_LAZY = {"rl": ("train.grpo", "GRPOStageConfig"), "eval": ("train.evaluate", "EvalConfig")}


def _section_class(name: str) -> type | None:
    fixed = {"world": WorldConfig, "runtime": RuntimeConfig, "tokenizer": TokenizerConfig, "model": ModelConfig,
             "pretrain": PretrainConfig, "sft": SFTStageConfig, "analysis": AnalysisConfig}
    if name in fixed:
        return fixed[name]
    module, cls = _LAZY[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None


@dataclass(frozen=True)
class Recipe:
    name: str = field(default="custom", metadata={"help": "Name of the recipe (built-in names: micro, toy, study, mechanism)."})
    description: str = field(default="", metadata={"help": "What the recipe is for."})
    seeds: tuple[int, ...] = field(default=(0,), metadata={
        "help": "Training seeds: the pipeline runs once per seed with runtime.seed set to it (see with_seed)."})
    oracles: tuple[str, ...] = field(default=("lua",), metadata={
        "help": "Oracle arms: for each language, `oracle-<lang>` runs the same RL directly in that language from "
                "the parallel arm's SFT checkpoint; its gain bounds what transfer could give there."})
    world: WorldConfig = field(default_factory=WorldConfig, metadata={"help": "The task world (evals.world)."})
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig, metadata={"help": "Threads, seed, precision, device."})
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig, metadata={"help": "Byte-level BPE."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "The tiny Llama."})
    pretrain: PretrainConfig = field(default_factory=PretrainConfig, metadata={"help": "Non-parallel pretraining."})
    sft: SFTStageConfig = field(default_factory=SFTStageConfig, metadata={"help": "SFT arms and training."})
    rl: Any = field(default_factory=dict, metadata={"help": "RL stage config (GRPOStageConfig, or a dict)."})
    eval: Any = field(default_factory=dict, metadata={"help": "Evaluation config (EvalConfig, or a dict)."})
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig, metadata={
        "help": "The primary (confirmatory) family of the transfer table, declared before the run; every other "
                "comparison is reported as exploratory."})
    probe: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Probe stage settings, kept as a table: `app` checks them against probe's ProbeConfig "
                "(train does not import probe)."})
    interventions: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "Causal tests as a pipeline stage (empty: none), kept as a table: `app` checks it against probe's "
                "InterventionStageConfig (train does not import probe)."})

    def section(self, name: str) -> dict[str, Any]:
        value = getattr(self, name)
        return dict(value) if isinstance(value, dict) else to_dict(value)

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe, JSON-ready (for the run's config.json)."""
        return {"name": self.name, "description": self.description, "seeds": list(self.seeds),
                "oracles": list(self.oracles),
                **{s: self.section(s) for s in ("world", "runtime", "tokenizer", "model", "pretrain", "sft", "rl", "eval",
                                         "analysis", "probe")},
                **({"interventions": dict(self.interventions)} if self.interventions else {})}

    def hash(self, section: str, without: tuple[str, ...] = ()) -> str:
        """Stable hash of one section's resolved values, less the fields named in `without` (those a stage
        does not read, or reads only for what another stage recomputes)."""
        view = hashed_view(getattr(self, section))
        return stable_hash({k: v for k, v in view.items() if k not in without} if without else view)

    def evaluation_hash(self) -> str:
        """What an evaluation stage hashes besides the checkpoint it reads: `[eval]` without n_boot (it sets
        the tables' resamples only)."""
        return self.hash("eval", without=("n_boot",))

    def stage_hashes(self) -> dict[str, str]:
        """Stage -> hash of its section and every upstream section (see the module docstring)."""
        rt = {"seed": self.runtime.seed, "bf16_autocast": self.runtime.bf16_autocast}
        h = {"world": self.hash("world")}
        h["tokenizer"] = stable_hash([h["world"], self.hash("tokenizer")])
        h["pretrain"] = stable_hash([h["tokenizer"], self.hash("model"), self.hash("pretrain"), rt])
        h["sft"] = stable_hash([h["pretrain"], self.hash("sft")])
        h["rl"] = stable_hash([h["sft"], self.hash("rl")])
        h["eval"] = stable_hash([h["rl"], self.hash("eval")])
        return h

    def with_seed(self, seed: int) -> Recipe:
        """This recipe with `runtime.seed` (and `rl.seed`, when it has one) set to `seed`. The world and the
        evaluation keep their seeds, so every training seed is scored on the same tasks."""
        rl = self.rl
        if isinstance(rl, dict):
            rl = {**rl, "seed": seed} if "seed" in rl else rl
        elif any(f.name == "seed" for f in dataclasses.fields(rl)):
            rl = dataclasses.replace(rl, seed=seed)
        return dataclasses.replace(self, runtime=dataclasses.replace(self.runtime, seed=seed), rl=rl)


def recipe_path(name_or_path: str | Path) -> Path:
    from .bench_recipe import BENCH_BUILTIN
    if str(name_or_path) in BUILTIN:
        return RECIPES_DIR / f"{name_or_path}.toml"
    path = Path(name_or_path)
    if not path.is_file():
        raise RecipeError("recipe", f"{str(name_or_path)!r} is neither a built-in recipe "
                                    f"({', '.join(BUILTIN + BENCH_BUILTIN)}) nor a .toml file")
    return path


def load_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None):
    """Load a built-in recipe (`micro`, `toy`, `study`, `mechanism`; the bench recipes `smol-micro`, `smol`, `paper`)
    or a .toml file, then apply `overrides`: a nested dict (`{"sft": {"lr": 1e-4}}`) or dotted keys
    (`{"sft.lr": 1e-4}`). An override given as a string for a non-string field is read as a TOML value
    (`"1e-4"` -> 1e-4, `"[1, 2]"` -> [1, 2]), so a CLI can pass `--set sft.lr=1e-4` through. A bench
    recipe (`kind = "bench"`) comes back as a `train.bench_recipe.BenchRecipe`, every other as a `Recipe`."""
    from .bench_recipe import is_bench_recipe, load_bench_recipe
    if is_bench_recipe(name_or_path):
        return load_bench_recipe(name_or_path, overrides)
    path = recipe_path(name_or_path)
    data = _read_extended(path, ())
    if str(name_or_path) in BUILTIN:
        data.setdefault("name", str(name_or_path))
    else:
        data.setdefault("name", path.stem)
    for key, value in _flatten(overrides or {}).items():
        _set(data, key, value)
    return recipe_from_dict(data)


def recipe_from_dict(data: dict[str, Any]):
    """Build and check a recipe from a dict shaped like a recipe file (e.g. a saved config.json): a
    `BenchRecipe` when it says `kind = "bench"`, else a `Recipe`."""
    if data.get("kind") == "bench":
        from .bench_recipe import bench_recipe_from_dict
        return bench_recipe_from_dict(data)
    hints = typing.get_type_hints(Recipe)
    names = [f.name for f in dataclasses.fields(Recipe)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise RecipeError(key, f"unknown key; known: {', '.join(names)}")
        cls = _section_class(key) if key in TYPED else None
        if key in ("name", "description", "seeds", "oracles"):
            try:
                kwargs[key] = coerce(value, hints[key], key)
            except TypeError as e:
                raise RecipeError(key, str(e).split(": ", 1)[1]) from None
        elif not isinstance(value, dict):
            raise RecipeError(f"[{key}]", f"expected a table, got {type(value).__name__} {value!r}")
        elif cls is None:
            kwargs[key] = dict(value)
        else:
            kwargs[key] = _build_section(cls, key, value)
    for key in TYPED:   # a section the file leaves out takes its config's defaults
        cls = _section_class(key)
        if key not in kwargs and cls is not None:
            kwargs[key] = _build_section(cls, key, {})
    recipe = Recipe(**kwargs)
    recipe = dataclasses.replace(recipe, rl=follow_precision(recipe.rl, recipe.runtime),
                                 eval=follow_precision(recipe.eval, recipe.runtime))
    _check_across_sections(recipe)
    return recipe


def _check_across_sections(r: Recipe) -> None:
    from evals.world import LANGS
    bad = [la for la in r.oracles if la not in LANGS]
    if bad or len(set(r.oracles)) != len(r.oracles):
        raise RecipeError("oracles", f"expected distinct world languages ({', '.join(LANGS)}), got {list(r.oracles)}")
    limit = r.model.max_position_embeddings
    for key, value in (("[pretrain].seq_len", r.pretrain.seq_len), ("[sft].max_length", r.sft.max_length)):
        if value > limit:
            raise RecipeError(key, f"{value} exceeds [model].max_position_embeddings ({limit})")


def _build_section(cls: type, section: str, value: dict[str, Any]):
    try:
        return from_dict(cls, value, f"[{section}]")
    except ConfigError as e:
        raise RecipeError(f"[{section}].{e.field}", e.why) from None
    except (ValueError, TypeError) as e:   # a config that validates with plain errors (e.g. WorldConfig)
        m = re.match(r"^\w+\.(\w+): (.*)$", str(e), re.S)
        if m:
            raise RecipeError(f"[{section}].{m.group(1)}", m.group(2)) from None
        raise RecipeError(f"[{section}]", str(e)) from None


def read_recipe_toml(path: Path) -> dict[str, Any]:
    """A recipe file's TOML as a dict; invalid TOML is one `RecipeError` naming the file (world and bench
    recipes alike)."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise RecipeError("recipe", f"{path}: not valid TOML ({e})") from None


def _read_extended(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The recipe file at `path` merged onto the recipe it `extends` (recursively): the file's tables merge
    into the parent's key by key, its other values replace the parent's. `name` and `description` are never
    inherited (a child is not its parent)."""
    data = read_recipe_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise RecipeError("extends", f"expected a recipe name or .toml path, got {parent!r}")
    ppath = (recipe_path(parent) if parent in BUILTIN else path.parent / parent).resolve()
    if not ppath.is_file():
        raise RecipeError("extends", f"{parent!r} is neither a built-in recipe ({', '.join(BUILTIN)}) "
                                     f"nor a .toml file next to {path.name}")
    chain = (*chain, path.resolve())
    if ppath in chain:
        raise RecipeError("extends", f"{path.name} extends itself through {parent!r}")
    base = _read_extended(ppath, chain)
    if base.get("kind") == "bench":
        raise RecipeError("extends", f"{parent!r} is a bench recipe; only world recipes can be extended")
    base.pop("name", None)
    base.pop("description", None)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def _flatten(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and full.count(".") == 0 and full in TYPED:
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) > 2:
        raise RecipeError(key, "overrides go at most one table deep (e.g. 'sft.lr')")
    if len(parts) == 2:
        section, name = parts
        data = data.setdefault(section, {})
        if not isinstance(data, dict):
            raise RecipeError(f"[{section}]", "is not a table")
    else:
        name = parts[0]
    data[name] = override_value(value, _is_str_field(parts))


def _is_str_field(parts: list[str]) -> bool:
    if len(parts) == 1:
        return parts[0] in ("name", "description")
    if parts[0] in ("probe", "interventions"):   # typed by app/: a value is read as TOML, else kept as a string
        return False
    cls = _section_class(parts[0]) if parts[0] in TYPED else None
    if cls is None:
        return True
    return is_text_type(typing.get_type_hints(cls).get(parts[1]))
