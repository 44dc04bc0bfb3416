"""A pretrained model on a stdin/stdout dataset as a task source (bench recipes with `[io].layout`):

- `model` stage: as the MBXP source (`app.sources.bench.model_stage`: a known GGUF model converted once).
- `io-data` stage: the problems read from `[io].data` (code_contests or APPS/TACO layout; a file, a folder or
  a hub id); the evaluation problems set apart first (the first `[io].eval_problems`, or `[io].eval_data`);
  then, in the data's order, the SFT pool (problems whose first reference in EVERY SFT arm language passes
  its tests here, so the parallel arm has each problem in each of them), the entropy problems (more of
  those, never SFT data) and the RL problems (a passing reference in `[rl].lang`: the tests are sound).
  Written to `data/io_bench.json` with the reference check's counts.
- SFT arms: the equal-budget arms (`train.mixtures.build_arms`) on the pool, whole programs as completions
  after a chat-template prompt (`evals.benchmarks.io_task`); RL: the share of passing tests or all of them
  (`[rl].reward_mode`) in `[rl].lang`.
- One evaluation set, named after the layout: the evaluation problems in every language of `[eval].langs`,
  whether or not the data has a reference in it (the tests belong to no language).
Programs never see expected outputs: they run on test inputs only, and the data files are hidden from the
sandbox (`hidden_files`). No probe stage (a probe of whole contest programs is not defined yet).
Not for: the graph (`app/pipeline.py`), judging (`evals.benchmarks.io_judge`).
"""
from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

from ..runfs import read_json, write_json
from ..stages import Stage
from . import EvalSet
from .bench import HUB_ID, BenchSource, model_stage


def io_data_stage(ctx) -> dict:
    """data/io_bench.json: the evaluation, SFT pool, entropy and RL problems (see the module docstring)."""
    from evals.benchmarks.io_judge import judge
    from evals.execution import open_executor
    src, r = ctx.source, ctx.recipe
    langs, rl_lang, n_ent = list(r.sft.seen_langs), r.rl.lang, r.sft.entropy_tasks
    eval_ids = [p.id for p in src.eval_problems()]
    rest = [p for p in src.train_problems() if p.id not in set(eval_ids)]
    config = r.io.judge_config()
    check: dict[str, dict[str, int]] = {la: {"checked": 0, "passed": 0} for la in dict.fromkeys([*langs, rl_lang])}

    def first_passing(cands, need_langs, n):
        """The first `n` of `cands` whose reference in every language of `need_langs` passes, checked in chunks."""
        out, i = [], 0
        with open_executor(r.runtime.executor, hide=src.hidden_files()) as ex:
            while len(out) < n and i < len(cands):
                chunk = cands[i:i + max(8, 2 * (n - len(out)))]
                i += len(chunk)
                items = [(p, la, _task(p).reference(la)) for p in chunk for la in need_langs]
                verdicts = iter(judge(ex, items, config, progress=ctx.progress, desc="references"))
                for p in chunk:
                    ok = True
                    for la in need_langs:
                        v = next(verdicts)
                        check[la]["checked"] += 1
                        check[la]["passed"] += v.passed
                        ok = ok and v.passed
                    if ok and len(out) < n:
                        out.append(p)
        return out

    pool_cands = [p for p in rest if all(_task(p).has_reference(la) for la in langs)]
    pool = first_passing(pool_cands, langs, r.io.sft_problems + n_ent)
    pool, ent = pool[:r.io.sft_problems], pool[r.io.sft_problems:]
    taken = {p.id for p in pool}
    rl = first_passing([p for p in rest if p.id not in taken and _task(p).has_reference(rl_lang)], [rl_lang],
                       r.io.rl_problems)
    write_json(ctx.root / "data" / "io_bench.json", {
        "source": src.data, "eval_source": r.io.eval_data or src.data, "layout": r.io.layout, "langs": langs,
        "eval_langs": list(r.eval.langs), "reference_check": check, "eval": eval_ids,
        "sft_pool": [p.id for p in pool], "entropy": [p.id for p in ent], "rl": [p.id for p in rl]})
    if not pool or not rl:
        raise RuntimeError(f"io-data: {len(pool)} SFT problems have passing references in all of {', '.join(langs)} "
                           f"and {len(rl)} RL problems in {rl_lang}: use more data or other [sft] languages")
    return {"sft_pool": len(pool), "rl": len(rl), "eval": len(eval_ids)}


def _task(problem, fmt=None, judge=None, split: str = ""):
    from evals.benchmarks.io_judge import JudgeConfig
    from evals.benchmarks.io_task import IOBenchTask, PlainStatement
    return IOBenchTask(problem, fmt or PlainStatement(), judge or JudgeConfig(), split)


