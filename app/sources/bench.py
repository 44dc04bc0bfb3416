"""A pretrained model on real benchmarks as a task source (recipes with `kind = "bench"`):

- `model` stage: a known GGUF model is converted once into `artifacts/models/<name>/` (shared by every
  run); a local folder or hub id is used as given. The base checkpoint is not copied into the run.
- `bench-data` stage: MBXP loaded from `[data].mbxp` (`--data`); references checked in the sandbox
  (verdicts cached by program hash in `artifacts/cache/reference_verdicts.json`); the SFT pool, RL
  problems and entropy problems written to `data/bench.json` with the counts.
- SFT arms: the world's equal-budget arms (`train.mixtures.build_arms`) on the pool, with chat-template
  prompts (`train.prompts`); RL: the MBXP tests as reward in `[rl].lang`.
- Evaluation sets: MBXP test numbers and Multi-HumanEval (rows carry `split` = the benchmark;
  `evals/<ckpt>.scores.json` is `{benchmark: {lang: ...}}`).
- Probe: the base model and the checkpoints on MBXP's parallel programs whose references pass.
Not for: the graph (`app/pipeline.py`) or the training itself (`train/`).
"""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from ..runfs import atomic_dir, read_json, write_json
from ..stages import Stage
from . import EvalSet

MODELS = Path("artifacts") / "models"
CACHE = Path("artifacts") / "cache"
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


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


def model_stage(ctx) -> dict:
    """data/model.json: the base checkpoint's path (converted from GGUF when needed)."""
    name = ctx.recipe.model.name
    path = ensure_model(name, ctx.source.models_dir, ctx.progress)
    write_json(ctx.root / "data" / "model.json", {"name": name, "path": path})
    return {"path": path}


def bench_data_stage(ctx) -> dict:
    """data/bench.json: the SFT pool, RL and entropy problems whose references pass their tests here."""
    from evals.execution import open_executor
    from train.bench_data import candidates, load_mbxp, passing, verify
    r, d = ctx.recipe, ctx.recipe.data
    langs, rl_lang, n_ent = list(r.sft.seen_langs), r.rl.lang, r.sft.entropy_tasks
    problems = load_mbxp(d, langs + [rl_lang])
    pool = candidates(problems, langs, d.sft_ids, d.sft_max_problems, split="sft")
    rl = candidates(problems, [rl_lang], d.rl_ids, d.rl_max_problems, split="rl")
    ent = candidates(problems, langs, d.rl_ids, 2 * n_ent, split="entropy") if n_ent else []
    cache = ctx.source.cache_dir / "reference_verdicts.json"
    known = read_json(cache, {}) or {}
    with open_executor(r.runtime.executor) as ex:
        v_pool = verify(pool, langs, ex, d.check_timeout, known)
        v_rl = verify(rl, [rl_lang], ex, d.check_timeout, known)
        v_ent = verify(ent, langs, ex, d.check_timeout, known)
    write_json(cache, known)
    ok_pool, ok_rl = passing(pool, v_pool, langs), passing(rl, v_rl, [rl_lang])
    ok_ent = passing(ent, v_ent, langs)[:n_ent]
    counts = {la: {"candidates": len(pool), "passed": sum(v_pool[t.id].get(la) == "passed" for t in pool)}
              for la in langs}
    write_json(ctx.root / "data" / "bench.json", {
        "source": d.mbxp, "langs": langs, "sft_ids": [list(x) for x in d.sft_ids],
        "rl_ids": [list(x) for x in d.rl_ids], "reference_check": counts,
        "sft_pool": [t.id for t in ok_pool], "rl": [t.id for t in ok_rl], "entropy": [t.id for t in ok_ent],
        "rl_reference_check": {"candidates": len(rl), "passed": len(ok_rl)}})
    if not ok_pool or not ok_rl:
        raise RuntimeError(f"bench-data: {len(ok_pool)} SFT problems and {len(ok_rl)} RL problems pass their "
                           "references: widen [data].sft_ids / rl_ids")
    return {"sft_pool": len(ok_pool), "rl": len(ok_rl)}


