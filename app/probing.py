"""Probing a run folder (or any HF model folder): which programs, which checkpoints, where outputs go.

    probes/<ckpt>/rows.jsonl                  one row per program: row, task_id, lang, n_tokens, code
                                              (the same rows, in the same order, for every checkpoint)
    probes/<ckpt>/acts.<pooling>.safetensors  float32 [n_rows, d] per hook: hook_embed, blocks.{L}.hook_resid_post
    probes/metrics.json                       every metric (see docs/probing.md), with the bag-of-tokens
                                              baseline of the same rows (the first checkpoint's tokenizer)
                                              and, with `lexical_control`, a "control" block: the same
                                              layout, measured on the lexical control set
    probes/control/<ckpt>/                    rows.jsonl and acts of the lexical control set (the same
                                              tasks with per-language identifiers), as probes/<ckpt>/

`probe_run(root, cfg, progress, log)` is the pipeline stage: deterministic, each checkpoint's folder and
metrics.json written atomically, nothing skipped (the stage runner decides what to skip); it returns a
short summary for the stage marker (the metrics are in the file). `probe_model` does the same for one
HF model folder on a benchmark's parallel set (MBXP) and returns the metrics.
Not for: the measurements themselves (`probe/`).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from probe.config import ProbeConfig

from .runfs import atomic_dir, read_json, write_json, write_jsonl

MBXP_LANGS = ("python", "javascript", "ruby", "php")


class ProbeError(ValueError):
    """Bad input to a probe (missing run, a checkpoint that is not a model, an unknown layer...)."""


def _say(log: Callable | None, msg: str) -> None:
    if log is not None:
        log(msg)


# ---- inputs -------------------------------------------------------------------------------------

def run_checkpoints(root: Path, wanted: Sequence[str] = ()) -> dict[str, Path]:
    """{name: folder} of the checkpoints to probe (all of the run's when `wanted` is empty), in the
    pipeline's order (base, sft-*, rl-*, others), each checked to be a model folder."""
    root = Path(root)
    if not root.is_dir():
        raise ProbeError(f"no run folder at {root}")
    ckdir = root / "checkpoints"
    if not (root / "config.json").is_file() or not ckdir.is_dir():
        raise ProbeError(f"{root} is not a run folder (it needs config.json and checkpoints/; "
                         "make one with `psft run`)")
    have = sorted(p.name for p in ckdir.iterdir() if p.is_dir() and not p.name.startswith("."))
    order = {"base": 0, "sft": 1, "rl": 2}
    have.sort(key=lambda n: (order.get(n.split("-", 1)[0], 3), n))
    names = list(wanted) or have
    if not names:
        raise ProbeError(f"{ckdir} holds no checkpoints")
    out = {}
    for name in names:
        if name not in have:
            raise ProbeError(f"no checkpoint {name!r} in {ckdir} (have: {', '.join(have) or 'none'})")
        out[name] = model_folder(ckdir / name)
    return out


def model_folder(path: Path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise ProbeError(f"no model folder at {path}")
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise ProbeError(f"{path} is not a model folder (no config.json or adapter_config.json)")
    return path


def world_of(root: Path):
    from evals.world import World, WorldConfig
    cfg = read_json(Path(root) / "config.json")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("world"), dict):
        raise ProbeError(f"{root}/config.json has no world table")
    w = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["world"].items()}
    try:
        return World(WorldConfig(**w))
    except (TypeError, ValueError) as e:
        raise ProbeError(f"{root}/config.json: bad world config: {e}") from None


def eval_outcomes(root: Path) -> dict[str, dict[tuple[str, str], float]]:
    """{ckpt: {(task_id, lang): mean passed}} from the run's evals/<ckpt>.jsonl (sft-* and rl-*)."""
    out: dict[str, dict[tuple[str, str], float]] = {}
    for f in sorted((Path(root) / "evals").glob("*.jsonl")):
        name = f.name.removesuffix(".jsonl")
        if not name.startswith(("sft-", "rl-")):
            continue
        sums: dict[tuple[str, str], list[float]] = {}
        for line in f.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            s = sums.setdefault((r["task_id"], r["lang"]), [0.0, 0.0])
            s[0] += float(bool(r.get("passed")))
            s[1] += 1
        out[name] = {k: v[0] / v[1] for k, v in sums.items()}
    return out


