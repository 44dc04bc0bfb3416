"""Every stage function called alone, as a test calls it: a `RunContext` on a fresh folder and the
function, in graph order on a shrunken micro recipe (the world source), each test checking what its
stage wrote. The bench source's head stages are checked on MBXP with a local model folder."""
from __future__ import annotations

import json

import pytest

from app.context import RunContext
from app.pipeline import (
    checkpoints,
    eval_stage,
    interventions_stage,
    probe_stage,
    report_stage,
    rl_pairs,
    rl_stage,
    sft_data_stage,
    sft_stage,
    tables_stage,
)
from app.preflight import intervention_kind_config, probe_config
from app.sources import source_for
from app.sources.world import pretrain_stage, tokenizer_stage, world_stage
from train.recipe import load_recipe

TINY = {"runtime.bf16_autocast": "false", "runtime.threads": "1", "pretrain.max_steps": "4", "sft.max_steps": "1",
        "rl.steps": "1", "rl.max_completion_length": "16", "eval.n_tasks": "2", "eval.max_new_tokens": "24",
        "eval.n_boot": "100", "probe.n_tasks": "4", "probe.n_boot": "20", "probe.n_perm": "50", "sft.arms": '["mono", "parallel"]'}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    r = load_recipe("micro", TINY)
    c = RunContext(r, source_for(r), tmp_path_factory.mktemp("stages") / "run")
    yield c
    c.close()


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.slow
def test_world_stage_writes_the_splits(ctx):
    world_stage(ctx)
    info = json.loads((ctx.root / "data" / "world.json").read_text())
    assert info["stats"] and {"train", "rl", "test"} <= set(info["splits"])


@pytest.mark.slow
def test_tokenizer_stage_saves_a_tokenizer(ctx):
    tokenizer_stage(ctx)
    assert (ctx.root / "tokenizer" / "tokenizer.json").is_file()


@pytest.mark.slow
def test_pretrain_stage_saves_the_base_checkpoint(ctx):
    pretrain_stage(ctx)
    assert (ctx.checkpoint("base") / "model.safetensors").is_file()


@pytest.mark.slow
def test_sft_data_stage_writes_equal_budget_arms(ctx):
    sft_data_stage(ctx)
    mix = json.loads((ctx.root / "data" / "sft_mixtures.json").read_text())
    assert set(mix["arms"]) == {"mono", "parallel"}


@pytest.mark.slow
def test_sft_stage_saves_one_arm(ctx):
    sft_stage(ctx, "mono")
    sft_stage(ctx, "parallel")
    assert (ctx.checkpoint("sft-mono") / "model.safetensors").is_file()
    assert (ctx.checkpoint("sft-parallel") / "model.safetensors").is_file()


@pytest.mark.slow
def test_rl_stage_trains_every_arm_and_the_oracle(ctx):
    for name, (base, out) in rl_pairs(ctx.recipe.sft.arms, ctx.recipe.oracles).items():
        rl_stage(ctx, base, out, "lua" if name == "oracle-lua" else ctx.recipe.rl.lang)
        assert (ctx.checkpoint(out) / "model.safetensors").is_file(), out


@pytest.mark.slow
def test_eval_stage_scores_a_checkpoint_on_the_runtime_device(ctx):
    for c in checkpoints(ctx.recipe):
        info = eval_stage(ctx, c)
        assert info["device"] == str(ctx.device)
    rows = _rows(ctx.root / "evals" / "base.jsonl")
    assert {r["split"] for r in rows} <= {"test", "heldout_comp", "rl_test"}
    scores = json.loads((ctx.root / "evals" / "base.scores.json").read_text())
    assert set(scores) == set(ctx.recipe.eval.langs) and scores["python"]["n"] == 2


