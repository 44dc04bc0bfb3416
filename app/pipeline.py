"""The study pipeline on the synthetic world: world → tokenizer → pretraining (base) → SFT arms →
RL arms on the source language + oracle → evaluation of every checkpoint → transfer table → probes
(activations and alignment metrics, `app.probing`) → the HTML report.

Every stage writes its outputs atomically and a marker with the hash of the config it depends on;
a rerun skips what is done and matches (`--resume`), so a run killed at any moment and resumed ends
with the results of an uninterrupted one (each stage is deterministic given its seed on CPU).
Bad input (a language without a runtime, a checkpoint folder that is not a model, ...) is refused by
`preflight` before anything is written; `quiet` silences progress bars, stage lines and library
warnings (the event log still records everything).
Not for: the training itself (`train/`) or the folder layout's writing primitives (`runfs.py`).
"""
from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .preflight import BadInput, check_checkpoints, check_out_dir, check_paths, check_runtimes
from .runfs import EventLog, atomic_dir, clean_temporaries, read_json, write_json, write_jsonl
from .stages import Stage, StageRunner

# The oracle arm runs the same RL directly in a target language held out of every SFT arm, starting
# from the parallel arm's SFT checkpoint; its gain bounds what transfer could give in that language.
ORACLE_LANGS = ("lua",)
ORACLE_BASE_ARM = "parallel"
HELD_OUT_SPLITS = ("test", "heldout_comp", "rl_test")
# Bump when transfer.json's content changes, so that `--resume` rewrites the tables of finished runs.
TABLES_VERSION = 2
# Bump when the report's content changes, so that `--resume` rewrites the reports of finished runs.
REPORT_VERSION = 2


def rl_pairs(arms) -> dict[str, tuple[str, str]]:
    """RL arm -> (the SFT checkpoint it starts from, the checkpoint it writes): `rl-<arm>` from
    `sft-<arm>` for every SFT arm, then `oracle-<lang>` from the parallel arm (else the first)."""
    arms = list(arms)
    pairs = {arm: (f"sft-{arm}", f"rl-{arm}") for arm in arms}
    oracle_base = f"sft-{ORACLE_BASE_ARM}" if ORACLE_BASE_ARM in arms else f"sft-{arms[0]}"
    for lang in ORACLE_LANGS:
        pairs[f"oracle-{lang}"] = (oracle_base, f"oracle-{lang}")
    return pairs


def rl_langs(pairs, source: str) -> dict[str, str]:
    """RL arm -> the language its RL ran in: `oracle-<lang>` in <lang>, every other arm in `source`."""
    return {arm: arm.split("-", 1)[1] if arm.startswith("oracle-") else source for arm in pairs}


class RunExists(Exception):
    pass


@dataclass
class RunResult:
    root: Path
    ran: list[str]
    skipped: list[str]
    seconds: float


def _logger(events: EventLog, stage: str):
    """Adapt the train/ callbacks (dict events or text lines) to the run's JSONL event log."""
    def log(item):
        if isinstance(item, dict):
            fields = dict(item)
            events(fields.pop("event", "log"), stage=stage, **fields)
        else:
            events("log", stage=stage, message=str(item))
    return log


def prepare_run_dir(root: Path, recipe_dict: dict, resume: bool, force: bool) -> None:
    """Refuse to touch an existing run unless told to; with --force start it afresh."""
    import shutil
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


def _section_value(section, name: str, default=None):
    return section.get(name, default) if isinstance(section, dict) else getattr(section, name, default)


def executed_langs(recipe) -> list[str]:
    """Languages whose programs the run executes: evaluation, RL rewards and the oracle arms."""
    from evals.world import LANGS
    return [*(_section_value(recipe.eval, "langs") or LANGS), _section_value(recipe.rl, "lang", "python"),
            *ORACLE_LANGS]


@dataclass
class ProbeSetup:
    """The probe stage's entry point and config, or why it cannot run (`app.probing` not there)."""
    run: object = None
    config: object = None
    unavailable: str = ""


