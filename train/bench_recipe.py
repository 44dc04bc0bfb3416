"""Recipes of the study on a pretrained model and real benchmarks: TOML files with `kind = "bench"`.

    recipe = load_bench_recipe("smol-micro", {"data.mbxp": "../shared/data/mbxp"})

Built-in: `smol-micro` (the whole path in minutes, for CI), `smol` (SmolLM2-135M-Instruct on this
CPU), `paper` (Llama-3.1-8B-Instruct on GPUs, with an accelerate config file beside it). Sections:
`[runtime]` RuntimeConfig, `[model]` BenchModelConfig, `[data]` BenchDataConfig, `[prompt]`
PromptConfig, `[sft]` BenchSFTConfig, `[rl]` BenchGRPOConfig, `[eval]` BenchEvalConfig, `[launch]`
LaunchConfig (see `train.bench_config`), `[analysis]` the confirmatory contrasts (as world recipes'),
and an optional `[probe]` table that app/ types as
`probe.config.ProbeConfig` (the probe stage runs only when it is there). Errors are `train.recipe.RecipeError`s naming the key, as for
world recipes. `is_bench_recipe(name_or_path)` tells the two kinds apart. Not for: running (`app/`).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:   # Python 3.10
    import tomli as tomllib

from .bench_config import (
    BenchDataConfig,
    BenchEvalConfig,
    BenchGRPOConfig,
    BenchModelConfig,
    BenchSFTConfig,
    LaunchConfig,
)
from .config import ConfigError, RuntimeConfig, coerce, follow_precision, from_dict, hashed_view, stable_hash, to_dict
from .io_bench_config import IOBenchConfig
from .prompts import PromptConfig
from .recipe import (  # override_value and is_text_type: --set, read as world recipes read it
    RECIPES_DIR,
    RecipeError,
    is_text_type,
    override_value,
    read_recipe_toml,
)
from .transfer import AnalysisConfig

BENCH_BUILTIN = ("smol-micro", "smol", "paper", "io-smol")
SECTIONS: dict[str, type] = {"runtime": RuntimeConfig, "model": BenchModelConfig, "data": BenchDataConfig,
                             "prompt": PromptConfig, "sft": BenchSFTConfig, "rl": BenchGRPOConfig,
                             "eval": BenchEvalConfig, "launch": LaunchConfig, "analysis": AnalysisConfig,
                             "io": IOBenchConfig}


@dataclass(frozen=True)
class BenchRecipe:
    kind: str = field(default="bench", metadata={"help": "Always 'bench' (world recipes have no kind)."})
    name: str = field(default="custom", metadata={"help": "Name of the recipe."})
    description: str = field(default="", metadata={"help": "What the recipe is for."})
    seeds: tuple[int, ...] = field(default=(0,), metadata={"help": "Training seeds (one run each)."})
    path: str = field(default="", metadata={"help": "The recipe file (relative paths in [launch] resolve from it)."})
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    model: BenchModelConfig = field(default_factory=BenchModelConfig)
    data: BenchDataConfig = field(default_factory=BenchDataConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    sft: BenchSFTConfig = field(default_factory=BenchSFTConfig)
    rl: BenchGRPOConfig = field(default_factory=BenchGRPOConfig)
    eval: BenchEvalConfig = field(default_factory=BenchEvalConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig, metadata={
        "help": "The primary (confirmatory) family of the transfer tables, declared before the run; every other "
                "comparison is reported as exploratory."})
    io: IOBenchConfig = field(default_factory=IOBenchConfig, metadata={
        "help": "A stdin/stdout dataset instead of MBXP (train.io_bench_config); no `layout`: MBXP."})
    probe: dict = field(default_factory=dict, metadata={
        "help": "The probe stage's config (app/ maps it onto probe.config.ProbeConfig); empty: no probe stage."})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "description": self.description, "seeds": list(self.seeds),
                **{s: to_dict(getattr(self, s)) for s in SECTIONS}, "probe": dict(self.probe)}

    def hash(self, section: str, without: tuple[str, ...] = ()) -> str:
        """Stable hash of one section's resolved values, less the fields named in `without`."""
        view = hashed_view(getattr(self, section))
        return stable_hash({k: v for k, v in view.items() if k not in without})

    def evaluation_hash(self) -> str:
        """What an evaluation stage hashes besides the checkpoint it reads: the prompt format and `[eval]`
        without threads (speed only) and n_boot (the tables' resamples only)."""
        return stable_hash([self.hash("prompt"), self.hash("eval", without=("threads", "n_boot"))])

    def stage_hashes(self) -> dict[str, str]:
        """model -> data -> sft -> rl -> eval, each covering its upstream (threads and device excluded)."""
        rt = {"seed": self.runtime.seed, "bf16_autocast": self.runtime.bf16_autocast}
        data = {k: v for k, v in to_dict(self.data).items() if k not in ("mbxp", "humaneval")}
        if self.io.layout:   # where the files are is not what they are (as mbxp above)
            data["io"] = {k: v for k, v in hashed_view(self.io).items() if k not in ("data", "eval_data")}
        h = {"model": stable_hash([self.model.name, self.model.train_dtype])}
        h["data"] = stable_hash([h["model"], data, self.hash("prompt")])
        h["sft"] = stable_hash([h["data"], self.hash("sft"), rt])
        h["rl"] = stable_hash([h["sft"], {k: v for k, v in hashed_view(self.rl).items() if k != "threads"}])
        h["eval"] = stable_hash([h["model"], self.hash("prompt"), {k: v for k, v in hashed_view(self.eval).items()
                                                                   if k != "threads"}])
        return h

    def with_seed(self, seed: int) -> BenchRecipe:
        return dataclasses.replace(self, runtime=dataclasses.replace(self.runtime, seed=seed),
                                   rl=dataclasses.replace(self.rl, seed=seed))

    def accelerate_config(self) -> Path | None:
        if not self.launch.accelerate_config:
            return None
        p = Path(self.launch.accelerate_config)
        return p if p.is_absolute() or not self.path else Path(self.path).parent / p