def mbxp_rows(data: str | Path, langs: Sequence[str], n_tasks: int, text: str, check: bool = True,
              report: Path | None = None, progress: bool = False) -> tuple[list, dict]:
    """The MBXP parallel set (references that pass, by running them or from a check-bench report)."""
    from evals.benchmarks import BenchmarkError, load_benchmark
    from probe.programs import benchmark_programs, passing_from_report
    try:
        problems = load_benchmark("mbxp", data, list(langs))
    except BenchmarkError as e:
        raise ProbeError(str(e)) from None
    passing, how = None, "unchecked"
    if report is not None:
        rep = read_json(Path(report))
        if not isinstance(rep, dict):
            raise ProbeError(f"{report} is not a `psft check-bench --json` report")
        passing, how = passing_from_report(rep, problems), f"report {report}"
    elif check:
        passing, how = _run_references(problems, langs, n_tasks, progress), "run"
    rows = benchmark_programs(problems, langs, n_tasks, text, passing)
    return rows, {"source": "mbxp", "data": str(data), "refs_checked": how}


def _run_references(problems: list, langs: Sequence[str], n_tasks: int, progress: bool) -> set:
    """{(lang, id)} of passing references, running only as many aligned problems as needed: numbers in
    order, in chunks, until n_tasks numbers pass in every language (all of them when n_tasks is 0)."""
    from evals.benchmarks import parallel_set
    from evals.execution import Executor
    from evals.execution.sandbox import SandboxUnavailable
    from probe.programs import passing_references

    aligned = parallel_set(problems, langs, require_solution=True)
    numbers = list(aligned)
    passing: set = set()
    good = 0
    chunk = max(2 * n_tasks, 50) if n_tasks else len(numbers)
    try:
        with Executor() as ex:
            for start in range(0, len(numbers), chunk):
                batch = [aligned[n][lang] for n in numbers[start:start + chunk] for lang in langs]
                passing |= passing_references(batch, ex, progress=progress)
                good = sum(all((lang, aligned[n][lang].id) in passing for lang in langs) for n in numbers[:start + chunk])
                if n_tasks and good >= n_tasks:
                    break
    except SandboxUnavailable as e:
        raise ProbeError(f"cannot run the references to filter them ({e}); pass --no-check or "
                         "--bench-report") from None
    return passing


# ---- outputs ------------------------------------------------------------------------------------

def write_probe_dir(final: Path, rows: Sequence, acts) -> None:
    """probes/<ckpt>/ in one rename: rows.jsonl and one safetensors file per pooling."""
    from safetensors.numpy import save_file
    with atomic_dir(final) as tmp:
        write_jsonl(tmp / "rows.jsonl", [{"row": i, "task_id": r.task_id, "lang": r.lang,
                                          "n_tokens": acts.n_tokens[i], "code": r.code}
                                         for i, r in enumerate(rows)])
        for pooling, per_hook in acts.pooled.items():
            save_file(dict(per_hook), str(tmp / f"acts.{pooling}.safetensors"),
                      metadata={"pooling": pooling, "hooks": ",".join(per_hook)})


def probe_models(out_root: Path, rows: Sequence, models: dict[str, Path], cfg: ProbeConfig, meta: dict,
                 transfer: dict | None = None, outcomes: dict | None = None, progress: bool = False,
                 log: Callable | None = None, control: tuple[Sequence, dict] | None = None) -> dict:
    """Capture every model on `rows`, write probes/<name>/ each, then probes/metrics.json; returns it.
    `control`: (rows, meta) of a lexical control set (the same tasks in the same order, other texts),
    captured into probes/control/<name>/ and measured the same way into metrics.json's "control"."""
    import torch

    from probe.metrics import make_grid

    if len({r.task_id for r in rows}) < 2:
        raise ProbeError(f"the probe set has {len({r.task_id for r in rows})} task(s); at least 2 are needed")
    make_grid(rows)
    if control is not None and [(r.task_id, r.lang) for r in control[0]] != [(r.task_id, r.lang) for r in rows]:
        raise ProbeError("the lexical control set must hold the probe set's tasks and languages, in its order")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sets = {"main": (rows, Path(out_root) / "probes", cfg)}
    if control is not None:
        # The control is read at the tests' and alignment's pooling only: the metrics, not the capture, are
        # the stage's cost, and a second pooling would double the control's share of it.
        control_cfg = replace(cfg, poolings=(cfg.alignment_pooling,))
        sets["control"] = (control[0], Path(out_root) / "probes" / "control", control_cfg)
    captured = _capture_all(sets, models, cfg, progress, log)
    metrics = _measure(rows, *captured["main"], cfg, meta, transfer, outcomes, log)
    if control is not None:
        _say(log, "probe: the lexical control set")
        control_meta = {**{k: v for k, v in meta.items() if k != "control"}, **control[1]}
        metrics["control"] = _measure(control[0], *captured["control"], control_cfg, control_meta, transfer,
                                      outcomes, log)
    write_json(Path(out_root) / "probes" / "metrics.json", metrics)
    return metrics


