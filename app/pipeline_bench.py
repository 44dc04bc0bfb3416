"""The study on a pretrained model and real benchmarks (recipes with `kind = "bench"`):

    model -> bench-data -> sft-data -> sft-<arm> -> rl-<arm> -> eval-<ckpt> -> tables

- `model`: a known GGUF model is converted once into `artifacts/models/<name>/` (shared by every run);
  a local folder or hub id is used as given. The base checkpoint is not copied into the run.
- `bench-data`: MBXP loaded from `[data].mbxp` (`--data`); references checked in the sandbox (verdicts
  cached by program hash in `artifacts/cache/reference_verdicts.json`); the SFT pool, RL problems and
  entropy problems written to `data/bench.json` with the counts.
- `sft-data`, `sft-<arm>`: the world's equal-budget arms (`train.mixtures.build_arms`) on the pool, with
  chat-template prompts (`train.prompts`); LoRA SFT through trl, merged into `checkpoints/sft-<arm>`.
- `rl-<arm>`: GRPO in `[rl].lang` with the MBXP tests as reward (`train.grpo.run_grpo`, LoRA merged).
- `eval-<ckpt>`: `base`, every `sft-*` and `rl-*` on MBXP test numbers and Multi-HumanEval
  (`train.evaluate.evaluate_checkpoint` per benchmark; rows carry `split` = the benchmark).
- `tables`: `scores.json` / `transfer.json` in the world's shape for MBXP, and per benchmark in
  `scores_by_benchmark.json` / `transfer_by_benchmark.json`.
- `probe` (when the recipe has a `[probe]` table): activations of the base model and the checkpoints on
  MBXP's parallel programs and the alignment metrics (`app.probing`, `probes/`); `report`: report.html.

The run folder follows the world's contract (README); `evals/<ckpt>.scores.json` is `{benchmark: {lang:
...}}` here. `only` runs one stage whose upstream stages are done (what `accelerate launch` runs per
training stage on GPUs; only rank 0 writes). `plan()` is the dry run: it checks configs, data, model,
the accelerate config and prints the commands without loading the model. Not for: the training itself
(`train/`).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .pipeline import REPORT_VERSION, RunResult, _logger, prepare_run_dir
from .runfs import EventLog, atomic_dir, read_json, write_json, write_jsonl
from .stages import Stage, StageRunner

MODELS = Path("artifacts") / "models"
CACHE = Path("artifacts") / "cache"


class StageOrderError(Exception):
    pass


def ensure_model(name: str, models_dir: Path = MODELS, progress: bool = False) -> str:
    """The base checkpoint to load: a known GGUF model converted into `models_dir` (once), else `name`."""
    from train.pretrained import KNOWN, convert_gguf, gguf_path, is_converted
    if name not in KNOWN:
        return name
    out = Path(models_dir) / KNOWN[name].default_dir
    if not is_converted(out):
        with atomic_dir(out) as tmp:
            convert_gguf(gguf_path(name), tmp, progress=progress)
    return str(out)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _tasks_by_id(recipe, tok, ids_by_name: dict[str, list[str]], langs) -> dict[str, list]:
    from train.bench_data import candidates, load_mbxp
    from train.prompts import ChatPrompt
    fmt = ChatPrompt(tok, recipe.prompt)
    problems = load_mbxp(recipe.data, langs)
    out = {}
    for name, ids in ids_by_name.items():
        by_id = {t.id: t for t in candidates(problems, langs if name != "rl" else [recipe.rl.lang],
                                             [(1, 10_000)], fmt=fmt, split=name)}
        out[name] = [by_id[i] for i in ids]
    return out


def run_bench_pipeline(recipe, root: Path, quiet: bool = False, resume: bool = False, force: bool = False,
                       only: str | None = None, models_dir: Path = MODELS, cache_dir: Path = CACHE) -> RunResult:
    """Run (or resume) one seed of a bench recipe into `root` (see the module docstring)."""
    t_start = time.time()
    main_rank = _rank() == 0
    local = os.environ.get("LOCAL_RANK")
    if local is not None and recipe.runtime.device == "cuda":   # under accelerate: this process's own GPU
        import dataclasses
        recipe = dataclasses.replace(recipe, runtime=dataclasses.replace(recipe.runtime, device=f"cuda:{local}"))
    if only is None or main_rank:
        prepare_run_dir(root, {**recipe.to_dict(), "seed": recipe.runtime.seed}, resume or only is not None, force)
    events = EventLog(root / "events.jsonl" if main_rank else Path(os.devnull))
    events("run_start", recipe=recipe.name, seed=recipe.runtime.seed, pid=os.getpid(), only=only)
    recipe.runtime.apply()
    runner = StageRunner(root, events, quiet=quiet or not main_rank)
    progress = not quiet and main_rank
    ckpt = root / "checkpoints"
    hashes = recipe.stage_hashes()
    sft = recipe.sft
    langs = list(sft.seen_langs)
    state: dict = {}
    stages: list[Stage] = []
    stage = stages.append
    executor = {}

    def get_executor():
        if "ex" not in executor:
            from evals.execution import Executor
            executor["ex"] = Executor().__enter__()
        return executor["ex"]

    def model_stage():
        path = ensure_model(recipe.model.name, models_dir, progress)
        write_json(root / "data" / "model.json", {"name": recipe.model.name, "path": path})
        return {"path": path}
    stage(Stage("model", {"h": hashes["model"]}, model_stage))

    def base() -> str:
        info = read_json(root / "data" / "model.json") or {}
        return info.get("path") or ensure_model(recipe.model.name, models_dir)

    def tokenizer():
        if "tok" not in state:
            from transformers import AutoTokenizer
            state["tok"] = AutoTokenizer.from_pretrained(base())
        return state["tok"]

    def data_stage():
        from evals.execution import Executor
        from train.bench_data import candidates, load_mbxp, passing, verify
        problems = load_mbxp(recipe.data, langs + [recipe.rl.lang])
        d = recipe.data
        pool = candidates(problems, langs, d.sft_ids, d.sft_max_problems, split="sft")
        rl = candidates(problems, [recipe.rl.lang], d.rl_ids, d.rl_max_problems, split="rl")
        ent = candidates(problems, langs, d.rl_ids, 2 * sft.entropy_tasks, split="entropy") if sft.entropy_tasks else []
        cache = cache_dir / "reference_verdicts.json"
        known = read_json(cache, {}) or {}
        with Executor() as ex:
            v_pool = verify(pool, langs, ex, d.check_timeout, known)
            v_rl = verify(rl, [recipe.rl.lang], ex, d.check_timeout, known)
            v_ent = verify(ent, langs, ex, d.check_timeout, known)
        write_json(cache, known)
        ok_pool, ok_rl = passing(pool, v_pool, langs), passing(rl, v_rl, [recipe.rl.lang])
        ok_ent = passing(ent, v_ent, langs)[:sft.entropy_tasks]
        counts = {la: {"candidates": len(pool), "passed": sum(v_pool[t.id].get(la) == "passed" for t in pool)}
                  for la in langs}
        write_json(root / "data" / "bench.json", {
            "source": recipe.data.mbxp, "langs": langs, "sft_ids": [list(r) for r in d.sft_ids],
            "rl_ids": [list(r) for r in d.rl_ids], "reference_check": counts,
            "sft_pool": [t.id for t in ok_pool], "rl": [t.id for t in ok_rl], "entropy": [t.id for t in ok_ent],
            "rl_reference_check": {"candidates": len(rl), "passed": len(ok_rl)}})
        if not ok_pool or not ok_rl:
            raise RuntimeError(f"bench-data: {len(ok_pool)} SFT problems and {len(ok_rl)} RL problems pass their "
                               "references: widen [data].sft_ids / rl_ids")
        return {"sft_pool": len(ok_pool), "rl": len(ok_rl)}
    stage(Stage("bench-data", {"h": hashes["data"]}, data_stage, after=["model"]))

    def tasks() -> dict[str, list]:
        if "tasks" not in state:
            info = read_json(root / "data" / "bench.json")
            state["tasks"] = _tasks_by_id(recipe, tokenizer(), {k: info[k] for k in ("sft_pool", "rl", "entropy")},
                                          langs)
        return state["tasks"]

    def mixtures():
        if "mix" not in state:
            import dataclasses

            from train.bench_data import TaskPool, auto_budget
            from train.mixtures import build_arms
            pool, cfg = tasks()["sft_pool"], sft
            if sft.budget_auto:
                cfg = dataclasses.replace(sft, budget_tokens=auto_budget(pool, tokenizer(), sft))
            datasets, manifest = build_arms(TaskPool({"train": pool}), tokenizer(), cfg, seed=recipe.runtime.seed)
            state["mix"] = (datasets, manifest)
        return state["mix"]

    stage(Stage("sft-data", {"h": hashes["sft"]}, lambda: write_json(root / "data" / "sft_mixtures.json",
                                                                       mixtures()[1]), after=["bench-data"]))
    arms = list(sft.arms)
    for arm in arms:
        def sft_stage(arm=arm):
            from train.bench_data import entropy_eval
            from train.sft import run_sft
            ent = entropy_eval(tasks()["entropy"], langs, sft.entropy_tasks)
            with atomic_dir(ckpt / f"sft-{arm}") as tmp:
                run_sft(base(), tokenizer(), mixtures()[0][arm], sft, out_dir=tmp, progress=progress,
                        log=_logger(events, f"sft-{arm}"), runtime=recipe.runtime, entropy_eval=ent)
        stage(Stage(f"sft-{arm}", {"h": hashes["sft"], "arm": arm}, sft_stage, after=["sft-data"]))

    for arm in arms:
        def rl_stage(arm=arm):
            from train.grpo import run_grpo
            with atomic_dir(ckpt / f"rl-{arm}") as tmp:
                run_grpo(str(ckpt / f"sft-{arm}"), tokenizer(), tasks()["rl"], recipe.rl.lang, recipe.rl,
                         get_executor(), tmp, progress=progress, log=_logger(events, f"rl-{arm}"))
        stage(Stage(f"rl-{arm}", {"h": hashes["rl"]}, rl_stage, after=[f"sft-{arm}"]))

    ckpts = ["base"] + [f"sft-{a}" for a in arms] + [f"rl-{a}" for a in arms]
    for name in ckpts:
        def eval_stage(name=name):
            return _evaluate(recipe, base() if name == "base" else str(ckpt / name), tokenizer(), get_executor(),
                             root, name, progress, _logger(events, f"eval-{name}"))
        stage(Stage(f"eval-{name}", {"h": hashes["eval"]}, eval_stage, after=["model" if name == "base" else name]))

    stage(Stage("tables", {"h": hashes["eval"], "ckpts": ckpts},
                lambda: _tables(root, ckpts, arms, recipe), after=[f"eval-{n}" for n in ckpts]))
    report_after = ["tables"]
    if recipe.probe:
        from train.config import hashed_view
        probe_cfg = probe_config(recipe.probe)
        stage(Stage("probe", {"probe": hashed_view(probe_cfg), "data": hashes["data"]},
                    lambda: _probe(recipe, probe_cfg, root, base(), progress, _logger(events, "probe")),
                    after=["tables"]))
        report_after.append("probe")

    def report_stage():
        from .report import write_report
        return {"report": str(write_report(root).relative_to(root))}
    stage(Stage("report", {"v": REPORT_VERSION}, report_stage, after=report_after))
    try:
        _run_stages(stages, runner, only, main_rank)
    finally:
        if "ex" in executor:
            executor["ex"].__exit__(None, None, None)
    seconds = round(time.time() - t_start, 1)
    events("run_end", seconds=seconds, ran=runner.ran, skipped=runner.skipped)
    return RunResult(root, runner.ran, runner.skipped, seconds)


def _run_stages(stages: list[Stage], runner: StageRunner, only: str | None, main_rank: bool) -> None:
    """All stages in order; with `only`, that stage after checking that its upstream stages are done (the
    cheap `model` stage is done on the way); on ranks other than 0 the stage runs without bookkeeping."""
    if only is None:
        for s in stages:
            runner(s)
        return
    by_name = {s.name: s for s in stages}
    if only not in by_name:
        raise StageOrderError(f"no stage named {only!r}; stages: {', '.join(by_name)}")
    upstream, todo = set(), list(by_name[only].after)
    while todo:
        name = todo.pop()
        if name not in upstream:
            upstream.add(name)
            todo += by_name[name].after
    for s in stages:
        if s.name not in upstream and s.name != only:
            continue
        h = s.hash(runner.hashes)
        if s.name == only:
            if main_rank:
                runner(s)
            else:
                runner.hashes[s.name] = h
                s.run()   # the other ranks of a multi-GPU launch train too, and write nothing
            return
        if s.name == "model" and not runner.done(s.name, h) and main_rank:
            runner(s)
            continue
        runner.hashes[s.name] = h
        if not runner.done(s.name, h):
            raise StageOrderError(f"stage {s.name!r} (upstream of {only!r}) is not done: run it first")


def eval_sets(recipe, tok) -> dict[str, list]:
    """benchmark -> evaluation tasks (chat prompts), before `select_tasks` picks the fixed subset."""
    from evals.benchmarks import load_benchmark
    from train.bench_data import eval_tasks, humaneval_source
    from train.prompts import ChatPrompt
    fmt = ChatPrompt(tok, recipe.prompt)
    out = {}
    for bench in recipe.eval.benchmarks:
        cfg = recipe.eval.for_benchmark(bench)
        source = recipe.data.mbxp if bench == "mbxp" else humaneval_source(recipe.data)
        out[bench] = eval_tasks(load_benchmark(bench, source, langs=list(cfg.langs)), cfg.langs, bench, fmt)
    return out


_EVAL_SETS: dict = {}


def _cached_eval_sets(recipe, tok) -> dict[str, list]:
    """`eval_sets` once per recipe and tokenizer in this process (every checkpoint is scored on them)."""
    key = (id(tok), recipe.hash("eval"), recipe.hash("prompt"), recipe.data.mbxp, recipe.data.humaneval)
    if key not in _EVAL_SETS:
        _EVAL_SETS.clear()
        _EVAL_SETS[key] = eval_sets(recipe, tok)
    return _EVAL_SETS[key]


def _evaluate(recipe, path: str, tok, executor, root: Path, name: str, progress: bool, log) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from train.evaluate import evaluate_checkpoint
    dtype = torch.bfloat16 if recipe.model.train_dtype == "bfloat16" else torch.float32
    device = recipe.runtime.apply()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    rows, scores, timings = [], {}, {}
    for bench, tasks in _cached_eval_sets(recipe, tok).items():
        t: dict = {}
        r, s = evaluate_checkpoint(model, tok, tasks, recipe.eval.for_benchmark(bench), executor, progress=progress,
                                   log=log, timings=t)
        for row in r:
            row["split"] = bench
        rows += r
        scores[bench] = s
        timings[bench] = t
    write_jsonl(root / "evals" / f"{name}.jsonl", rows)
    write_json(root / "evals" / f"{name}.scores.json", scores)
    return {"timings": timings}


class BadProbeConfig(ValueError):
    pass


def probe_config(section: dict):
    """The recipe's `[probe]` table as a `probe.config.ProbeConfig` (a bad key is one clear error)."""
    from probe.config import ProbeConfig
    try:
        cfg = ProbeConfig.from_dict(section)
    except (ValueError, TypeError) as e:
        raise BadProbeConfig(f"[probe]: {e}") from None
    if cfg.lexical_control:
        raise BadProbeConfig("[probe].lexical_control: the lexical control renames the world's identifiers; "
                             "benchmark programs have none to rename")
    return cfg


