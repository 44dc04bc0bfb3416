"""The study pipeline, one stage graph for every recipe: the task source's head stages (world ->
tokenizer -> pretrain, or model -> bench-data; `app/sources/`) -> sft-data -> SFT arms -> RL arms in
the source language + oracles -> an evaluation of every checkpoint on the source's evaluation sets ->
tables -> probes (activations and alignment metrics, `app.probing`) -> causal tests (a recipe's optional
`[interventions]` table: `app.intervening`) -> the HTML report.

`build_graph(recipe, source, ctx)` lists the stages; each is a module-level function of a
`RunContext` (and its arm or checkpoint) that a test can call alone. A stage writes its outputs
atomically and a marker with its hash (`app/stages.py`); a rerun skips what is done and matches
(`--resume`), so a run killed at any moment and resumed ends with the results of an uninterrupted one.
`run_pipeline` checks the input first (`preflight`: nothing is written or deleted before), then runs
the graph, or one stage of it (`only`: what `accelerate launch` runs per training stage; only rank 0
writes); with `[runtime].jobs` > 1 the stages whose upstream is done run at once, each in its own process
(`app.jobs`, `run_stage_job`). `dry_run` lists the same graph with the command of each stage. `quiet`
silences progress bars, stage lines and library warnings (the event log still records everything).
Not for: the training itself (`train/`) or the folder layout's writing primitives (`runfs.py`).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .context import RunContext, launch_rank
from .preflight import check_jobs, interventions_config, preflight, probe_config
from .runfs import clean_temporaries, read_json, write_json, write_jsonl
from .stages import Stage, StageRunner

# An oracle arm runs the same RL directly in a target language (the recipe's `oracles`), starting from
# the parallel arm's SFT checkpoint; its gain bounds what transfer could give in that language.
ORACLE_BASE_ARM = "parallel"
# Bump when transfer.json's content changes, so that `--resume` rewrites the tables of finished runs.
TABLES_VERSION = 2
# 2: the probe set is the evaluated tasks (every probed program has a verdict); runs probed before re-probe
PROBE_VERSION = 2
# Bump when the report's content changes, so that `--resume` rewrites the reports of finished runs.
REPORT_VERSION = 3
# Bump when interventions/<name>.json's content changes, so that `--resume` reruns the intervention stages.
INTERVENTIONS_VERSION = 1


def rl_pairs(arms, oracles=()) -> dict[str, tuple[str, str]]:
    """RL arm -> (the SFT checkpoint it starts from, the checkpoint it writes): `rl-<arm>` from
    `sft-<arm>` for every SFT arm, then `oracle-<lang>` from the parallel arm (else the first)."""
    arms = list(arms)
    pairs = {arm: (f"sft-{arm}", f"rl-{arm}") for arm in arms}
    oracle_base = f"sft-{ORACLE_BASE_ARM}" if ORACLE_BASE_ARM in arms else f"sft-{arms[0]}"
    for lang in oracles:
        pairs[f"oracle-{lang}"] = (oracle_base, f"oracle-{lang}")
    return pairs


def rl_langs(pairs, source: str) -> dict[str, str]:
    """RL arm -> the language its RL ran in: `oracle-<lang>` in <lang>, every other arm in `source`."""
    return {arm: arm.split("-", 1)[1] if arm.startswith("oracle-") else source for arm in pairs}


def checkpoints(recipe) -> list[str]:
    """The run's checkpoints in graph order: base, sft-<arm>..., rl-<arm>..., oracle-<lang>..."""
    pairs = rl_pairs(recipe.sft.arms, getattr(recipe, "oracles", ()))
    return ["base"] + [f"sft-{a}" for a in recipe.sft.arms] + [out for _, out in pairs.values()]


# ---- the stages every source shares --------------------------------------------------------------

def sft_data_stage(ctx: RunContext) -> None:
    """data/sft_mixtures.json: the arms' manifest (token counts, task ids per language)."""
    write_json(ctx.root / "data" / "sft_mixtures.json", ctx.source.sft_data(ctx)[1])


