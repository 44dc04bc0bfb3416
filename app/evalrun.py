"""An evaluation-only run folder (`psft eval`): one model evaluated on one task set, written in the run
folder's contract (README) so that `psft report`, `psft app` and `psft probe` open it like a run:

    config.json               {"kind": "eval", "name", "model", "adapter", "bench", "data", "recipe",
                               "engine", "prompt", "eval": {the evaluation config}, "world": {..} (world only)}
    evals/<name>.jsonl        one row per task, language and sample, as a run's (with `split`)
    evals/<name>.scores.json  the model's scores (`train.evaluate.score_rows`)
    scores.json               {name: scores}
    checkpoints/<name>        a link to the evaluated model folder (a local model; none for a hub id); with
                              an adapter, a copy of it (and of the tokenizer) whose `base_model_name_or_path`
                              is the model's absolute path, so a probe loads base + adapter

The folder is written whole or not at all (a temporary folder renamed), and an existing non-empty folder
is refused before anything is loaded. Not for: generation or scoring (`train.model_eval`).
"""
from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .runfs import RUNS, atomic_dir, write_json, write_jsonl


class EvalInputError(ValueError):
    """Bad input to `psft eval`: one message, nothing written."""


@dataclass(frozen=True)
class EvalRequest:
    """What `psft eval` was asked (the command line, parsed)."""

    model: str
    bench: str
    data: str | None = None
    adapter: str | None = None
    recipe: str | None = None
    langs: tuple[str, ...] = ()
    name: str | None = None
    out: Path | None = None
    engine: str = "hf"
    prompt: str = "auto"
    device: str = "cpu"
    workers: int | None = None
    timeout_s: float = 10.0
    executor: str = "local"   # evals.execution.BACKENDS
    overrides: tuple[tuple[str, object], ...] = ()   # EvalConfig fields set on the command line


def default_name(model: str, adapter: str | None = None) -> str:
    """A file-safe checkpoint name: the model folder's (or hub id's) last part, `+<adapter>` with one."""
    parts = [Path(model.rstrip("/")).name or "model"] + ([Path(adapter.rstrip("/")).name] if adapter else [])
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", "+".join(parts))