def _capture_all(sets: dict[str, tuple[Sequence, Path, ProbeConfig]], models: dict[str, Path], cfg: ProbeConfig,
                 progress: bool, log: Callable | None) -> dict[str, tuple[dict, list, str]]:
    """Load each model once and capture every program set (rows, folder, config of its poolings) with it:
    {set: (acts[name], token ids of the first model's tokenizer, that model's name)}; each set's folder per
    model written as it is captured."""
    from probe.baselines import pooled_token_ids
    from probe.capture import capture, find_modules, load_model, resolve_layers

    out: dict[str, list] = {key: [{}, None, None] for key in sets}
    for name, path in models.items():
        _say(log, f"probe {name}: loading {path}")
        try:
            model, tok = load_model(path, cfg.device, cfg.dtype)
        except (OSError, ValueError) as e:
            raise ProbeError(f"cannot load {path} as a causal LM: {e}") from None
        try:
            layers = resolve_layers(list(cfg.layers), find_modules(model)[2])
        except ValueError as e:
            raise ProbeError(f"{name}: {e}") from None
        for key, (rows, folder, set_cfg) in sets.items():
            texts = [r.code for r in rows]
            acts = capture(model, tok, texts, layers=layers, poolings=set_cfg.poolings, batch_size=cfg.batch_size,
                           max_tokens=cfg.max_tokens, progress=progress)
            write_probe_dir(folder / name, rows, acts)
            acts_all, token_ids, tokenizer_of = out[key]
            acts_all[name] = acts.pooled
            ids = pooled_token_ids(tok, texts, cfg.max_tokens)
            if token_ids is None:
                out[key][1:] = [ids, name]
            elif ids != token_ids:
                _say(log, f"probe {name}: its tokenizer splits the programs differently from {tokenizer_of}'s; "
                          f"the bag-of-tokens baseline uses {tokenizer_of}'s")
            _say(log, f"probe {name}{'' if key == 'main' else ' (' + key + ')'}: {len(rows)} programs, "
                      f"{len(acts.hooks)} hooks")
        del model
    return {key: tuple(v) for key, v in out.items()}


def _measure(rows: Sequence, acts_all: dict, token_ids: list, tokenizer_of: str, cfg: ProbeConfig, meta: dict,
             transfer: dict | None, outcomes: dict | None, log: Callable | None) -> dict:
    """The metrics object of one captured program set, with the bag-of-tokens baseline of its rows."""
    from probe.baselines import BAG_OF_TOKENS, bag_of_tokens
    from probe.metrics import compute_metrics

    hooks = [list(a[cfg.poolings[0]]) for a in acts_all.values()]
    if any(h != hooks[0] for h in hooks):
        raise ProbeError("the checkpoints have different layers; probe them separately")
    meta = {**meta, "baselines": {BAG_OF_TOKENS: {
        "tokenizer_of": tokenizer_of, "tokens": "token ids that mean pooling covers (no special tokens, "
                                                f"truncated at {cfg.max_tokens}), counted per program"}}}
    try:
        return compute_metrics(rows, acts_all, cfg, meta, transfer=transfer, outcomes=outcomes, log=log,
                               baselines={BAG_OF_TOKENS: bag_of_tokens(token_ids)})
    except ValueError as e:
        raise ProbeError(str(e)) from None


def evaluated_tasks(outcomes: dict) -> list[str]:
    """The task ids the run's evaluation scored (every sft-* and rl-* checkpoint's rows), in id order (the
    evaluation's own order)."""
    return sorted({task_id for per_ckpt in outcomes.values() for task_id, _lang in per_ckpt})


def probe_task_list(world, cfg: ProbeConfig, evaluated: Sequence[str]) -> tuple[list, dict]:
    """The probe set's tasks and what meta records of them. A run with evaluations probes the tasks it
    evaluated (of every held-out split; the first `n_tasks` in id order, all when 0), so that every probed
    program has a test verdict and the per-task statistics use every probed task; `split` picks the tasks
    only when nothing was evaluated (its first `n_tasks`)."""
    try:
        split_tasks = world.split(cfg.split)
    except ValueError as e:
        raise ProbeError(str(e)) from None
    if evaluated:
        tasks = []
        for t in evaluated:
            try:
                tasks.append(world.get(t))
            except KeyError:
                raise ProbeError(f"the run evaluated task {t!r}, which its world config does not make") from None
        if cfg.n_tasks:
            tasks = tasks[:cfg.n_tasks]
        splits: dict[str, int] = {}
        for t in tasks:
            splits[t.split] = splits.get(t.split, 0) + 1
        return tasks, {"split": "evaluated", "tasks_from": "the evaluated tasks", "splits": splits,
                       "n_evaluated_tasks": len(evaluated)}
    tasks = split_tasks[:cfg.n_tasks] if cfg.n_tasks else split_tasks
    return tasks, {"split": cfg.split, "tasks_from": f"split {cfg.split} (no evaluation yet)",
                   "splits": {cfg.split: len(tasks)}, "n_evaluated_tasks": 0}