def sft_stage(ctx: RunContext, arm: str) -> None:
    """checkpoints/sft-<arm>: the base model fine-tuned on the arm's mixture."""
    from train.sft import run_sft
    src, r = ctx.source, ctx.recipe
    data = src.sft_data(ctx)[0][arm]
    with ctx.output_dir(ctx.checkpoint(f"sft-{arm}")) as tmp:
        run_sft(src.base_model(ctx), src.tokenizer(ctx), data, r.sft, out_dir=tmp, progress=ctx.progress,
                log=ctx.logger(f"sft-{arm}"), runtime=r.runtime, entropy_eval=src.entropy_eval(ctx),
                align=src.align_pairs(ctx) if arm == "align" else None, batch_size=r.sft.batch_size_for(arm))


def rl_config(ctx: RunContext):
    """`[rl]` as the RL stages run it: threads and device follow `[runtime]` unless `[rl]` states its own
    (threads 0 -> runtime.threads; device 'cpu' -> cuda when the run's device is a GPU). Applied when the
    stage runs, so neither enters a hash."""
    import dataclasses
    cfg, runtime = ctx.recipe.rl, ctx.recipe.runtime
    changes = {}
    if cfg.threads == 0 and runtime.threads:
        changes["threads"] = runtime.threads
    if cfg.device == "cpu" and ctx.device.type == "cuda":
        changes["device"] = "cuda"
    return dataclasses.replace(cfg, **changes) if changes else cfg


def rl_stage(ctx: RunContext, base: str, out: str, lang: str) -> None:
    """checkpoints/<out>: GRPO from checkpoint `base` on the source's RL tasks in `lang`."""
    from train.grpo import run_grpo
    src = ctx.source
    with ctx.output_dir(ctx.checkpoint(out)) as tmp:
        run_grpo(str(ctx.checkpoint(base)), src.rl_tokenizer(ctx), src.rl_tasks(ctx, lang), lang, rl_config(ctx),
                 ctx.executor(), tmp, progress=ctx.progress, log=ctx.logger(out))


