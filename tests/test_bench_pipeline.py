"""`psft run --recipe smol-micro --data ../shared/data/mbxp`: SmolLM2-135M-Instruct through the whole
bench path (model, reference check, LoRA SFT arms, GRPO, evaluation on MBXP and Multi-HumanEval, tables)
writes the run-folder contract, trains only on train/validation numbers, and resumes without redoing."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("gguf")
CKPTS = ["base", "sft-mono", "sft-multi", "sft-parallel", "rl-mono", "rl-multi", "rl-parallel"]


def _number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def micro_run(shared_data, tmp_path_factory):
    from app.cli import main
    from train.pretrained import ModelSourceError, gguf_path
    try:
        gguf_path("smollm2")
    except ModelSourceError as e:
        pytest.skip(str(e))
    out = tmp_path_factory.mktemp("runs") / "smol-micro"
    assert main(["run", "--recipe", "smol-micro", "--data", str(shared_data / "mbxp"), "--out", str(out),
                 "--quiet"]) == 0
    return out


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.timeout(1800)   # ~3 minutes of CPU; much more wall time when other jobs share the cores
def test_smol_micro_writes_the_run_folder_contract(micro_run):
    cfg = json.loads((micro_run / "config.json").read_text())
    assert cfg["kind"] == "bench" and cfg["name"] == "smol-micro"
    bench = json.loads((micro_run / "data" / "bench.json").read_text())
    assert bench["sft_pool"] and all(601 <= _number(t) <= 974 for t in bench["sft_pool"])
    assert bench["rl"] and all(511 <= _number(t) <= 600 for t in bench["rl"])
    mix = json.loads((micro_run / "data" / "sft_mixtures.json").read_text())
    for arm in mix["arms"].values():   # each arm reaches the budget and overshoots by one example (group) at most
        longest = max(arm["tokens_by_lang"][la] / arm["examples_by_lang"][la] for la in arm["langs"])
        assert mix["budget_tokens"] <= arm["tokens"] < mix["budget_tokens"] + 2 * len(arm["langs"]) * longest
    par = mix["arms"]["parallel"]["task_ids_by_lang"]
    assert set(par) == {"python", "javascript", "ruby"} and par["python"] == par["ruby"] == par["javascript"]
    assert set(mix["arms"]["mono"]["task_ids_by_lang"]) == {"python"}
    for c in CKPTS[1:]:
        tok_cfg = micro_run / "checkpoints" / c / "tokenizer_config.json"
        assert (micro_run / "checkpoints" / c / "config.json").exists() and tok_cfg.exists(), c
        assert (micro_run / "checkpoints" / c / "chat_template.jinja").exists(), c
    for c in CKPTS:
        rows = [json.loads(x) for x in (micro_run / "evals" / f"{c}.jsonl").read_text().splitlines()]
        assert {r["split"] for r in rows} == {"mbxp", "multi-humaneval"}
        assert all(11 <= _number(r["task_id"]) <= 510 for r in rows if r["split"] == "mbxp")
        assert all(r["prompt"].startswith("<|im_start|>system") for r in rows)
    scores = json.loads((micro_run / "scores.json").read_text())
    assert set(scores) == set(CKPTS) and all(set(s) == {"python", "ruby"} for s in scores.values())
    by_bench = json.loads((micro_run / "scores_by_benchmark.json").read_text())
    assert set(by_bench["multi-humaneval"]["base"]) == {"javascript"}
    transfer = json.loads((micro_run / "transfer.json").read_text())
    assert {"mono", "multi", "parallel"} <= set(transfer) and "ruby" in transfer["parallel"]
    metrics = json.loads((micro_run / "probes" / "metrics.json").read_text())
    assert list(metrics["checkpoints"]) == ["base", "sft-parallel", "rl-parallel"]
    assert (micro_run / "probes" / "base" / "rows.jsonl").exists()
    assert "<title>Parallel-SFT report: smol-micro</title>" in (micro_run / "report.html").read_text()[:1000]


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.timeout(1800)
def test_sft_changed_the_weights_and_resume_redoes_nothing(micro_run, shared_data):
    from safetensors import safe_open

    from app.cli import main
    base = json.loads((micro_run / "data" / "model.json").read_text())["path"]
    key = "model.layers.0.self_attn.q_proj.weight"
    with safe_open(f"{base}/model.safetensors", "pt") as a, \
            safe_open(str(micro_run / "checkpoints" / "sft-mono" / "model.safetensors"), "pt") as b:
        assert not a.get_tensor(key).equal(b.get_tensor(key))   # the LoRA update was merged
    assert main(["run", "--recipe", "smol-micro", "--data", str(shared_data / "mbxp"), "--out", str(micro_run),
                 "--quiet", "--resume"]) == 0
    events = [json.loads(x) for x in (micro_run / "events.jsonl").read_text().splitlines()]
    last = [e for e in events if e["event"] == "run_end"][-1]
    assert last["ran"] == [] and len(last["skipped"]) == 19