class IOBenchSource(BenchSource):
    """The MBXP source's model, tokenizer, arms, RL and evaluation plumbing, on stdin/stdout problems."""

    pool_after = "io-data"

    def __init__(self, recipe, **kw):
        super().__init__(recipe, **kw)
        self._problems: dict[str, list] = {}

    @property
    def data(self) -> str:
        """Where the problems are: `[io].data`, else `[data].mbxp` (what `psft run --data` sets)."""
        return self.recipe.io.data or self.recipe.data.mbxp

    def _load(self, where: str, split: str) -> list:
        if (where, split) not in self._problems:
            from evals.benchmarks.io_source import load_io_benchmark
            self._problems[(where, split)] = [p for p in load_io_benchmark(self.recipe.io.layout, where, split)
                                              if not p.unavailable]
        return self._problems[(where, split)]

    def train_problems(self) -> list:
        """The judgeable problems of `[io].data`, in its order."""
        return self._load(self.data, self.recipe.io.split)

    def eval_problems(self) -> list:
        io = self.recipe.io
        problems = self._load(io.eval_data, io.eval_split) if io.eval_data else self.train_problems()
        return problems[:io.eval_problems or None] if io.eval_data else problems[:io.eval_problems]

    def hidden_files(self) -> list[Path]:
        """The data files (they hold the expected outputs): no program may read them."""
        from evals.benchmarks.io_source import data_files
        io = self.recipe.io
        return [f for where in (self.data, io.eval_data) if where for f in data_files(where)]

    def head_stages(self, ctx) -> list[Stage]:
        h = self.recipe.stage_hashes()
        return [Stage("model", {"h": h["model"]}, partial(model_stage, ctx)),
                Stage("io-data", {"h": h["data"]}, partial(io_data_stage, ctx), after=["model"])]

    def _fmt(self, ctx):
        from train.prompts import ChatPrompt
        return ChatPrompt(self.tokenizer(ctx), self.recipe.prompt)

    def tasks(self, ctx) -> dict[str, list]:
        """{"sft_pool", "rl", "entropy"}: the problems data/io_bench.json names, with chat prompts."""
        if self._tasks is None:
            info = read_json(ctx.root / "data" / "io_bench.json")
            by_id = {p.id: p for p in self.train_problems()}
            fmt, judge = self._fmt(ctx), self.recipe.io.judge_config()
            self._tasks = {name: [_task(by_id[i], fmt, judge, name) for i in info[name]]
                           for name in ("sft_pool", "rl", "entropy")}
        return self._tasks

    def eval_set_names(self) -> list[str]:
        return [self.recipe.io.layout]

    def eval_sets(self, ctx) -> list[EvalSet]:
        if self._eval_sets is None:
            judge = self.recipe.io.judge_config()
            tasks = [_task(p, self._fmt(ctx), judge, "eval") for p in self.eval_problems()]
            cfg = dataclasses.replace(self.recipe.eval, n_tasks=0)   # [io].eval_problems chose them
            self._eval_sets = [EvalSet(self.recipe.io.layout, tasks, cfg)]
        return self._eval_sets

    def executed_langs(self) -> list[str]:
        r = self.recipe
        return [*r.sft.seen_langs, r.rl.lang, *r.eval.langs]

    def probe(self, ctx, cfg) -> dict:
        raise NotImplementedError("no probe stage for stdin/stdout datasets")

    def check_inputs(self) -> None:
        from ..preflight import BadInput
        r = self.recipe
        if not self.data:
            raise BadInput(f"recipe {r.name}: no data: pass --data PATH (a code_contests or APPS/TACO JSONL, JSON or "
                           "Parquet file, a folder of them, or a hub id) or set [io].data")
        for key, where in (("[io].data", self.data), ("[io].eval_data", r.io.eval_data)):
            if where and not Path(where).exists() and not HUB_ID.fullmatch(where):
                raise BadInput(f"{key}: {where} is neither an existing file or folder nor a hub id owner/name")
        if r.probe:
            raise BadInput(f"recipe {r.name}: [probe]: no probe stage for stdin/stdout datasets; remove the table")
        if r.eval.humaneval_langs:
            raise BadInput(f"recipe {r.name}: [eval].humaneval_langs: an I/O recipe evaluates on its own data only; "
                           "set it to []")

    def dry_run(self, errors: list, warnings: list) -> dict:
        """The model, the data (problems, references per language, the pool and RL candidates, the evaluation
        set and its languages), the launch and the estimates; nothing is loaded into memory but the data."""
        from evals.benchmarks import BenchmarkError

        from .bench_plan import plan_estimates, plan_launch, plan_model
        r = self.recipe
        model = plan_model(r, errors, warnings)
        data: dict = {"source": self.data, "layout": r.io.layout}
        try:
            train, evals = self.train_problems(), self.eval_problems()
        except (BenchmarkError, ValueError, OSError) as e:
            errors.append(f"[io].data: {e}")
            train, evals = [], []
        eval_ids = {p.id for p in evals}
        rest = [p for p in train if p.id not in eval_ids]
        langs = list(r.sft.seen_langs)
        refs: dict[str, int] = {}
        for p in rest:
            for la in _task(p).langs:
                refs[la] = refs.get(la, 0) + 1
        pool = [p for p in rest if all(_task(p).has_reference(la) for la in langs)]
        rl = [p for p in rest if _task(p).has_reference(r.rl.lang)]
        data.update(judgeable_problems=len(train), references_by_lang=dict(sorted(refs.items())),
                    sft_candidates_in_all_langs=len(pool), rl_candidates=len(rl),
                    eval={"source": r.io.eval_data or self.data, "problems": len(evals), "langs": list(r.eval.langs),
                          "langs_without_references": [la for la in r.eval.langs if la not in refs]},
                    note="references are judged in the io-data stage; only passing ones train")
        if train and not pool:
            errors.append(f"[io].data: no problem outside the evaluation set has references in all of {', '.join(langs)}")
        if train and not rl:
            errors.append(f"[io].data: no problem outside the evaluation set has a {r.rl.lang} reference")
        if train and not evals:
            errors.append("[io].eval_problems: no evaluation problems")
        launch = plan_launch(r, errors)
        n_eval = len(evals) * len(r.eval.langs)
        return {"model": model, "data": data, "launch": launch, "estimates": plan_estimates(r, model, n_eval, errors)}