def eval_stage(ctx: RunContext, ckpt: str) -> dict:
    """evals/<ckpt>.jsonl and .scores.json: the checkpoint, on `[runtime].device`, on every evaluation set
    of the source (scores keyed by set when the source has several kinds, `source.scores_by_set`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from train.evaluate import evaluate_checkpoint
    src = ctx.source
    path = src.base_model(ctx) if ckpt == "base" else str(ctx.checkpoint(ckpt))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, src.eval_dtype)).to(ctx.device).eval()
    tok = src.eval_tokenizer(ctx, path)
    rows, scores, timings = [], {}, {}
    for es in src.eval_sets(ctx):
        t: dict = {}
        r, s = evaluate_checkpoint(model, tok, es.tasks, es.config, ctx.executor(), progress=ctx.progress,
                                   log=ctx.logger(f"eval-{ckpt}"), timings=t)
        for row in r:
            row["split"] = es.split_of(row["task_id"])
        rows += r
        scores[es.name], timings[es.name] = s, t
    if not src.scores_by_set:
        (scores,), (timings,) = scores.values(), timings.values()
    write_jsonl(ctx.root / "evals" / f"{ckpt}.jsonl", rows)
    write_json(ctx.root / "evals" / f"{ckpt}.scores.json", scores)
    return {"timings": timings, "device": str(model.device)}


def tables_stage(ctx: RunContext, ckpts: list[str], pairs: dict) -> None:
    """scores.json and transfer.json (of the first evaluation set), and per set in scores_by_benchmark.json /
    transfer_by_benchmark.json when the source has several."""
    from train.transfer import transfer_table
    r, src = ctx.recipe, ctx.source
    scores = {n: read_json(ctx.root / "evals" / f"{n}.scores.json") for n in ckpts}
    rows = {n: [json.loads(x) for x in (ctx.root / "evals" / f"{n}.jsonl").read_text().splitlines()] for n in ckpts}
    by_set_scores, by_set_transfer = {}, {}
    for name in src.eval_set_names():
        s = {n: scores[n][name] for n in ckpts} if src.scores_by_set else scores
        rw = {n: [x for x in rows[n] if x["split"] == name] for n in ckpts} if src.scores_by_set else rows
        by_set_scores[name] = s
        by_set_transfer[name] = transfer_table(
            s, rw, pairs, source=r.rl.lang, n_boot=r.eval.n_boot, seed=r.eval.seed, seen_langs=r.sft.seen_langs,
            rl_langs=rl_langs(pairs, r.rl.lang), analysis=r.analysis)
    if src.scores_by_set:
        write_json(ctx.root / "scores_by_benchmark.json", by_set_scores)
        write_json(ctx.root / "transfer_by_benchmark.json", by_set_transfer)
    primary = src.eval_set_names()[0]
    write_json(ctx.root / "scores.json", by_set_scores[primary])
    write_json(ctx.root / "transfer.json", by_set_transfer[primary])


def probe_stage(ctx: RunContext, cfg) -> dict:
    """probes/: activations and alignment metrics of the checkpoints (`source.probe`), captured on
    `[runtime].device` unless `[probe].device` is set (applied here, so it enters no hash)."""
    import dataclasses
    if "device" not in ctx.recipe.probe and cfg.device != str(ctx.device):
        cfg = dataclasses.replace(cfg, device=str(ctx.device))
    return ctx.source.probe(ctx, cfg) or {}


def interventions_stage(ctx: RunContext, arm: str, kind: str, cfg, n_tasks: int) -> dict:
    """interventions/<kind>-<arm>.json (and .rows.jsonl): intervention `kind` (`cfg`, an `InterventionConfig`)
    on `rl-<arm>` against the SFT checkpoint it started from, on `n_tasks` tasks drawn as the run's evaluation
    draws its own (`app.intervening.run_interventions`; its finished conditions survive a kill). The unedited pair is
    evaluated once for all kinds (`interventions/.baselines/`). Both checkpoints run on `[runtime].device`."""
    from .intervening import Pair, load_rows, run_interventions, setup_from_recipe
    name = f"{kind}-{arm}"
    target = ctx.root / "interventions" / f"{name}.json"
    if target.exists() and not (ctx.root / "stages" / f"interventions-{name}.json").exists():
        # not this stage's own earlier output (that has a stage marker): a `psft intervene RUN` result of the same name
        raise RunExists(f"{target} was not written by the stage interventions-{name} (a `psft intervene` result?): "
                        "move or rename it; nothing was overwritten")
    base, out = rl_pairs(ctx.recipe.sft.arms, getattr(ctx.recipe, "oracles", ()))[arm]
    ref = {"model": load_rows(ctx.root / "evals" / f"{out}.jsonl"), "vs": load_rows(ctx.root / "evals" / f"{base}.jsonl")}
    pair = Pair(ctx.checkpoint(out), ctx.checkpoint(base), out, base, ref)
    folder = ctx.root / "interventions"
    say = ctx.logger(f"interventions-{name}")

    def log(msg: str) -> None:
        say(msg)
        if ctx.progress:
            print(msg, flush=True)
    result = run_interventions(pair, setup_from_recipe(ctx.recipe), cfg, folder, name=name, n_tasks=n_tasks,
                               executor=ctx.executor(), force=True, progress=ctx.progress,
                               log=log, baselines=folder / ".baselines", device=str(ctx.device))
    return {"output": f"interventions/{name}.json", "conditions": len(result["conditions"])}


def report_stage(ctx: RunContext) -> dict:
    """report.html."""
    from .report import write_report
    return {"report": str(write_report(ctx.root).relative_to(ctx.root))}


# ---- the graph ------------------------------------------------------------------------------------

def build_graph(recipe, source, ctx: RunContext | None = None, probe=None, interventions=None) -> list[Stage]:
    """Every stage of a run of `recipe` on `source`, in order (`ctx` None: to list or hash them only).
    `probe` is the probe stage's config (`preflight.probe_config`; None: no probe stage); `interventions`
    the intervention stages' (`preflight.interventions_config`; None: none)."""
    from train.config import hashed_view, stable_hash
    h = recipe.stage_hashes()
    arms = list(recipe.sft.arms)
    stages = source.head_stages(ctx)
    stages.append(Stage("sft-data", {"h": h["sft"]}, partial(sft_data_stage, ctx), after=[source.pool_after]))
    for arm in arms:
        stages.append(Stage(f"sft-{arm}", {"h": h["sft"], "arm": arm}, partial(sft_stage, ctx, arm),
                            after=["sft-data"]))
    pairs = rl_pairs(arms, getattr(recipe, "oracles", ()))
    for name, lang in rl_langs(pairs, recipe.rl.lang).items():
        base, out = pairs[name]
        stages.append(Stage(out, {"h": h["rl"], "lang": lang}, partial(rl_stage, ctx, base, out, lang), after=[base]))
    ckpts = checkpoints(recipe)
    for c in ckpts:
        # Its own sections only: the checkpoint it evaluates comes in through `after` (an [rl] change re-runs
        # the RL checkpoints' evaluations, not eval-base or eval-sft-*); not n_boot, which sets the tables'
        # resamples only (changing it re-runs the tables alone).
        stages.append(Stage(f"eval-{c}", {"h": recipe.evaluation_hash()}, partial(eval_stage, ctx, c),
                            after=[source.base_after if c == "base" else c]))
    stages.append(Stage("tables", {"h": recipe.hash("eval"), "ckpts": ckpts, "analysis": recipe.hash("analysis"),
                                   "v": TABLES_VERSION}, partial(tables_stage, ctx, ckpts, pairs),
                        after=[f"eval-{c}" for c in ckpts]))
    report_after = ["tables"]
    if probe is not None:
        # hashed_view: a probe field left at its default (marked hash=if_set) keeps existing runs' probe hash
        stages.append(Stage("probe", {"config": stable_hash(hashed_view(probe)), "v": PROBE_VERSION},
                            partial(probe_stage, ctx, probe),
                            after=["tables"]))
        report_after.append("probe")
    if interventions is not None:   # the report shows them: it comes after, and reads them (a recipe without
        added = intervention_stages(recipe, ctx, interventions, pairs)   # the table keeps its report hash)
        stages += added
        report_after += [s.name for s in added]
    stages.append(Stage("report", {"v": REPORT_VERSION}, partial(report_stage, ctx), after=report_after))
    return stages