@pytest.mark.slow
def test_tables_stage_writes_scores_and_transfer(ctx):
    ckpts = checkpoints(ctx.recipe)
    tables_stage(ctx, ckpts, rl_pairs(ctx.recipe.sft.arms, ctx.recipe.oracles))
    assert list(json.loads((ctx.root / "scores.json").read_text())) == ckpts
    transfer = json.loads((ctx.root / "transfer.json").read_text())
    assert {"mono", "parallel", "oracle-lua"} <= set(transfer)
    assert not (ctx.root / "scores_by_benchmark.json").exists()   # one evaluation set: the world's


@pytest.mark.slow
def test_probe_stage_measures_the_checkpoints(ctx):
    (ctx.root / "config.json").write_text(json.dumps(ctx.recipe.to_dict()))   # probe_run reads the world from it
    info = probe_stage(ctx, probe_config(ctx.recipe, ctx.source))
    assert info["metrics"] == "probes/metrics.json" and "base" in info["ckpts"] and info["control"]


@pytest.mark.slow
def test_report_stage_writes_the_report(ctx):
    assert report_stage(ctx) == {"report": "report.html"}
    assert "<html" in (ctx.root / "report.html").read_text()[:2000].lower()


@pytest.mark.slow
def test_interventions_stage_runs_each_kind_on_an_arm_and_evaluates_the_pair_once(ctx):
    pytest.importorskip("nnsight")
    from probe.interventions.config import InterventionStageConfig
    table = InterventionStageConfig(arms=("parallel",), layers=(-1,), delta_tasks=4, probe_tasks=4, n_boot=100,
                                    min_tasks_ci=2)
    for kind in ("patch", "erase", "transplant"):
        cfg = intervention_kind_config(ctx.recipe, table, "parallel", kind, "python")
        info = interventions_stage(ctx, "parallel", kind, cfg, 2)
        assert info["output"] == f"interventions/{kind}-parallel.json"
        out = json.loads((ctx.root / info["output"]).read_text())
        assert out["kind"] == kind and out["tasks"]["n"] == 2 and out["layers"] == [1]
        assert out["checkpoints"]["model"]["name"] == "rl-parallel" and out["checkpoints"]["vs"]["name"] == "sft-parallel"
        assert len(out["conditions"]) == info["conditions"] > 2
        assert out["baseline_check"]["model"]["rows"] == 2 * len(ctx.recipe.eval.langs)   # the run's own rows
        assert (ctx.root / "interventions" / f"{kind}-parallel.rows.jsonl").is_file()
        assert not (ctx.root / "interventions" / f".{kind}-parallel.parts").exists()
    assert json.loads((ctx.root / "interventions" / "erase-parallel.json").read_text())["config"]["probe_text"] == "code"
    assert len(list((ctx.root / "interventions" / ".baselines").glob("*.jsonl"))) == 2
    said = [e.get("message", "") for e in _rows(ctx.root / "events.jsonl")]
    assert sum("evaluated by an earlier kind" in m for m in said) == 4   # erase and transplant reused both


@pytest.mark.slow
@pytest.mark.data
def test_bench_head_stages_write_the_model_and_the_checked_problems(shared_data, tmp_path):
    from app.sources.bench import bench_data_stage, model_stage
    model_dir = tmp_path / "a-local-model"   # a local folder is used as given (nothing is loaded here)
    r = load_recipe("smol-micro", {"data.mbxp": str(shared_data / "mbxp"), "model.name": str(model_dir),
                                   "data.sft_max_problems": "6", "data.rl_max_problems": "4", "sft.entropy_tasks": "1"})
    src = source_for(r)
    src.cache_dir = tmp_path / "cache"
    ctx = RunContext(r, src, tmp_path / "run")
    assert model_stage(ctx) == {"path": str(model_dir)} and src.base_model(ctx) == str(model_dir)
    info = bench_data_stage(ctx)
    bench = json.loads((tmp_path / "run" / "data" / "bench.json").read_text())
    assert info == {"sft_pool": len(bench["sft_pool"]), "rl": len(bench["rl"])} and 0 < info["rl"] <= 4
    assert all(601 <= int(t.rsplit("/", 1)[1]) <= 974 for t in bench["sft_pool"])
    assert (tmp_path / "cache" / "reference_verdicts.json").is_file()