def _probe(recipe, cfg, root: Path, base: str, progress: bool, log) -> dict:
    """Probe the base model and the run's checkpoints on MBXP's parallel programs (references that pass),
    with the evaluation outcomes and the transfer table for alignment vs transfer (`app.probing`)."""
    from app.probing import MBXP_LANGS, eval_outcomes, mbxp_rows, probe_models, run_checkpoints, summary_of
    names = list(cfg.ckpts)
    models = {"base": Path(base)} if not names or "base" in names else {}
    models.update(run_checkpoints(root, [n for n in names if n != "base"]))
    rows, meta = mbxp_rows(recipe.data.mbxp, list(cfg.langs or MBXP_LANGS), cfg.n_tasks, cfg.text, check=True,
                           progress=progress)
    metrics = probe_models(root, rows, models, cfg, {**meta, "text": cfg.text, "config": cfg.to_dict()},
                           transfer=read_json(root / "transfer.json"), outcomes=eval_outcomes(root),
                           progress=progress, log=log)
    return summary_of(metrics)


def _tables(root: Path, ckpts: list[str], arms: list[str], recipe) -> None:
    from train.transfer import transfer_table
    scores = {n: read_json(root / "evals" / f"{n}.scores.json") for n in ckpts}
    rows = {n: [json.loads(x) for x in (root / "evals" / f"{n}.jsonl").read_text().splitlines()] for n in ckpts}
    pairs = {arm: (f"sft-{arm}", f"rl-{arm}") for arm in arms}
    by_bench_scores, by_bench_transfer = {}, {}
    for bench in recipe.eval.benchmarks:
        s = {n: scores[n][bench] for n in ckpts}
        r = {n: [x for x in rows[n] if x["split"] == bench] for n in ckpts}
        by_bench_scores[bench] = s
        by_bench_transfer[bench] = transfer_table(s, r, pairs, source=recipe.rl.lang, n_boot=recipe.eval.n_boot,
                                                  seed=recipe.eval.seed, seen_langs=recipe.sft.seen_langs)
    primary = recipe.eval.benchmarks[0]
    write_json(root / "scores_by_benchmark.json", by_bench_scores)
    write_json(root / "transfer_by_benchmark.json", by_bench_transfer)
    write_json(root / "scores.json", by_bench_scores[primary])
    write_json(root / "transfer.json", by_bench_transfer[primary])