def intervention_stages(recipe, ctx, table, pairs) -> list[Stage]:
    """`interventions-<kind>-<arm>` for every arm and kind of the `[interventions]` table, after the tables and
    probes and before the report (which shows them). One stage per (arm, kind), not one per arm: each is hashed from
    the fields its kind reads (`alphas` moves the transplant stages only), resumes alone, and its wall time
    is its own line in events.jsonl. Each reads the arm's two checkpoints and their evaluations (whose
    hashes carry the world, the training and `[eval]`)."""
    from .preflight import intervention_kind_config
    langs = rl_langs(pairs, recipe.rl.lang)
    n_tasks = table.n_tasks or recipe.eval.n_tasks
    out = []
    for arm in table.arms:
        base, ckpt = pairs[arm]
        for kind in table.kinds:
            cfg = intervention_kind_config(recipe, table, arm, kind, langs[arm])
            out.append(Stage(f"interventions-{kind}-{arm}",
                             {"config": cfg.to_dict(), "n_tasks": n_tasks, "v": INTERVENTIONS_VERSION},
                             partial(interventions_stage, ctx, arm, kind, cfg, n_tasks),
                             after=[base, ckpt, f"eval-{base}", f"eval-{ckpt}"]))
    return out


# ---- running it -----------------------------------------------------------------------------------

class RunExists(Exception):
    pass


@dataclass
class RunResult:
    root: Path
    ran: list[str]
    skipped: list[str]
    seconds: float


def prepare_run_dir(root: Path, recipe_dict: dict, resume: bool, force: bool) -> None:
    """Refuse to touch an existing run unless told to; with --force start it afresh."""
    cfg = root / "config.json"
    if root.exists() and any(root.iterdir()):
        if force:
            shutil.rmtree(root)
        elif not resume:
            raise RunExists(f"{root} already holds a run: pass --resume to continue it or --force to redo it")
        elif cfg.exists() and read_json(cfg) is None:
            raise RunExists(f"{cfg} is not readable JSON")
    root.mkdir(parents=True, exist_ok=True)
    clean_temporaries(root)
    write_json(cfg, recipe_dict)