def probe_setup(recipe) -> ProbeSetup:
    """Import the probe stage (`app.probing.probe_run`) and build its config from the recipe's `[probe]`
    table when there is one; a bad key or a missing data path is bad input."""
    try:
        from . import probing
    except ImportError as e:
        return ProbeSetup(unavailable=f"app.probing is not importable ({e})")
    run = getattr(probing, "probe_run", None)
    if run is None:
        return ProbeSetup(unavailable="app.probing has no probe_run")
    cls = getattr(probing, "ProbeConfig", None)
    section = getattr(recipe, "probe", None)
    if isinstance(section, dict) and section and cls is not None:
        from train.config import ConfigError, from_dict
        try:
            config = from_dict(cls, section, "[probe]")
        except (ConfigError, ValueError, TypeError) as e:   # ProbeConfig validates with ValueError
            raise BadInput(f"[probe]: {e}" if not str(e).startswith("[probe]") else str(e)) from None
    elif section and not isinstance(section, dict):
        config = section
    elif cls is not None:
        # No [probe] table: the probe config's defaults, on at most as many tasks as the evaluation uses
        # (the micro recipe evaluates 10: probing 200 would dwarf the rest of its run).
        # A world run probes its lexical control set too (per-language identifiers, metrics.json's "control").
        n_eval = _section_value(recipe.eval, "n_tasks", 0) or 0
        default = cls(lexical_control=True)
        config = cls(n_tasks=min(default.n_tasks, n_eval), lexical_control=True) if 0 < n_eval < default.n_tasks \
            else default
    else:
        config = None
    check_paths({f"[probe].{name}": getattr(config, name, None) for name in ("data_path", "data_dir")})
    return ProbeSetup(run=run, config=config)


def preflight(recipe, root: Path, resume: bool, force: bool) -> ProbeSetup:
    """Refuse bad input before the run folder is touched (see the module docstring)."""
    check_out_dir(root)
    check_runtimes(executed_langs(recipe))
    if resume and not force:
        check_checkpoints(root)
    return probe_setup(recipe)


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


def run_pipeline(recipe, root: Path, quiet: bool = False, resume: bool = False, force: bool = False) -> RunResult:
    """Run (or resume) one seed of a world recipe into `root`."""
    probe = preflight(recipe, root, resume, force)
    with quiet_output(quiet):
        return _run_pipeline(recipe, root, quiet, resume, force, probe)


