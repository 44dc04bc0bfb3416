"""`psft study DIR`: the seeds of a multi-seed run pooled into study.json, through the real command line."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .synthetic_run import write_synthetic_run

PSFT = [sys.executable, "-m", "app.cli"]
ROOT = Path(__file__).resolve().parents[1]


def psft(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*PSFT, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def study(tmp_path) -> Path:
    for s in (0, 1, 2):
        write_synthetic_run(tmp_path / f"seed-{s}", n_tasks=40, seed=s, probes=False)
    (tmp_path / "seed-3").mkdir()   # a seed that has not finished: not pooled
    return tmp_path


def test_study_pools_finished_seeds_and_prints_tables(study):
    r = psft("study", str(study), "--n-boot", "200")
    assert r.returncode == 0, r.stderr
    out = json.loads((study / "study.json").read_text())
    assert out["seeds"] == [0, 1, 2]
    per_seed = [json.loads((study / f"seed-{s}" / "scores.json").read_text()) for s in (0, 1, 2)]
    cell = out["scores"]["rl-parallel"]["lua"]
    assert cell["per_seed"] == [p["rl-parallel"]["lua"]["pass@1"] for p in per_seed]
    assert cell["pass@1"] == pytest.approx(sum(cell["per_seed"]) / 3)
    gain = out["transfer"]["parallel"]["python"]
    expect = [p["rl-parallel"]["python"]["pass@1"] - p["sft-parallel"]["python"]["pass@1"] for p in per_seed]
    assert gain["per_seed"] == pytest.approx(expect) and gain["gain"] == pytest.approx(sum(expect) / 3)
    assert gain["ci95"][0] <= gain["gain"] <= gain["ci95"][1] and gain["interval_unit"] == "seeds+tasks"
    assert gain["role"] == "exploratory"
    assert "oracle-lua" in out["transfer"] and "parallel - mono" in out["transfer"]["_compare"]
    assert out["transfer"]["oracle-lua"]["targets"]["langs"] == ["python", "javascript", "ruby", "php", "perl"]
    assert out["transfer"]["parallel"]["zero_shot"]["langs"] == ["lua", "perl"]
    assert out["transfer"]["parallel"]["seen"]["langs"] == ["javascript", "ruby", "php"]
    family = out["transfer"]["_family"]
    assert [m["contrast"] for m in family["members"]] == ["parallel - multi", "parallel - mono"]
    assert out["transfer"]["_compare"]["parallel - mono"]["zero_shot"]["role"] == "confirmatory"
    assert cell["method"].startswith("wilson") and cell["ci95"][0] <= cell["pass@1"] <= cell["ci95"][1]
    assert "| rl-parallel |" in r.stdout and "| parallel - mono |" in r.stdout and "mean of seeds 0, 1, 2" in r.stdout
    assert "Confirmatory contrasts" in r.stdout and "Holm over 2" in r.stdout and "zero-shot (mean)" in r.stdout
    assert "Exploratory" in r.stdout and "**" not in r.stdout


def test_study_refuses_what_it_cannot_pool(study, tmp_path):
    r = psft("study", str(tmp_path / "nope"))
    assert r.returncode == 2 and "no such run folder" in r.stderr
    shutil.rmtree(study / "seed-1"), shutil.rmtree(study / "seed-2")
    r = psft("study", str(study))
    assert r.returncode == 2 and "1 finished seed run(s)" in r.stderr and not (study / "study.json").exists()
    write_synthetic_run(study / "seed-1", n_tasks=30, seed=1, probes=False)   # other tasks
    r = psft("study", str(study))
    assert r.returncode == 2 and "different tasks" in r.stderr and not (study / "study.json").exists()
    assert r.stderr.count("\n") == 1


def test_study_refuses_seeds_that_declared_different_families(study):
    cfg = json.loads((study / "seed-2" / "config.json").read_text())
    cfg["analysis"] = {"confirmatory": ["parallel - mono"]}
    (study / "seed-2" / "config.json").write_text(json.dumps(cfg))
    r = psft("study", str(study))
    assert r.returncode == 2 and "different [analysis]" in r.stderr and r.stderr.count("\n") == 1


def _with_baseline(metrics: dict, shift: float) -> dict:
    """The synthetic probes in the real layout of what this test reads: top-1 as {"value", "ci95"}, a
    bag-of-tokens baseline, each layer's excess over it, and a control block (the same, lowered)."""
    def real(block: dict, drop: float) -> dict:
        block = json.loads(json.dumps(block))
        for per_pool in block["checkpoints"].values():
            for per_norm in per_pool.values():
                for layers in per_norm.values():
                    for m in layers.values():
                        v = m["retrieval_mean"]["top1"] - drop
                        m["retrieval_mean"]["top1"] = {"value": v, "ci95": [v - 0.05, v + 0.05]}
                        e = v - (0.44 - drop)
                        m["excess_over_bag_of_tokens"] = {"retrieval_mean": {"top1": {"value": e, "ci95": [e - 0.04, e + 0.04]}}}
        block["baselines"] = {"bag_of_tokens": {n: {"retrieval_mean": {"top1": {"value": 0.44 - drop, "ci95": None}}}
                                                for n in block["meta"]["norms"]}}
        return block
    out = real(metrics, shift)
    out["control"] = {k: v for k, v in real(metrics, shift + 0.2).items() if k in ("checkpoints", "baselines")}
    return out