@contextmanager
def quiet_output(on: bool):
    """Silence the libraries' progress bars and warnings while `on`."""
    if not on:
        yield
        return
    from train.config import quiet_libraries
    with quiet_libraries(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_pipeline(recipe, root: Path, quiet: bool = False, resume: bool = False, force: bool = False,
                 only: str | None = None, source=None, checked=None) -> RunResult:
    """Run (or resume) one seed of any recipe into `root`; with `only`, that stage alone (its upstream must
    be done). Bad input is refused before the run folder is touched; `checked()` is called once the
    input has passed (the command prints its advice there, so a refusal stays one line)."""
    from .sources import source_for
    source = source or source_for(recipe)
    probe = preflight(recipe, source, root, resume or only is not None, force)
    if only is None:
        check_jobs(recipe)
    if checked is not None:
        checked()
    interventions = interventions_config(recipe, source)
    with quiet_output(quiet):
        return _run(recipe, source, probe, root, quiet, resume, force, only, interventions)


def _run(recipe, source, probe, root: Path, quiet: bool, resume: bool, force: bool, only: str | None,
         interventions=None) -> RunResult:
    t_start = time.time()
    main = launch_rank() == 0
    if main:
        prepare_run_dir(root, {**recipe.to_dict(), "seed": recipe.runtime.seed}, resume or only is not None, force)
    ctx = RunContext(recipe, source, root, progress=not quiet and main)
    ctx.log("run_start", recipe=recipe.name, seed=recipe.runtime.seed, pid=os.getpid(), only=only,
            jobs=recipe.runtime.jobs)
    ctx.device   # noqa: B018 -- sets torch's threads (runtime.apply) before any stage
    runner = StageRunner(root, ctx.log, quiet=quiet or not main)
    graph = build_graph(recipe, source, ctx, probe, interventions)
    jobs = recipe.runtime.jobs
    try:
        if jobs > 1 and only is None and main:
            from train.config import auto_threads

            from .jobs import run_jobs
            run_jobs(graph, runner, jobs, stage_launcher(recipe, root, quiet), threads=auto_threads(recipe.runtime.threads))
        else:
            runner.run_graph(graph, only=only, main=main, cheap=source.cheap_stages)
    finally:
        ctx.close()
    seconds = round(time.time() - t_start, 1)
    ctx.log("run_end", seconds=seconds, ran=runner.ran, skipped=runner.skipped)
    return RunResult(root, runner.ran, runner.skipped, seconds)


def stage_launcher(recipe, root: Path, quiet: bool):
    """How `app.jobs.run_jobs` starts a stage: `python -m app.stage_job` in its own process group (this
    code's folder first on its PYTHONPATH), reading from stdin the recipe as resolved here, the run folder,
    the stage, the hash this process computed for it, its torch threads and `quiet`."""
    import subprocess
    import sys
    data = recipe.to_dict()
    if getattr(recipe, "kind", "") == "bench":
        data["path"] = recipe.path   # not in to_dict (config.json): where [launch]'s relative paths start
    spec = {"recipe": data, "root": str(root), "quiet": quiet, "parent": os.getpid()}
    code = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))}

    def launch(stage: str, h: str, threads: int, log) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "app.stage_job"], stdin=subprocess.PIPE, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env, text=True)
        try:
            proc.stdin.write(json.dumps({**spec, "stage": stage, "hash": h, "threads": threads}))
            proc.stdin.close()
        except BrokenPipeError:   # it died at once: its log says why, and run_jobs reports it
            pass
        return proc
    return launch