def _run_pipeline(recipe, root: Path, quiet: bool, resume: bool, force: bool, probe: ProbeSetup) -> RunResult:
    t_start = time.time()
    prepare_run_dir(root, {**recipe.to_dict(), "seed": recipe.runtime.seed}, resume, force)
    events = EventLog(root / "events.jsonl")
    events("run_start", recipe=recipe.name, seed=recipe.runtime.seed, pid=os.getpid())
    recipe.runtime.apply()
    runner = StageRunner(root, events, quiet=quiet)
    progress = not quiet
    ckpt = root / "checkpoints"

    from evals.world import SPLITS, World
    world = World(recipe.world)
    hashes = recipe.stage_hashes()

    def world_stage():
        write_json(root / "data" / "world.json", {
            "stats": world.stats(), "splits": {s: [t.id for t in world.split(s)] for s in SPLITS}})
    runner(Stage("world", {"h": hashes["world"]}, world_stage))

    def tokenizer_stage():
        from train.tokenizer import build_tokenizer
        tok = build_tokenizer(world, recipe.tokenizer)
        with atomic_dir(root / "tokenizer") as tmp:
            tok.save_pretrained(tmp)
    runner(Stage("tokenizer", {"h": hashes["tokenizer"]}, tokenizer_stage, after=["world"]))

    def tokenizer():
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(root / "tokenizer")

    def pretrain_stage():
        from train.pretrain import pretrain, pretrain_texts, valid_texts
        tok = tokenizer()
        texts = pretrain_texts(world, recipe.pretrain, recipe.runtime.seed)
        with atomic_dir(ckpt / "base") as tmp:
            pretrain(recipe.model, tok, texts, recipe.pretrain, out_dir=tmp, progress=progress,
                     log=_logger(events, "pretrain"), runtime=recipe.runtime,
                     valid=valid_texts(world, recipe.pretrain))
    runner(Stage("pretrain", {"h": hashes["pretrain"]}, pretrain_stage, after=["tokenizer"]))

    arms = list(recipe.sft.arms)
    mixtures: dict = {}

    def mixtures_for():
        if not mixtures:
            from train.mixtures import build_arms
            datasets, manifest = build_arms(world, tokenizer(), recipe.sft, seed=recipe.runtime.seed)
            mixtures.update(datasets=datasets, manifest=manifest)
        return mixtures

    def mixture_stage():
        write_json(root / "data" / "sft_mixtures.json", mixtures_for()["manifest"])
    runner(Stage("sft-data", {"h": hashes["sft"]}, mixture_stage, after=["pretrain"]))

    for arm in arms:
        def sft_stage(arm=arm):
            from train.sft import entropy_set, run_sft
            data = mixtures_for()["datasets"][arm]
            with atomic_dir(ckpt / f"sft-{arm}") as tmp:
                run_sft(str(ckpt / "base"), tokenizer(), data, recipe.sft, out_dir=tmp, progress=progress,
                        log=_logger(events, f"sft-{arm}"), runtime=recipe.runtime,
                        entropy_eval=entropy_set(world, recipe.sft.entropy_tasks))
        runner(Stage(f"sft-{arm}", {"h": hashes["sft"], "arm": arm}, sft_stage, after=["sft-data"]))

    from evals.execution import Executor
    with Executor() as executor:
        rl_tasks = world.split("rl")
        rl_ckpts = rl_pairs(arms)
        for name, (base, out) in rl_ckpts.items():
            lang = name.split("-", 1)[1] if name.startswith("oracle-") else recipe.rl.lang

            def rl_stage(base=base, out=out, lang=lang):
                from train.grpo import run_grpo
                with atomic_dir(ckpt / out) as tmp:
                    run_grpo(str(ckpt / base), None, rl_tasks, lang, recipe.rl, executor, tmp,
                             progress=progress, log=_logger(events, out))
            runner(Stage(out, {"h": hashes["rl"], "lang": lang}, rl_stage, after=[base]))

        eval_tasks = [t for s in HELD_OUT_SPLITS for t in world.split(s)]
        split_of = {t.id: t.split for t in eval_tasks}
        ckpts = ["base"] + [f"sft-{a}" for a in arms] + [out for _, out in rl_ckpts.values()]
        for name in ckpts:
            def eval_stage(name=name):
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer

                from train.evaluate import evaluate_checkpoint
                model = AutoModelForCausalLM.from_pretrained(ckpt / name, dtype=torch.float32).eval()
                tok = AutoTokenizer.from_pretrained(ckpt / name)
                timings: dict = {}
                rows, scores = evaluate_checkpoint(model, tok, eval_tasks, recipe.eval, executor,
                                                   progress=progress, log=_logger(events, f"eval-{name}"),
                                                   timings=timings)
                for r in rows:
                    r["split"] = split_of.get(r["task_id"], "")
                write_jsonl(root / "evals" / f"{name}.jsonl", rows)
                write_json(root / "evals" / f"{name}.scores.json", scores)
                return {"timings": timings}
            # Its own section only: the checkpoint it evaluates comes in through `after` (so an [rl] change
            # re-runs the RL checkpoints' evaluations, not eval-base or eval-sft-*). Not n_boot: it sets the
            # tables' resamples (and only the B a sampled pass@k interval records in scores.json), never what is
            # generated or executed, so changing it re-runs the tables alone.
            runner(Stage(f"eval-{name}", {"h": recipe.hash("eval", without=("n_boot",))}, eval_stage,
                         after=["pretrain" if name == "base" else name]))

    def tables_stage():
        import json

        from train.transfer import transfer_table
        scores = {n: read_json(root / "evals" / f"{n}.scores.json") for n in ckpts}
        write_json(root / "scores.json", scores)
        rows = {n: [json.loads(x) for x in (root / "evals" / f"{n}.jsonl").read_text().splitlines()]
                for n in ckpts}
        write_json(root / "transfer.json", transfer_table(
            scores, rows, rl_ckpts, source=recipe.rl.lang, n_boot=recipe.eval.n_boot, seed=recipe.eval.seed,
            seen_langs=recipe.sft.seen_langs,
            rl_langs=rl_langs(rl_ckpts, recipe.rl.lang), analysis=recipe.analysis))
    runner(Stage("tables", {"h": recipe.hash("eval"), "ckpts": ckpts, "analysis": recipe.hash("analysis"),
                            "v": TABLES_VERSION}, tables_stage,
                 after=[f"eval-{n}" for n in ckpts]))

    report_after = ["tables"]
    if probe.run is None:
        events("stage_unavailable", stage="probe", reason=probe.unavailable)
        runner.say(f"[probe] skipped: {probe.unavailable}")
    else:
        from train.config import hashed_view, stable_hash

        def probe_stage():
            return probe.run(root, probe.config, progress=progress, log=_logger(events, "probe")) or {}
        # hashed_view: a probe field left at its default (marked hash=if_set) keeps existing runs' probe hash
        config_hash = stable_hash(hashed_view(probe.config)) if probe.config is not None else None
        runner(Stage("probe", {"config": config_hash},
                     probe_stage, after=["tables"]))
        report_after.append("probe")

    def report_stage():
        from .report import write_report
        return {"report": str(write_report(root).relative_to(root))}
    runner(Stage("report", {"v": REPORT_VERSION}, report_stage, after=report_after))

    seconds = round(time.time() - t_start, 1)
    events("run_end", seconds=seconds, ran=runner.ran, skipped=runner.skipped)
    return RunResult(root, runner.ran, runner.skipped, seconds)

