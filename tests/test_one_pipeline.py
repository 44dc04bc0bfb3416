"""One pipeline over a task source: every recipe (world or bench) gets its stage graph from one function,
the dry run lists that graph, stage hashes move with their inputs only, preflight and the seed-folder
rules are the same for both kinds, `psft study` pools what a run has, and only rank 0 writes.

Each test named after a drift failed on the code before the task sources (main at 9e30e99): `[probe]`
was validated by two functions, a bench `--force` deleted the run before validating it, `--seed` of a
multi-seed bench recipe wrote into <out>, `--seeds` on a bench recipe never pooled, `psft study` added
`oracle-lua` to every run, `n_boot` re-ran every bench evaluation, `runtime.device` was not checked.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.cli import main
from app.pipeline import build_graph, checkpoints, dry_run
from app.preflight import BadInput, interventions_config, probe_config
from app.sources import source_for
from app.stages import graph_hashes
from train.recipe import load_recipe

from .conftest import SHARED_DATA

WORLD = ("micro", "toy", "study", "mechanism")
BENCH = ("smol-micro", "smol", "paper")
HASHES = Path(__file__).with_name("world_stage_hashes.json")
# The toy as it was until its budget cut (2026-12-07): what its recorded runs resume with.
TOY_256 = {"model.hidden_size": "256", "model.intermediate_size": "688", "pretrain.epochs": "5.0", "rl.steps": "60",
           "oracles": '["lua"]', "probe.poolings": '["mean", "last"]', "probe.norms": '["raw", "centered", "standardized"]',
           "probe.n_tasks": "300", "interventions.n_tasks": "100"}


def _recipe(name: str, overrides: dict | None = None):
    extra = {"data.mbxp": str(SHARED_DATA / "mbxp")} if name in BENCH else {}
    return load_recipe(name, {**extra, **(overrides or {})})


def _hashes(recipe) -> dict[str, str]:
    src = source_for(recipe)
    return graph_hashes(build_graph(recipe, src, None, probe_config(recipe, src), interventions_config(recipe, src)))


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_world_stage_hashes_are_those_existing_runs_recorded():
    """The hashes the two-pipeline code computed for micro, toy and study (seeds 0 and 1), byte for byte:
    existing world runs resume without redoing their training, evaluation or tables. The probe and report
    entries moved on purpose since (PROBE_VERSION 2: the probe set became the evaluated tasks; REPORT_VERSION
    3: the report opens with a finding), so those two stages, and nothing else, rerun on --resume. A recipe's
    `[interventions]` table (the toy's) adds its stages before the report, which shows them: there the report
    moves too. The study's and the toy's seeds were recorded in bf16 (and the toy's with three arms and two confirmatory contrasts), their
    defaults then: the recipes now default to float32 (the toy with the align arm), and their variants with
    the old values must still hash as recorded."""
    want = json.loads(HASHES.read_text())
    recorded_in = {"study": {"runtime.bf16_autocast": True},
                   "toy": {"runtime.bf16_autocast": True, "sft.arms": '["mono", "multi", "parallel"]',
                           "analysis.confirmatory": '["parallel - multi", "parallel - mono"]', **TOY_256}}
    for key, hashes in want.items():
        name, seed = key.split("/seed-")
        recipe = load_recipe(name, recorded_in.get(name)).with_seed(int(seed))
        now = _hashes(recipe)
        moved = {"report"} if recipe.interventions else set()
        assert {k: now[k] for k in hashes if k not in moved} == {k: v for k, v in hashes.items() if k not in moved}, key
        assert [k for k in now if not k.startswith("interventions-")] == list(hashes), key
        assert bool(moved) == any(k.startswith("interventions-") for k in now), key


@pytest.mark.parametrize("name", WORLD + BENCH)
def test_one_graph_for_every_recipe_in_order(name):
    r = _recipe(name)
    stages = build_graph(r, source_for(r), None, probe_config(r, source_for(r)))
    names = [s.name for s in stages]
    seen: set[str] = set()
    for s in stages:   # every stage reads only stages before it
        assert set(s.after) <= seen, (s.name, s.after)
        seen.add(s.name)
    head = ["world", "tokenizer", "pretrain"] if name in WORLD else ["model", "bench-data"]
    ckpts = checkpoints(r)
    assert names[:len(head)] == head and names[len(head)] == "sft-data"
    assert ("oracle-lua" in ckpts) == (name in WORLD and name != "toy")   # the toy has no oracle (its budget)
    assert [n for n in names if n.startswith("eval-")] == [f"eval-{c}" for c in ckpts]
    assert names[-1] == "report" and "tables" in names and ("probe" in names) == bool(r.probe or name in WORLD)


@pytest.mark.parametrize("name", ["micro", "smol-micro"])
def test_the_dry_run_lists_the_graph_the_run_runs(name, tmp_path):
    r = _recipe(name)
    report = dry_run(r, tmp_path / "out", [tmp_path / "out"], name, None, [])
    assert [s["stage"] for s in report["stages"]] == list(_hashes(r))
    assert {s["stage"]: s["hash"] for s in report["stages"]} == _hashes(r)
    assert all(s["command"].endswith(f"--stage {s['stage']}") for s in report["stages"])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["micro", "smol-micro"])
def test_an_rl_change_moves_rl_and_what_reads_it_and_n_boot_only_the_tables(name):
    base = _hashes(_recipe(name))
    moved = lambda o: {k for k, v in _hashes(_recipe(name, o)).items() if v != base[k]}  # noqa: E731
    rl_ckpts = [c for c in checkpoints(_recipe(name)) if c.startswith(("rl-", "oracle-"))]
    assert moved({"rl.lr": "3e-6"}) == {*rl_ckpts, *(f"eval-{c}" for c in rl_ckpts), "tables", "probe", "report"}
    assert moved({"eval.n_boot": "321"}) == {"tables", "probe", "report"}
    assert moved({"runtime.threads": "1"}) == set()


def test_probe_tables_are_checked_by_one_function_for_both_kinds():
    for name in ("micro", "smol-micro"):
        r = _recipe(name, {"probe.bogus": "1"})
        with pytest.raises(BadInput, match=r"^\[probe\]\.bogus: unknown key"):
            probe_config(r, source_for(r))
        r = _recipe(name, {"probe.n_tasks": "-1"})
        with pytest.raises(BadInput, match=r"^\[probe\]: .*n_tasks: must be >= 0"):
            probe_config(r, source_for(r))


def test_force_on_a_bench_recipe_checks_the_recipe_before_deleting_anything(tmp_path, capsys):
    from .synthetic_run import write_synthetic_run
    existing = write_synthetic_run(tmp_path / "existing", n_tasks=4, probes=False)
    before = _snapshot(existing)
    recipe = tmp_path / "bad.toml"
    recipe.write_text('kind = "bench"\n[runtime]\nbf16_autocast = false\n[model]\nname = "/nonexistent-model"\n[probe]\nbogus = 1\n')
    data = tmp_path / "mbxp"
    data.mkdir()
    assert main(["run", "--recipe", str(recipe), "--data", str(data), "--out", str(existing), "--force",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "[probe].bogus" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert _snapshot(existing) == before


def test_a_cuda_device_that_is_not_there_is_refused_before_anything_is_touched(tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    from .synthetic_run import write_synthetic_run
    existing = write_synthetic_run(tmp_path / "existing", n_tasks=4, probes=False)
    before = _snapshot(existing)
    assert main(["run", "--recipe", "micro", "--set", "runtime.device=cuda", "--out", str(existing), "--force",
                 "--quiet"]) == 2
    assert "[runtime].device" in capsys.readouterr().err
    assert _snapshot(existing) == before


@pytest.mark.parametrize("name, extra", [("study", []), ("paper", ["--data", str(SHARED_DATA / "mbxp")])])
def test_one_seed_of_a_multi_seed_recipe_goes_to_its_seed_folder(name, extra, tmp_path, capsys):
    out = tmp_path / "run"
    main(["run", "--recipe", name, "--seed", "1", "--out", str(out), "--dry-run", *extra])
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == [str(out / "seed-1")]


def _finished_seed_runs(recipe, out: Path, seeds, ckpts) -> None:
    """Seed runs with evaluations and tables (synthetic) and every stage marked done for `recipe`."""
    from app.runfs import write_json

    from .synthetic_run import write_synthetic_run
    for s in seeds:
        root = write_synthetic_run(out / f"seed-{s}", n_tasks=6, seed=s, probes=False, ckpts=ckpts)
        for c in ckpts:   # a bench run's rows say their benchmark; its scores come per benchmark too
            path = root / "evals" / f"{c}.jsonl"
            path.write_text("".join(json.dumps({**json.loads(x), "split": "mbxp"}) + "\n"
                                    for x in path.read_text().splitlines()))
        write_json(root / "scores_by_benchmark.json", {"mbxp": json.loads((root / "scores.json").read_text())})
        r = recipe.with_seed(s)
        for stage, h in _hashes(r).items():
            write_json(root / "stages" / f"{stage}.json", {"stage": stage, "hash": h})


def test_study_pools_the_checkpoints_a_run_has_no_oracle_added(tmp_path):
    from app.study import pool_seeds

    from .synthetic_run import CKPTS, write_synthetic_run
    ckpts = [c for c in CKPTS if c != "oracle-lua"]
    for s in (0, 1):
        write_synthetic_run(tmp_path / f"seed-{s}", n_tasks=6, seed=s, probes=False, ckpts=ckpts)
    study = pool_seeds(tmp_path)
    assert list(study["scores"]) == ckpts and "oracle-lua" not in study["transfer"]
    assert {"mono", "multi", "parallel"} <= set(study["transfer"])


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data (MBXP)")
def test_seeds_of_a_bench_recipe_are_pooled_like_the_worlds(tmp_path, capsys):
    from .synthetic_run import CKPTS
    out = tmp_path / "smol"
    recipe = _recipe("smol-micro")
    _finished_seed_runs(recipe, out, (0, 1), [c for c in CKPTS if c != "oracle-lua"])
    assert main(["run", "--recipe", "smol-micro", "--data", str(SHARED_DATA / "mbxp"), "--out", str(out),
                 "--seeds", "2", "--resume", "--quiet"]) == 0, capsys.readouterr().err
    study = json.loads((out / "study.json").read_text())
    assert study["seeds"] == [0, 1] and "rl-parallel" in study["scores"] and "oracle-lua" not in study["scores"]
    assert study["by_benchmark"]["mbxp"]["scores"] == study["scores"]


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    """Under `accelerate launch` every rank runs a training stage; ranks other than 0 write into a
    throw-away folder, never into the run (a real stage function: the world's tokenizer)."""
    from app.context import RunContext
    from app.sources.world import tokenizer_stage
    from app.stages import Stage, StageRunner
    r = load_recipe("micro")
    monkeypatch.setenv("RANK", "1")
    ctx = RunContext(r, source_for(r), tmp_path / "run")
    assert not ctx.main
    tokenizer_stage(ctx)
    assert not (tmp_path / "run").exists()
    # the runner on rank 1 runs the one stage asked for, without markers or events
    (tmp_path / "run" / "stages").mkdir(parents=True)
    stages = [Stage("world", {}, lambda: None), Stage("tokenizer", {}, lambda: tokenizer_stage(ctx), after=["world"])]
    runner = StageRunner(tmp_path / "run", ctx.log, quiet=True)
    (tmp_path / "run" / "stages" / "world.json").write_text(json.dumps({"hash": stages[0].hash({})}))
    runner.run_graph(stages, only="tokenizer", main=False)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["stages"]
    assert not (tmp_path / "run" / "stages" / "tokenizer.json").exists()
    monkeypatch.setenv("RANK", "0")
    ctx0 = RunContext(r, source_for(r), tmp_path / "run")
    tokenizer_stage(ctx0)
    assert (tmp_path / "run" / "tokenizer" / "tokenizer.json").is_file()