def task_rows(tasks: Sequence, langs: Sequence[str], text: str) -> list:
    """ProgramRows of `tasks` in every language of `langs`, language-major (as `world_programs`)."""
    from evals.world import LANGS
    from probe.programs import ProgramRow, world_code
    bad = [x for x in langs if x not in LANGS]
    if bad:
        raise ProbeError(f"unknown world language(s) {', '.join(bad)}; known: {', '.join(LANGS)}")
    return [ProgramRow(t.id, lang, world_code(t, lang, text)) for lang in langs for t in tasks]


def probe_run(root: Path, cfg: ProbeConfig, progress: bool = False, log: Callable | None = None) -> dict:
    """The probe stage of a run: the world's parallel set from the run's world config (the evaluated
    tasks: `probe_task_list`), every chosen checkpoint captured, all metrics (with alignment vs transfer
    from evals/ and transfer.json)."""
    from evals.world import LANGS

    root = Path(root)
    models = run_checkpoints(root, cfg.ckpts)
    world = world_of(root)
    outcomes = eval_outcomes(root)
    tasks, task_meta = probe_task_list(world, cfg, evaluated_tasks(outcomes))
    langs = list(cfg.langs or LANGS)
    try:
        rows = task_rows(tasks, langs, cfg.text)
    except ValueError as e:
        raise ProbeError(str(e)) from None
    if task_meta["n_evaluated_tasks"] and cfg.n_tasks > len(tasks):
        _say(log, f"probe: {len(tasks)} tasks (the evaluated ones), fewer than n_tasks = {cfg.n_tasks}")
    meta = {"source": "world", "text": cfg.text, **task_meta, "config": cfg.to_dict(),
            "naming": world.config.naming}
    control = None
    if cfg.lexical_control:
        control = control_rows(world, cfg, [t.id for t in tasks])
        meta["control"] = ({"naming": CONTROL_NAMING, "what": CONTROL_WHAT} if control is not None else
                           {"skipped": f"the run's world already renders with naming {CONTROL_NAMING!r}"})
    metrics = probe_models(root, rows, models, cfg, meta, transfer=read_json(root / "transfer.json"),
                           outcomes=outcomes, progress=progress, log=log,
                           control=None if control is None else (control, {"naming": CONTROL_NAMING}))
    return summary_of(metrics)


CONTROL_NAMING = "per_language"
CONTROL_WHAT = ("the probe set's tasks, languages and order, rendered with per-language identifiers "
                "(evals.world.render.OWN_NAMES): what survives it is not the names translations share")


def control_rows(world, cfg: ProbeConfig, task_ids: Sequence[str]) -> list | None:
    """The lexical control set of a world probe: the same tasks, languages and order as the probe set,
    texts rendered with naming "per_language"; None when the world already renders that way."""
    from evals.world import LANGS, World
    if world.config.naming == CONTROL_NAMING:
        return None
    other = World(replace(world.config, naming=CONTROL_NAMING))
    return task_rows([other.get(t) for t in task_ids], list(cfg.langs or LANGS), cfg.text)


def summary_of(metrics: dict) -> dict:
    """What the stage marker records: where the metrics are and what was probed (not the metrics)."""
    meta = metrics["meta"]
    return {"metrics": "probes/metrics.json", "ckpts": list(metrics["checkpoints"]), "n_tasks": meta["n_tasks"],
            "langs": meta["langs"], "layers": meta["layers"], "control": "control" in metrics}


def probe_model(out_root: Path, model_dir: Path, name: str, rows: Sequence, cfg: ProbeConfig, meta: dict,
                progress: bool = False, log: Callable | None = None) -> dict:
    """Probe one HF model folder (full or PEFT adapter) on `rows` (e.g. `mbxp_rows`) into out_root."""
    if cfg.lexical_control:
        raise ProbeError("lexical_control renames the world's identifiers; a benchmark's programs have none to "
                         "rename (turn it off)")
    return probe_models(Path(out_root), rows, {name: model_folder(model_dir)}, cfg,
                        {**meta, "text": cfg.text, "config": cfg.to_dict()}, progress=progress, log=log)
