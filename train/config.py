"""Shared configuration machinery for `train/`: the runtime config, errors that name the field, typed
construction of a config dataclass from a plain dict (a TOML table), and stable hashes.

Each stage's config lives beside its stage (`TokenizerConfig` in `tokenizer.py`, `ModelConfig` in
`model.py`, `PretrainConfig` in `pretrain.py`, `SFTStageConfig` in `sft.py`); `recipe.py` composes
them. This module and those configs import only the standard library (torch, transformers and trl are
imported inside the functions that need them), so a recipe loads in milliseconds.
Not for: deciding where files go (that is `app/`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal


class ConfigError(ValueError):
    """A bad config value. `str(e)` is `"<where>.<field>: <why>"`; `e.field` and `e.why` keep the parts."""

    def __init__(self, where: str, field_name: str, why: str):
        self.where, self.field, self.why = where, field_name, why
        super().__init__(f"{where}.{field_name}: {why}")


def bad(cfg: Any, name: str, why: str) -> typing.NoReturn:
    """Raise a `ConfigError` for field `name` of the dataclass instance `cfg`, showing its value."""
    raise ConfigError(type(cfg).__name__, name, f"{why} (got {getattr(cfg, name)!r})")


def require(cfg: Any, name: str, ok: bool, why: str) -> None:
    if not ok:
        bad(cfg, name, why)


def help_of(cls: type) -> dict[str, str]:
    """Field name -> help text of a config dataclass (as trl's `HfArgumentParser` would show)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


# ---- typed construction from plain dicts ---------------------------------------------------------

def type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp` and convert TOML shapes (list -> tuple, int -> float).
    Raises `TypeError(f"{key}: expected ..., got ...")`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def fail() -> typing.NoReturn:
        raise TypeError(f"{key}: expected {type_name(tp)}, got {_describe(value)}")

    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(value, option, key)
            except TypeError:
                continue
        fail()
    if origin is Literal:
        if value not in args:
            raise TypeError(f"{key}: expected one of {', '.join(map(repr, args))}, got {_describe(value)}")
        return value
    if tp is bool:
        return value if isinstance(value, bool) else fail()
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else fail()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        fail()
    if tp is str:
        return value if isinstance(value, str) else fail()
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            fail()
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise TypeError(f"{key}: expected {len(args)} items ({type_name(tp)}), got {_describe(value)}")
            items = [coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            items = [coerce(v, args[0] if args else Any, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            fail()
        kt, vt = args if args else (Any, Any)
        return {coerce(k, kt, f"{key}.{k}"): coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp is dict:
        return value if isinstance(value, dict) else fail()
    raise TypeError(f"{key}: unsupported annotation {type_name(tp)}")


def is_text_type(tp: Any) -> bool:
    """Whether a field of type `tp` holds text (`str`, or a `Literal` of strings)."""
    return tp is str or typing.get_origin(tp) is Literal


def override_value(value: Any, text: bool) -> Any:
    """A `--set key=value` given as a string, for a field that holds `text` or not: a non-text field's string
    is read as a TOML value (`"1e-4"` -> 1e-4, `"[1, 2]"` -> [1, 2]); a string that is no TOML value stays a
    string (the type check then names the key)."""
    if text or not isinstance(value, str):
        return value
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def from_dict(cls: type, data: dict[str, Any], where: str | None = None) -> Any:
    """Build config dataclass `cls` from `data`, checking every key and type.

    Every error is a `ConfigError` naming the key as `<where>.<field>` (`<where>.<field>[i]` for an item):
    an unknown key, a wrong type, or a value that the config's `__post_init__` rejects."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(where, "*", f"expected a table, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(where, key, f"unknown key; known: {', '.join(sorted(names))}")
        try:
            kwargs[key] = coerce(value, hints[key], key)
        except TypeError as e:
            path, why = str(e).split(": ", 1)   # path names the item: `langs[1]`, `lang_mix.lua`
            raise ConfigError(where, path, why) from None
    try:
        return cls(**kwargs)
    except ConfigError as e:
        raise ConfigError(where, e.field, e.why) from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def hashed_view(cfg: Any) -> dict[str, Any]:
    """What a stage hash covers of a config dataclass: `to_dict(cfg)` without the fields marked
    `metadata={"hash": "if_set"}` that hold their default. Fields added to a config after runs exist
    are marked so: leaving them at the default keeps every existing run's stage hashes (and `--resume`)."""
    if not dataclasses.is_dataclass(cfg):
        return dict(cfg)
    out = to_dict(cfg)
    for f in dataclasses.fields(cfg):
        if f.metadata.get("hash") == "if_set" and getattr(cfg, f.name) == f.default:
            out.pop(f.name, None)
    return out


def stable_hash(obj: Any) -> str:
    """12 hex digits of sha256 over canonical JSON; equal for equal configs across processes and machines."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---- the runtime ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeConfig:
    threads: int = field(default=0, metadata={
        "help": "The run's threads knob: torch.set_num_threads for every stage; 0 = auto (see `auto_threads`: every "
                "core on an idle machine, 1 when other processes are running). Stated exceptions: [rl].threads "
                "when not 0, [eval].threads (torch threads while generating, beside the executor's workers) and "
                "[probe].threads when set. In no stage hash."})
    jobs: int = field(default=1, metadata={
        "help": "Stages run at once (`psft run --jobs N`): with N > 1 every stage whose upstream stages are done "
                "starts, up to N at a time, each in its own process (its output in the run's logs/<stage>.log), "
                "with max(1, threads // N) torch threads (threads 0: the count `auto_threads` picks when the run "
                "starts), so one each when N >= cores; a stage that every stage still to run waits for, started "
                "alone (pretraining), gets all the threads. CPU runs only (no CUDA device, no [launch] accelerate "
                "config). Same stage hashes and outputs as 1 (stages one after another, in this process). In no "
                "stage hash."})
    seed: int = field(default=0, metadata={
        "help": "Seed of model initialisation, data order and corpus language assignment (not of the world, "
                "which has its own seed in [world])."})
    bf16_autocast: bool = field(default=True, metadata={
        "help": "The run's precision knob: pretraining's forward pass under torch.autocast(bfloat16) (weights "
                "stay fp32), and what [rl].bf16 and [eval].dtype = 'auto' follow (see `follow_precision`). "
                "Faster on CPUs with AMX/AVX512-BF16 (1.35x measured), 3-13x slower on CPUs without them."})
    device: str = field(default="cpu", metadata={
        "help": "The run's device knob: 'cpu', 'cuda', 'cuda:N' or 'auto' (cuda when available, else cpu) for "
                "pretraining, SFT, evaluation and probing; RL follows it onto a GPU ([rl].device 'cuda' is the "
                "stated exception on a CPU run) and [probe].device, when set, overrides it. Under accelerate "
                "'cuda' means each process's own GPU. In no stage hash."})
    executor: str = field(default="local", metadata={
        "help": "Where programs run (RL rewards, evaluation, reference checks): 'local', this machine's pool of "
                "sandboxed workers, or 'ray', a sandboxed executor on every node of a Ray cluster (RAY_ADDRESS, "
                "else the cluster `ray start` started here; needs the [dist] extra). Same verdicts either way: "
                "in no stage hash."})

    def __post_init__(self):
        require(self, "threads", self.threads >= 0, "must be >= 0 (0: auto)")
        require(self, "jobs", self.jobs >= 1, "must be >= 1")
        from evals.execution.backends import BACKENDS
        require(self, "executor", self.executor in BACKENDS, f"must be one of {', '.join(BACKENDS)}")
        require(self, "device", self.device in ("cpu", "cuda", "auto") or self.device.startswith("cuda:"),
                "must be 'cpu', 'cuda', 'cuda:N' or 'auto'")

    def apply(self):
        """Set torch's thread count and return the `torch.device` to run on (imports torch)."""
        import torch
        torch.set_num_threads(auto_threads(self.threads))
        return torch.device(resolve_device(self.device))


def resolve_device(device: str | None = "auto") -> str:
    """`device` as given, except 'auto' or None: 'cuda' when a GPU is visible, else 'cpu' (imports torch)."""
    if device not in (None, "auto"):
        return device
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def auto_threads(threads: int = 0) -> int:
    """`threads` when set, else a choice for now: every core this process may use when no other process
    is running, else 1. Small models scale badly across threads that must share their cores with others
    (a GRPO step took 5 s with 1 thread and 90-140 s with 2 on a loaded 2-core machine), so a busy
    machine gets one thread. "Running" is the kernel's count of runnable tasks (/proc/loadavg), sampled
    a few times over ~0.2 s, minus this process's own."""
    if threads:
        return threads
    cores = len(os.sched_getaffinity(0))
    if cores == 1:
        return 1
    samples = []
    for i in range(5):
        try:
            with open("/proc/loadavg") as f:
                samples.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return 1
        if i < 4:
            time.sleep(0.05)
    return cores if sorted(samples)[len(samples) // 2] <= 0 else 1


def follow_precision(cfg: Any, runtime: RuntimeConfig) -> Any:
    """`cfg` (a stage config) with the precision fields that follow the run's one precision knob,
    `runtime.bf16_autocast`, resolved: `bf16` None -> that knob, `dtype` 'auto' -> 'bfloat16' when it is
    on, else 'float32'. A value set explicitly is the stage's stated exception and is kept. Recipe loaders
    call this, so config.json and the stage hashes hold the resolved values. Not a dataclass: unchanged."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return cfg
    names = {f.name for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    if "bf16" in names and cfg.bf16 is None:
        changes["bf16"] = runtime.bf16_autocast
    if "dtype" in names and cfg.dtype == "auto":
        changes["dtype"] = "bfloat16" if runtime.bf16_autocast else "float32"
    return dataclasses.replace(cfg, **changes) if changes else cfg


@contextmanager
def quiet_libraries(on: bool = True) -> Iterator[None]:
    """Silence the progress bars of datasets (map) and transformers (loading, saving) while `on`; restore after."""
    if not on:
        yield
        return
    import datasets
    from transformers.utils import logging as hf_logging
    ds_bars, hf_bars = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if ds_bars:
            datasets.enable_progress_bars()
        if hf_bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(verbosity)