def bench_recipe_path(name_or_path: str | Path) -> Path:
    if str(name_or_path) in BENCH_BUILTIN:
        return RECIPES_DIR / f"{name_or_path}.toml"
    return Path(name_or_path)


def is_bench_recipe(name_or_path: str | Path) -> bool:
    """True for the built-in bench recipes and for .toml files whose top level says `kind = "bench"`."""
    if str(name_or_path) in BENCH_BUILTIN:
        return True
    path = Path(name_or_path)
    if not path.is_file():
        return False
    try:
        return tomllib.loads(path.read_text()).get("kind") == "bench"
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def load_bench_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> BenchRecipe:
    """Load a bench recipe and apply dotted `overrides` (`{"data.mbxp": PATH, "sft.lr": 1e-4}`; strings for
    non-string fields are read as TOML values, so `--set sft.lr=1e-4` works)."""
    path = bench_recipe_path(name_or_path)
    if not path.is_file():
        raise RecipeError("recipe", f"{str(name_or_path)!r} is neither a built-in bench recipe "
                                    f"({', '.join(BENCH_BUILTIN)}) nor a .toml file")
    data = read_recipe_toml(path)
    data.setdefault("name", str(name_or_path) if str(name_or_path) in BENCH_BUILTIN else path.stem)
    data["path"] = str(path.resolve())
    for key, value in (overrides or {}).items():
        _set(data, key, value)
    return bench_recipe_from_dict(data)


def bench_recipe_from_dict(data: dict[str, Any]) -> BenchRecipe:
    hints = typing.get_type_hints(BenchRecipe)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise RecipeError(f"[{key}]", f"expected a table, got {type(value).__name__} {value!r}")
            try:
                kwargs[key] = from_dict(SECTIONS[key], value, f"[{key}]")
            except ConfigError as e:
                raise RecipeError(f"[{key}].{e.field}", e.why) from None
        elif key == "probe":   # typed by app/ (train/ does not import probe/)
            if not isinstance(value, dict):
                raise RecipeError("[probe]", f"expected a table, got {type(value).__name__} {value!r}")
            kwargs[key] = dict(value)
        elif key in ("kind", "name", "description", "seeds", "path"):
            try:
                kwargs[key] = coerce(value, hints[key], key)
            except TypeError as e:
                raise RecipeError(key, str(e).split(": ", 1)[1]) from None
        else:
            raise RecipeError(key, f"unknown key; known: kind, name, description, seeds, {', '.join(SECTIONS)}, probe")
    if kwargs.get("kind", "bench") != "bench":
        raise RecipeError("kind", f"expected 'bench', got {kwargs['kind']!r}")
    recipe = BenchRecipe(**kwargs)
    recipe = dataclasses.replace(recipe, rl=follow_precision(recipe.rl, recipe.runtime),
                                 eval=follow_precision(recipe.eval, recipe.runtime))
    if recipe.rl.lang not in recipe.sft.seen_langs:
        raise RecipeError("[rl].lang", f"{recipe.rl.lang!r} is in no SFT arm ({', '.join(recipe.sft.seen_langs)})")
    return recipe


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    section, _, name = key.partition(".")
    if not name:
        data[section] = value
        return
    if section not in SECTIONS and section != "probe":
        raise RecipeError(key, f"unknown section {section!r}; known: {', '.join(SECTIONS)}, probe")
    table = data.setdefault(section, {})
    tp = typing.get_type_hints(SECTIONS[section]).get(name) if section in SECTIONS else None
    table[name] = override_value(value, is_text_type(tp))