def check_out(out: Path) -> None:
    """`out` must not exist, or be an empty folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EvalInputError(f"--out {out}: exists and is not an empty folder (nothing is overwritten; "
                             "choose a new folder)")


def check_runtimes(langs: Sequence[str]) -> None:
    from evals.languages import UnknownLanguage, get_language
    for lang in langs:
        try:
            missing = get_language(lang).missing()
        except UnknownLanguage as e:
            raise EvalInputError(str(e)) from None
        if missing:
            raise EvalInputError(f"{lang} runtime not installed: {', '.join(missing)} "
                                 f"(Debian: {' '.join(get_language(lang).debian)})")


def run_eval(req: EvalRequest, progress: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """Evaluate `req.model` and write its folder (see the module docstring); returns the folder.
    Raises `EvalInputError` on bad input before anything is written."""
    from evals.benchmarks import BenchmarkError
    from evals.execution import Limits, open_executor
    from evals.execution.sandbox import SandboxUnavailable
    from train.config import to_dict
    from train.model_eval import (
        ModelEvalError,
        evaluate_model,
        load_model,
        load_tokenizer,
        vllm_generate,
        vllm_unavailable,
        with_overrides,
    )

    say = log or (lambda _m: None)
    t0 = time.time()
    name = req.name or default_name(req.model, req.adapter)
    out = req.out or RUNS / f"eval-{name}-{req.bench}"
    check_out(out)
    if req.engine == "vllm" and (why := vllm_unavailable()):
        raise EvalInputError(f"--engine vllm: {why}; the default engine (hf) needs neither")
    try:
        model = resolve_model(req.model, progress)
        data = str(Path(req.data).resolve()) if req.data and Path(req.data).exists() else req.data
        adapter = str(Path(req.adapter).resolve()) if req.adapter else None
        config: dict = {"kind": "eval", "name": name, "model": model, "adapter": adapter, "bench": req.bench,
                        "data": data, "recipe": req.recipe, "engine": req.engine}
        tok = load_tokenizer(model, req.adapter)
        tasks, base_cfg, described = task_set(req, tok)
        config.update(described)
        cfg = with_overrides(base_cfg, **dict(req.overrides), langs=tuple(req.langs) or None)
        if req.bench == "world":
            check_runtimes(cfg.langs)
        config["eval"] = to_dict(cfg)
        if req.engine == "vllm":
            lm, generate_fn = None, vllm_generate(model, req.adapter)
        else:
            say(f"eval: loading {model}" + (f" with the adapter {req.adapter}" if req.adapter else ""))
            lm, generate_fn = load_model(model, req.adapter, device=req.device), None
    except (ModelEvalError, BenchmarkError, ValueError) as e:
        raise EvalInputError(str(e)) from None

    try:
        with open_executor(req.executor, workers=req.workers, limits=Limits(timeout_s=req.timeout_s)) as ex:
            rows, scores, timings = evaluate_model(lm, tok, tasks, cfg, ex, generate_fn=generate_fn,
                                                   progress=progress, log=say)
    except SandboxUnavailable as e:
        raise EvalInputError(str(e)) from None
    config["seconds"] = round(time.time() - t0, 1)
    config["timings"] = timings
    with atomic_dir(out) as tmp:
        write_json(tmp / "config.json", config)
        write_jsonl(tmp / "evals" / f"{name}.jsonl", rows)
        write_json(tmp / "evals" / f"{name}.scores.json", scores)
        write_json(tmp / "scores.json", {name: scores})
        link_checkpoint(tmp / "checkpoints" / name, model, req.adapter, tok)
    return out


def task_set(req: EvalRequest, tok) -> tuple[list, object, dict]:
    """(tasks, evaluation config before the command line's overrides, what config.json records of them):
    the world's held-out tasks and its recipe's [eval], or a benchmark's tasks in the requested languages
    (default: every language of the data the sandbox runs) with their prompt format."""
    from train.config import to_dict
    from train.model_eval import ModelEvalConfig, bench_langs, bench_tasks, prompt_format, world_tasks
    if req.bench == "world":
        from evals.world import World
        from train.recipe import RecipeError, load_recipe
        try:
            recipe = load_recipe(req.recipe)
        except RecipeError as e:
            raise EvalInputError(str(e)) from None
        if getattr(recipe, "kind", "") == "bench":
            raise EvalInputError(f"--recipe {req.recipe}: a bench recipe has no world; name a world recipe "
                                 "(micro, toy, study, study-forms, study-joined, mechanism or a .toml of that kind)")
        return world_tasks(World(recipe.world)), recipe.eval, {"prompt": "world", "world": to_dict(recipe.world)}
    langs = list(req.langs) or bench_langs(req.bench, req.data)
    check_runtimes(langs)
    fmt = prompt_format(tok, req.prompt)
    prompt = {"style": "chat", **to_dict(fmt.cfg)} if hasattr(fmt, "cfg") else {"style": "plain"}
    return bench_tasks(req.bench, req.data, langs, fmt), ModelEvalConfig(langs=tuple(langs)), {"prompt": prompt}


def resolve_model(model: str, progress: bool = False) -> str:
    """A known GGUF model ('smollm2') converted once into artifacts/models/ (as the bench recipes do); any
    other name unchanged."""
    from train.pretrained import KNOWN, ModelSourceError
    if model not in KNOWN:
        return model
    from .sources.bench import ensure_model
    try:
        return ensure_model(model, progress=progress)
    except ModelSourceError as e:
        raise EvalInputError(str(e)) from None


def link_checkpoint(dest: Path, model: str, adapter: str | None, tok) -> None:
    """checkpoints/<name> (see the module docstring); nothing for a hub model without an adapter."""
    from train.model_eval import is_local
    base = str(Path(model).expanduser().resolve()) if is_local(model) else model
    dest.parent.mkdir(parents=True, exist_ok=True)
    if adapter is None:
        if is_local(model):
            dest.symlink_to(base, target_is_directory=True)
        return
    shutil.copytree(adapter, dest, symlinks=False)
    cfg_path = dest / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = base
    cfg_path.write_text(json.dumps(cfg, indent=2))
    if not any((dest / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        tok.save_pretrained(dest)


def summary_lines(scores: dict, name: str) -> list[str]:
    """A short table of the scores: pass@1 [95% CI] per language, and pass@k when sampled."""
    lines = [f"{name}: pass@1 (%) [95% CI]"]
    for lang, s in scores.items():
        lo, hi = s["ci95"]
        line = f"  {lang:<11} {100 * s['pass@1']:5.1f} [{100 * lo:.1f}, {100 * hi:.1f}]  n={s['n']}"
        for key, value in (s.get("pass@k") or {}).items():
            if key.startswith("pass@") and key != "pass@1":
                klo, khi = s["pass@k"].get("ci95@" + key.split("@")[1], [float("nan")] * 2)
                line += f"  {key} {100 * value:.1f} [{100 * klo:.1f}, {100 * khi:.1f}]"
        lines.append(line)
    return lines


def print_summary(scores: dict, name: str) -> None:
    print("\n".join(summary_lines(scores, name)), file=sys.stderr)