class BenchSource:
    kind = "bench"
    base_after = "model"
    pool_after = "bench-data"
    scores_by_set = True
    cheap_stages: tuple[str, ...] = ("model",)   # done on the way to a `--stage` that needs it
    lexical_control = False

    def __init__(self, recipe, models_dir: Path = MODELS, cache_dir: Path = CACHE):
        self.recipe = recipe
        self.models_dir, self.cache_dir = Path(models_dir), Path(cache_dir)
        self._tok = self._tasks = self._mixtures = self._eval_sets = None

    @property
    def eval_dtype(self) -> str:
        return self.recipe.model.train_dtype

    def head_stages(self, ctx) -> list[Stage]:
        h = self.recipe.stage_hashes()
        return [Stage("model", {"h": h["model"]}, partial(model_stage, ctx)),
                Stage("bench-data", {"h": h["data"]}, partial(bench_data_stage, ctx), after=["model"])]

    def base_model(self, ctx) -> str:
        info = read_json(ctx.root / "data" / "model.json") or {}
        return info.get("path") or ensure_model(self.recipe.model.name, self.models_dir)

    def tokenizer(self, ctx):
        """The base model's tokenizer (its chat template formats every prompt), loaded once."""
        if self._tok is None:
            from transformers import AutoTokenizer
            self._tok = AutoTokenizer.from_pretrained(self.base_model(ctx))
        return self._tok

    def tasks(self, ctx) -> dict[str, list]:
        """{"sft_pool", "rl", "entropy"}: the problems data/bench.json names, with chat prompts."""
        if self._tasks is None:
            from train.bench_data import candidates, load_mbxp
            from train.prompts import ChatPrompt
            r, langs = self.recipe, list(self.recipe.sft.seen_langs)
            info = read_json(ctx.root / "data" / "bench.json")
            fmt = ChatPrompt(self.tokenizer(ctx), r.prompt)
            problems = load_mbxp(r.data, langs)
            self._tasks = {}
            for name in ("sft_pool", "rl", "entropy"):
                by_id = {t.id: t for t in candidates(problems, langs if name != "rl" else [r.rl.lang],
                                                     [(1, 10_000)], fmt=fmt, split=name)}
                self._tasks[name] = [by_id[i] for i in info[name]]
        return self._tasks

    def sft_data(self, ctx):
        if self._mixtures is None:
            import dataclasses

            from train.bench_data import TaskPool, auto_budget
            from train.mixtures import build_arms
            sft, pool = self.recipe.sft, self.tasks(ctx)["sft_pool"]
            if sft.budget_auto:
                sft = dataclasses.replace(sft, budget_tokens=auto_budget(pool, self.tokenizer(ctx), sft))
            self._mixtures = build_arms(TaskPool({"train": pool}), self.tokenizer(ctx), sft,
                                        seed=self.recipe.runtime.seed)
        return self._mixtures

    def align_pairs(self, ctx) -> list[tuple[str, str]]:
        """The align arm's parallel pairs (texts of one problem in two languages), seen only by its contrastive loss."""
        from train.bench_data import TaskPool
        from train.mixtures import arm_align_pairs
        return arm_align_pairs(TaskPool({"train": self.tasks(ctx)["sft_pool"]}), self.recipe.sft,
                               seed=self.recipe.runtime.seed)

    def entropy_eval(self, ctx):
        from train.bench_data import entropy_eval
        sft = self.recipe.sft
        return entropy_eval(self.tasks(ctx)["entropy"], list(sft.seen_langs), sft.entropy_tasks)

    def rl_tasks(self, ctx, lang: str) -> list:
        if lang != self.recipe.rl.lang:
            raise ValueError(f"bench RL problems are checked in [rl].lang ({self.recipe.rl.lang}) only, not {lang}")
        return self.tasks(ctx)["rl"]

    def rl_tokenizer(self, ctx):
        return self.tokenizer(ctx)

    def eval_set_names(self) -> list[str]:
        return list(self.recipe.eval.benchmarks)

    def eval_sets(self, ctx) -> list[EvalSet]:
        """MBXP and Multi-HumanEval tasks with chat prompts (loaded once; every checkpoint is scored on them)."""
        if self._eval_sets is None:
            from evals.benchmarks import load_benchmark
            from train.bench_data import eval_tasks, humaneval_source
            from train.prompts import ChatPrompt
            r = self.recipe
            fmt = ChatPrompt(self.tokenizer(ctx), r.prompt)
            self._eval_sets = []
            for bench in r.eval.benchmarks:
                cfg = r.eval.for_benchmark(bench)
                data = r.data.mbxp if bench == "mbxp" else humaneval_source(r.data)
                tasks = eval_tasks(load_benchmark(bench, data, langs=list(cfg.langs)), cfg.langs, bench, fmt)
                self._eval_sets.append(EvalSet(bench, tasks, cfg))
        return self._eval_sets

    def eval_tokenizer(self, ctx, path: str):
        return self.tokenizer(ctx)

    def executed_langs(self) -> list[str]:
        r = self.recipe
        return [*r.sft.seen_langs, r.rl.lang, *r.eval.langs, *r.eval.humaneval_langs]

    def default_probe(self, cls):
        return None   # a bench run probes only when its recipe has a [probe] table

    def probe(self, ctx, cfg) -> dict:
        """The base model and the run's checkpoints on MBXP's parallel programs (references that pass),
        with the evaluation outcomes and the transfer table for alignment vs transfer (`app.probing`)."""
        from ..probing import MBXP_LANGS, eval_outcomes, mbxp_rows, probe_models, run_checkpoints, summary_of
        names = list(cfg.ckpts)
        models = {"base": Path(self.base_model(ctx))} if not names or "base" in names else {}
        models.update(run_checkpoints(ctx.root, [n for n in names if n != "base"]))
        rows, meta = mbxp_rows(self.recipe.data.mbxp, list(cfg.langs or MBXP_LANGS), cfg.n_tasks, cfg.text,
                               check=True, progress=ctx.progress)
        metrics = probe_models(ctx.root, rows, models, cfg, {**meta, "text": cfg.text, "config": cfg.to_dict()},
                               transfer=read_json(ctx.root / "transfer.json"), outcomes=eval_outcomes(ctx.root),
                               progress=ctx.progress, log=ctx.logger("probe"))
        return summary_of(metrics)

    def check_inputs(self) -> None:
        from ..preflight import BadInput
        mbxp = self.recipe.data.mbxp
        if not mbxp:
            raise BadInput(f"recipe {self.recipe.name}: no data: pass --data PATH (a folder of MBXP JSONL files, "
                           "e.g. ../shared/data/mbxp, or the hub id mxeval/mbxp)")
        if not Path(mbxp).exists() and not HUB_ID.fullmatch(mbxp):
            raise BadInput(f"[data].mbxp: {mbxp} is neither an existing folder nor a hub id owner/name")

    def dry_run(self, errors: list, warnings: list) -> dict:
        from .bench_plan import check_plan
        return check_plan(self.recipe, errors, warnings)