def run_stage_job(spec: dict) -> None:
    """One stage in a child process of `psft run --jobs N` (see `stage_launcher`): the recipe rebuilt from the
    parent's resolved one, with the parent's threads for this process; the stage runs only if its hash here is
    the parent's (the same recipe), and only once its upstream stages are done, as `psft run --stage NAME
    --resume` would run it, but without preflight or touching the run folder's other files (the parent did
    that, and sibling stages are writing)."""
    import dataclasses

    from train.recipe import recipe_from_dict

    from .sources import source_for
    from .stages import StageOrderError, graph_hashes
    recipe = recipe_from_dict(spec["recipe"])
    recipe = dataclasses.replace(recipe, runtime=dataclasses.replace(recipe.runtime, threads=spec["threads"], jobs=1))
    source, root, name, quiet = source_for(recipe), Path(spec["root"]), spec["stage"], spec["quiet"]
    with quiet_output(quiet):
        ctx = RunContext(recipe, source, root, progress=False)
        graph = build_graph(recipe, source, ctx, probe_config(recipe, source), interventions_config(recipe, source))
        got = graph_hashes(graph).get(name)
        if got != spec["hash"]:
            raise StageOrderError(f"stage {name}: hash {got} here, {spec['hash']} in the run that started it "
                                  "(not the same recipe): not run")
        ctx.device   # noqa: B018 -- sets torch's threads (runtime.apply) before the stage
        try:
            StageRunner(root, ctx.log, quiet=quiet).run_graph(graph, only=name)
        finally:
            ctx.close()


def dry_run(recipe, out: Path, runs: list[Path], recipe_arg: str, data_arg: str | None, sets: list[str]) -> dict:
    """The dry run's report: {"recipe", "kind", "runs", "stages", "errors", "warnings"} and what the
    source checks (a bench recipe: "model", "data", "launch", "estimates"); nothing is loaded or written.
    "stages" is the graph `run_pipeline` runs, each stage with what it reads (`after`), its hash for the
    first run's seed and the command that runs it for every seed (training stages through `accelerate
    launch` when the recipe has a `[launch].accelerate_config`)."""
    from .preflight import BadInput, check_out_dir, check_runtimes
    from .sources import source_for
    from .stages import graph_hashes
    source = source_for(recipe)
    errors: list[str] = []
    warns: list[str] = []
    probe = None
    for check in (lambda: check_out_dir(out), lambda: check_runtimes(source.executed_langs()),
                  source.check_inputs):
        try:
            check()
        except BadInput as e:
            errors.append(str(e))
    try:
        probe = probe_config(recipe, source)
    except BadInput as e:
        errors.append(str(e))
    interventions = None
    try:
        interventions = interventions_config(recipe, source)
    except BadInput as e:
        errors.append(str(e))
    checked = source.dry_run(errors, warns)
    stages = build_graph(recipe, source, None, probe, interventions)
    hashes = graph_hashes(stages)
    base = ["psft", "run", "--recipe", recipe_arg, "--out", str(out), "--resume"]
    if data_arg:
        base += ["--data", data_arg]
    for item in sets:
        base += ["--set", item]
    accel = checked.get("launch", {}).get("config_file")
    launch = getattr(recipe, "launch", None)
    train_prefix = (["accelerate", "launch", "--config_file", accel, "--num_processes", str(launch.num_processes),
                     "-m", "app.cli"] if accel else ["psft"])
    pairs = rl_pairs(recipe.sft.arms, getattr(recipe, "oracles", ()))
    trained = {f"sft-{a}" for a in recipe.sft.arms} | {ckpt for _, ckpt in pairs.values()}
    rl_server = recipe.rl.use_vllm and recipe.rl.vllm_mode == "server"
    listed = []
    for s in stages:
        cmd = (train_prefix + base[1:] if s.name in trained else base) + ["--stage", s.name]
        entry = {"stage": s.name, "after": list(s.after), "hash": hashes[s.name], "command": shlex.join(cmd)}
        if rl_server and s.name in trained and not s.name.startswith("sft-"):
            entry["before"] = shlex.join(["trl", "vllm-serve", "--model", str(runs[0] / "checkpoints" / s.after[0])])
        listed.append(entry)
    return {"recipe": recipe.name, "kind": source.kind, "runs": [str(r) for r in runs], **checked,
            "stages": listed, "errors": errors, "warnings": warns}
