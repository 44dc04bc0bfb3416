"""Checks before a run touches its folder, so that bad input ends in one clear message naming the problem
and nothing is written, deleted or overwritten: an output path that is a file, a language the run
would execute without a runtime here, a checkpoint folder of the run that is not a model, a data path
that does not exist. Not for: recipe keys and types (`train.recipe` checks those when loading).
"""
from __future__ import annotations

import json
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


class BadInput(ValueError):
    """A problem with what the user gave; `str(e)` is the message shown (no traceback)."""


def check_out_dir(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise BadInput(f"--out {root}: exists and is not a folder")
    for parent in root.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BadInput(f"--out {root}: {parent} is not a folder")
            break


def check_runtimes(langs) -> None:
    """Every language in `langs` must have its runtime installed (the run executes programs in each)."""
    from evals.languages import get_language
    missing = []
    for name in dict.fromkeys(langs):
        lang = get_language(name)
        gone = lang.missing()
        if gone:
            missing.append(f"{lang.name} (needs {', '.join(gone)}; Debian: {' '.join(lang.debian)})")
    if missing:
        raise BadInput("no runtime here for " + "; ".join(missing) +
                       ": install it (`psft langs --install`) or drop the language from the recipe")


def model_problem(folder: Path) -> str | None:
    """Why `folder` is not a Hugging Face model folder (None when it is one)."""
    if not folder.is_dir():
        return "not a folder"
    if (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file():
        return None   # a PEFT adapter folder
    cfg = folder / "config.json"
    if not cfg.is_file():
        return "no config.json"
    try:
        data = json.loads(cfg.read_text())
    except (ValueError, OSError) as e:
        return f"config.json is not readable JSON ({e.__class__.__name__})"
    if not isinstance(data, dict) or not (data.get("model_type") or data.get("architectures")):
        return "config.json names no model_type"
    if not any((folder / w).is_file() for w in WEIGHT_FILES) and not list(folder.glob("model-*.safetensors")):
        return "no weights (model.safetensors)"
    return None


def check_checkpoints(root: Path) -> None:
    """Every checkpoint folder an existing run holds must be a model, or resuming would fail later (or,
    worse, build on it)."""
    ckpts = root / "checkpoints"
    if not ckpts.is_dir():
        return
    for folder in sorted(ckpts.iterdir()):
        if folder.name.startswith("."):
            continue   # a killed stage's temporary folder: removed when the run resumes
        why = model_problem(folder)
        if why:
            raise BadInput(f"{folder} is not a model ({why}): delete that folder to redo its stage, "
                           "or pass --force to redo the whole run")


def check_paths(paths: dict[str, str | Path | None]) -> None:
    """Data paths named in the config ({"[probe].data": path}) must exist."""
    for key, p in paths.items():
        if p and not Path(p).exists():
            raise BadInput(f"{key}: {p} does not exist")


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether this CPU computes bf16 natively (the avx512_bf16 or amx_bf16 flag); None when unknown."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def precision_note(recipe, native: bool | None = None) -> str | None:
    """A one-line note when a CPU run asks for bf16 on a CPU that emulates it (None otherwise): there
    bf16 was measured 2.7x (a toy training step) to 13x (a study GRPO step, 40 s vs 3.0 s) slower than
    float32. Advice only; the run goes on."""
    if getattr(recipe.runtime, "device", "cpu") != "cpu":
        return None
    native = cpu_has_native_bf16() if native is None else native
    if native is not False:
        return None
    used = []
    if recipe.runtime.bf16_autocast:
        used.append("runtime.bf16_autocast")
    rl, ev = recipe.rl, recipe.eval
    if getattr(rl, "bf16", False):
        used.append("rl.bf16")
    if getattr(ev, "bf16", False):
        used.append("eval.bf16")
    if getattr(ev, "dtype", "") == "bfloat16":
        used.append("eval.dtype")
    if not used:
        return None
    return (f"note: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag) and the recipe uses it "
            f"({', '.join(used)}): bf16 is emulated here and ran 3-13x slower than float32; "
            "`--set runtime.bf16_autocast=false` runs in float32 (rl and eval follow it unless set)")
