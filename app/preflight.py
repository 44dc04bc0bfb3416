"""Checks before a run touches its folder, so that bad input ends in one clear message naming the problem
and nothing is written, deleted or overwritten: an output path that is a file, a language the run
would execute without a runtime here, a checkpoint folder of the run that is not a model, a data path
that does not exist, a `[probe]` table `probe.config.ProbeConfig` rejects, an `[interventions]` table
that names what the run does not have, a CUDA device that is not there, a Ray cluster that does not answer.
`preflight` runs them all for every recipe, before `--force` deletes anything. Not for: recipe
keys and types (`train.recipe` checks those when loading).
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


def probe_config(recipe, source):
    """The probe stage's `ProbeConfig` from the recipe's `[probe]` table (None: no probe stage), for every
    kind of recipe: a bad key or value is one `BadInput` naming it; without a table, the source's default
    (`source.default_probe`); the lexical control set only where the source has one."""
    from probe.config import ProbeConfig
    from train.config import ConfigError, from_dict
    section = recipe.probe
    if not section:
        return source.default_probe(ProbeConfig)
    try:
        cfg = from_dict(ProbeConfig, section, "[probe]")
    except (ConfigError, ValueError, TypeError) as e:   # ProbeConfig validates with ValueError
        raise BadInput(f"[probe]: {e}" if not str(e).startswith("[probe]") else str(e)) from None
    if cfg.lexical_control and not source.lexical_control:
        raise BadInput("[probe].lexical_control: the lexical control renames the world's identifiers; "
                       "benchmark programs have none to rename")
    return cfg


def interventions_config(recipe, source):
    """The intervention stages' `InterventionStageConfig` from the recipe's `[interventions]` table (None: no
    table, no stages): a bad key or value, an arm the recipe has no RL checkpoint for, a layer the model does
    not have or a confirmatory group without languages is one `BadInput` naming it."""
    from probe.interventions.config import InterventionStageConfig
    from train.config import ConfigError, from_dict
    section = getattr(recipe, "interventions", None)
    if not section:
        return None
    if source.kind != "world":
        raise BadInput("[interventions]: the intervention stages need a world recipe (its tasks and tiny models)")
    try:
        cfg = from_dict(InterventionStageConfig, section, "[interventions]")
    except (ConfigError, ValueError, TypeError) as e:
        msg = str(e).replace("InterventionStageConfig.", "[interventions].", 1)
        raise BadInput(msg if msg.startswith("[interventions]") else f"[interventions]: {msg}") from None
    from app.intervention_stats import groups_of
    from app.pipeline import rl_langs, rl_pairs
    pairs = rl_pairs(recipe.sft.arms, getattr(recipe, "oracles", ()))
    unknown = [a for a in cfg.arms if a not in pairs]
    if unknown:
        raise BadInput(f"[interventions].arms: {', '.join(map(repr, unknown))} is not an RL arm of this recipe "
                       f"(have: {', '.join(pairs)})")
    langs = tuple(recipe.eval.langs)
    for arm, lang in rl_langs(pairs, recipe.rl.lang).items():
        if arm not in cfg.arms:
            continue
        for kind in cfg.kinds:
            try:
                c = intervention_kind_config(recipe, cfg, arm, kind, lang)
                c.resolve_layers(recipe.model.num_layers)
            except ValueError as e:
                raise BadInput(f"[interventions]: {e}".replace("[interventions]: InterventionStageConfig.",
                                                               "[interventions].")) from None
            if kind == "transplant" and lang not in langs:
                raise BadInput(f"[interventions]: arm {arm!r} ran RL in {lang}, which [eval].langs does not score: "
                               "a transplant needs its source language evaluated")
            if c.group not in groups_of(langs, lang, recipe.sft.seen_langs):
                raise BadInput(f"[interventions].group: {c.group!r} has no language for arm {arm!r} here "
                               f"([eval].langs {', '.join(langs)}; SFT languages {', '.join(recipe.sft.seen_langs)})")
    return cfg


def intervention_kind_config(recipe, cfg, arm: str, kind: str, lang: str):
    """One stage's `InterventionConfig`: the table's fields for `kind`, the source language the arm's RL ran
    in, the probe set's text from `[probe].text` and the group from `[analysis].group` when the table leaves
    them empty."""
    probe_text = (recipe.probe or {}).get("text") or "code"
    return cfg.for_kind(kind, lang, probe_text, recipe.analysis.group)


def check_device(runtime) -> None:
    """`[runtime].device` names a CUDA device: one must be visible here (imports torch)."""
    if not runtime.device.startswith("cuda"):
        return
    import torch
    if not torch.cuda.is_available():
        raise BadInput(f"[runtime].device: {runtime.device!r} but no CUDA device is visible here: "
                       "pass --set runtime.device=cpu (or 'auto')")


def check_jobs(recipe) -> None:
    """`[runtime].jobs` > 1 runs stages in parallel CPU processes: refused for a run on a CUDA device (or 'auto')
    and for training under `accelerate launch` (`[launch].accelerate_config`), which place their own processes."""
    if recipe.runtime.jobs <= 1:
        return
    devices = {"[runtime].device": recipe.runtime.device, "[rl].device": getattr(recipe.rl, "device", "cpu"),
               "[probe].device": (recipe.probe or {}).get("device", "cpu")}
    gpu = [f"{k} = {v!r}" for k, v in devices.items() if v != "cpu"]
    launch = getattr(getattr(recipe, "launch", None), "accelerate_config", "")
    if gpu or launch:
        why = ", ".join(gpu + ([f"[launch].accelerate_config = {launch!r}"] if launch else []))
        raise BadInput(f"[runtime].jobs = {recipe.runtime.jobs}: parallel stages are for CPU runs, and this one has "
                       f"{why}: pass --jobs 1")


def check_executor(runtime) -> None:
    """`[runtime].executor = "ray"`: the cluster must answer and every node host the sandboxed executor (its
    pool is started once and closed: seconds), so that a run does not stop at its first reward hours in."""
    if getattr(runtime, "executor", "local") != "ray":
        return
    from evals.execution import open_executor
    from evals.execution.sandbox import SandboxUnavailable
    try:
        open_executor("ray").close()
    except SandboxUnavailable as e:
        raise BadInput(f"[runtime].executor = 'ray': {e}") from None


def preflight(recipe, source, root: Path, resume: bool, force: bool):
    """Every check above for `recipe` run into `root`, before anything is written or deleted; returns the
    probe config (None: no probe stage)."""
    check_out_dir(root)
    check_runtimes(source.executed_langs())
    source.check_inputs()
    probe = probe_config(recipe, source)
    interventions_config(recipe, source)
    check_device(recipe.runtime)
    check_executor(recipe.runtime)
    if resume and not force:
        check_checkpoints(root)
    return probe


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