def test_study_pools_the_seeds_probes_against_the_bag_of_tokens_baseline(tmp_path):
    for s in (0, 1):
        root = write_synthetic_run(tmp_path / f"seed-{s}", n_tasks=12, seed=s)
        path = root / "probes" / "metrics.json"
        path.write_text(json.dumps(_with_baseline(json.loads(path.read_text()), 0.01 * s)))
    r = psft("study", str(tmp_path))
    assert r.returncode == 0, r.stderr
    probes = json.loads((tmp_path / "study.json").read_text())["probes"]
    assert (probes["norm"], probes["metric"]) == ("centered", "retrieval_mean.top1")
    per_seed = [json.loads((tmp_path / f"seed-{s}" / "probes" / "metrics.json").read_text()) for s in (0, 1)]
    top = [m["checkpoints"]["sft-parallel"][probes["pooling"]]["centered"]["blocks.2.hook_resid_post"]
           ["retrieval_mean"]["top1"]["value"] for m in per_seed]
    cell = probes["checkpoints"]["sft-parallel"]["2"]
    assert cell["per_seed"] == top and cell["mean"] == pytest.approx(sum(top) / 2)
    assert cell["excess_mean"] == pytest.approx(sum(top) / 2 - (0.44 + 0.43) / 2)
    assert probes["bag_of_tokens"]["per_seed"] == pytest.approx([0.44, 0.43])
    assert probes["control"]["bag_of_tokens"]["per_seed"] == pytest.approx([0.24, 0.23])
    assert "bag of tokens (no model; every layer)" in r.stdout and "lexical control set" in r.stdout


def test_study_plan_sizes_the_design_from_the_seeds_grids(study):
    """--plan: per confirmatory contrast, the components of its seed x task grid (recomputed here from the
    evaluation rows) and the expected half-width by number of seeds; a bad target is one clear error."""
    import numpy as np

    from train.power import components_from_grid, half_width
    r = psft("study", str(study), "--n-boot", "200", "--plan", "1.0")
    assert r.returncode == 0, r.stderr
    plan = json.loads((study / "study.json").read_text())["plan"]
    cell = plan["contrasts"]["parallel - multi"]
    assert cell["langs"] == ["lua", "perl"] and cell["seeds"] == 3 and cell["n_tasks"] == 40

    def per_task(seed, ckpt, lang):
        rows = [json.loads(x) for x in (study / f"seed-{seed}" / "evals" / f"{ckpt}.jsonl").read_text().splitlines()]
        return {x["task_id"]: float(x["passed"]) for x in rows if x["lang"] == lang and x["sample"] < 0}

    grid = []
    for s in (0, 1, 2):
        vals = {la: {c: per_task(s, c, la) for c in ("sft-parallel", "rl-parallel", "sft-multi", "rl-multi")}
                for la in ("lua", "perl")}
        ids = sorted(vals["lua"]["sft-parallel"])
        grid.append([100 * np.mean([(v["rl-parallel"][t] - v["sft-parallel"][t]) - (v["rl-multi"][t] - v["sft-multi"][t])
                                    for v in vals.values()]) for t in ids])
    want = components_from_grid(grid)
    got = cell["components"]
    assert (got["seed"], got["task"], got["resid"]) == pytest.approx((want.seed, want.task, want.resid))
    assert cell["half_width_by_seeds"]["5"] == pytest.approx(half_width(want, 5, 40, draws=4000), abs=1e-3)
    assert "Sizing a study of this design" in r.stdout and "| parallel - multi | 3 x 40 |" in r.stdout
    bad = psft("study", str(study), "--plan", "-1")
    assert bad.returncode == 2 and "--plan must be a positive" in bad.stderr
