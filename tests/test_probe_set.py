"""The probe set of a run is the list of tasks its evaluation scored (every held-out split), so that every
probed program has a test verdict; its lexical control holds the same tasks in the same order; and
`psft probe RUN` with no options probes what the run's recipe probed (config.json's [probe])."""
from __future__ import annotations

import json

from app.cli import build_parser
from app.commands.probe import config_from_args
from app.probing import control_rows, probe_task_list, task_rows
from app.sources.world import HELD_OUT_SPLITS
from evals.world import World, WorldConfig
from probe.config import ProbeConfig
from train.evaluate import EvalConfig, select_tasks


def evaluated_ids(world: World, n: int) -> list[str]:
    """The tasks the pipeline's evaluation picks (its own selection function, over its held-out splits)."""
    tasks = [t for s in HELD_OUT_SPLITS for t in world.split(s)]
    return [t.id for t in select_tasks(tasks, EvalConfig(n_tasks=n))]


def test_every_probed_program_is_an_evaluated_one():
    world = World(WorldConfig(seed=0, n_tasks=300))
    evaluated = evaluated_ids(world, 10)
    tasks, meta = probe_task_list(world, ProbeConfig(n_tasks=12), evaluated)
    assert [t.id for t in tasks] == sorted(evaluated)                    # all ten, none from elsewhere
    assert len(meta["splits"]) > 1 and sum(meta["splits"].values()) == 10 and meta["split"] == "evaluated"
    rows = task_rows(tasks, ["python", "lua"], "code")
    assert {(r.task_id, r.lang) for r in rows} <= {(t, lg) for t in evaluated for lg in ("python", "lua")}
    assert len(rows) == 20
    control = control_rows(world, ProbeConfig(n_tasks=12, langs=("python", "lua")), [t.id for t in tasks])
    assert [(r.task_id, r.lang) for r in control] == [(r.task_id, r.lang) for r in rows]
    assert [r.code for r in control] != [r.code for r in rows]           # renamed identifiers
    fewer, _ = probe_task_list(world, ProbeConfig(n_tasks=4), evaluated)
    assert [t.id for t in fewer] == sorted(evaluated)[:4]
    # before any evaluation, the split's first tasks
    first, meta = probe_task_list(world, ProbeConfig(n_tasks=3), [])
    assert [t.id for t in first] == [t.id for t in world.split("test")[:3]] and meta["n_evaluated_tasks"] == 0


def args_for(run, *extra: str):
    return build_parser().parse_args(["probe", str(run), *extra])


def test_psft_probe_defaults_are_the_runs_recipe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    recipe = {"n_tasks": 12, "norms": ["raw", "centered"], "text": "body", "poolings": ["mean"], "n_boot": 200,
              "lexical_control": True}
    (run / "config.json").write_text(json.dumps({"world": {"seed": 0}, "eval": {"n_tasks": 10}, "probe": recipe}))
    cfg = config_from_args(args_for(run))
    assert (cfg.n_tasks, cfg.norms, cfg.text, cfg.poolings, cfg.n_boot, cfg.lexical_control) == \
        (12, ("raw", "centered"), "body", ("mean",), 200, True)
    cfg = config_from_args(args_for(run, "--n-tasks", "5", "--text", "code", "--no-lexical-control"))
    assert (cfg.n_tasks, cfg.text, cfg.lexical_control, cfg.norms) == (5, "code", False, ("raw", "centered"))
    # a recipe without [probe]: what the pipeline then probes (at most the evaluated tasks, the control on)
    (run / "config.json").write_text(json.dumps({"world": {"seed": 0}, "eval": {"n_tasks": 10}}))
    cfg = config_from_args(args_for(run))
    assert cfg.n_tasks == 10 and cfg.lexical_control and cfg.text == "code"
    assert "the run's recipe" in build_parser()._subparsers._group_actions[0].choices["probe"].format_help()
