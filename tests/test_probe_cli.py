"""`psft probe` end to end: the probes/ layout that the report and the explorer read, on a small run
folder of real tiny checkpoints and (slow) on a real micro run; bad input is one clear error."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from probe.stats import MIN_BOOT_UNITS
from tests import tiny_lm

LANGS = ["python", "javascript", "lua"]
CKPTS = ["sft-mono", "sft-parallel", "rl-mono", "rl-parallel"]
FIELDS = ["retrieval", "retrieval_mean", "parallel_cosine", "silhouette_task", "silhouette_lang", "nmi_task",
          "nmi_lang", "probe_task_acc", "probe_lang_acc", "cka_lang"]
SCALARS = FIELDS[2:9]
LANG_METRICS = ["silhouette_lang", "nmi_lang", "probe_lang_acc"]


def make_run(root: Path, ckpts=CKPTS, layers: int = 2) -> Path:
    """A run folder with the contract's files: config.json (world), checkpoints/, evals/, transfer.json."""
    import torch
    torch.set_num_threads(1)
    tok = tiny_lm.tokenizer()
    (root / "checkpoints").mkdir(parents=True)
    for i, c in enumerate(ckpts):
        m = tiny_lm.model(tok, layers=layers, seed=i)
        m.save_pretrained(root / "checkpoints" / c)
        tok.save_pretrained(root / "checkpoints" / c)
    (root / "config.json").write_text(json.dumps({"name": "tiny", "world": {"seed": 0, "n_tasks": 200}, "seed": 0}))
    tasks = tiny_lm.world().split("test")[:10]
    rng = random.Random(0)
    (root / "evals").mkdir()
    for c in ckpts:
        rows = [{"task_id": t.id, "lang": lang, "sample": -1, "split": "test", "prompt": "", "completion": "",
                 "status": "failed", "passed": rng.random() < (0.2 if c.startswith("sft") else 0.5)}
                for t in tasks for lang in LANGS]
        (root / "evals" / f"{c}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    transfer = {arm: {lang: {"gain": rng.uniform(-0.1, 0.3), "ci95": [0, 0]} for lang in LANGS}
                for arm in ("mono", "parallel")}
    (root / "transfer.json").write_text(json.dumps(transfer))
    return root


def check_layout(root: Path, ckpts, langs, n_tasks: int, hooks=None, poolings=("mean", "last"),
                 norms=("raw", "centered", "standardized"), text="code"):
    from safetensors.numpy import load_file
    metrics = json.loads((root / "probes" / "metrics.json").read_text())
    meta = metrics["meta"]
    hooks = hooks or meta["layers"]
    assert meta["langs"] == list(langs) and meta["n_tasks"] == n_tasks and meta["layers"] == hooks
    assert meta["poolings"] == list(poolings) and meta["source"] == "world" and meta["text"] == text
    assert meta["norms"] == list(norms) and isinstance(meta["seed"], int)
    first_rows = None
    for c in ckpts:
        rows = [json.loads(x) for x in (root / "probes" / c / "rows.jsonl").read_text().splitlines()]
        assert len(rows) == n_tasks * len(langs)
        assert all(set(r) == {"row", "task_id", "lang", "n_tokens", "code"} for r in rows)
        assert [r["row"] for r in rows] == list(range(len(rows))) and all(r["n_tokens"] > 0 for r in rows)
        first_rows = first_rows or rows
        assert rows == first_rows                                   # same rows, same order, every checkpoint
        for pooling in poolings:
            tensors = load_file(str(root / "probes" / c / f"acts.{pooling}.safetensors"))
            assert list(tensors) == sorted(hooks) or set(tensors) == set(hooks)
            assert all(t.dtype == np.float32 and t.shape[0] == len(rows) for t in tensors.values())
    pairs = {f"{a}->{b}" for a in langs for b in langs if a != b}
    for c in ckpts:
        for pooling in poolings:
            for norm in meta["norms"]:
                for hook in hooks:
                    m = metrics["checkpoints"][c][pooling][norm][hook]
                    assert list(m) == FIELDS + ["excess_over_bag_of_tokens"]
                    check_layer(m, pairs, langs, norm, n_tasks)
                    base = metrics["baselines"]["bag_of_tokens"][norm]
                    ex = m["excess_over_bag_of_tokens"]
                    assert set(ex) == set(SCALARS) | {"retrieval_mean"}
                    for k in ("top1", "top5", "mrr"):
                        e = ex["retrieval_mean"][k]
                        assert e["value"] == m["retrieval_mean"][k]["value"] - base["retrieval_mean"][k]["value"]
                        assert_interval(e, n_tasks)
                    for f in SCALARS:
                        if m[f]["value"] is not None and base[f]["value"] is not None:
                            assert ex[f]["value"] == m[f]["value"] - base[f]["value"]
    assert list(metrics["baselines"]) == ["bag_of_tokens"]
    assert meta["baselines"]["bag_of_tokens"]["tokenizer_of"] == ckpts[0]
    for norm in meta["norms"]:
        base = metrics["baselines"]["bag_of_tokens"][norm]
        assert list(base) == FIELDS
        check_layer(base, pairs, langs, norm, n_tasks)
    for c in ckpts:
        lay = metrics["cka_layers"][c]
        assert lay["layers"] == hooks and np.array(lay["debiased"], dtype=float).shape == (len(hooks),) * 2
    for h in hooks:
        assert metrics["cka_ckpts"][h]["ckpts"] == list(ckpts)
        assert np.allclose(np.diag(np.array(metrics["cka_ckpts"][h]["linear"], dtype=float)), 1.0)
    names = {t["name"] for t in metrics["tests"]}
    if "sft-parallel" in ckpts and "sft-mono" in ckpts:
        assert "sft-parallel vs sft-mono" in names
    if "rl-parallel" in ckpts and "rl-mono" in ckpts:
        assert "rl-parallel vs rl-mono" in names
    for t in metrics["tests"]:
        assert {"name", "metric", "layer", "a", "b", "effect", "ci95", "p_value", "n", "verdict"} <= set(t)
        assert t["layer"] in hooks and t["n"] == n_tasks and 0 < t["p_value"] <= 1
    assert {t["layer"] for t in metrics["tests"] if t["metric"] == "retrieval_top1"} == set(hooks) or not names
    at = metrics["alignment_transfer"]
    assert set(at) >= {"per_language", "per_task", "layer"}
    return metrics


def assert_interval(v: dict, n_tasks: int) -> None:
    """A bootstrap CI brackets its value; below MIN_BOOT_UNITS tasks there is none."""
    if n_tasks < MIN_BOOT_UNITS:
        assert v["ci95"] is None, v
    else:
        assert v["ci95"][0] <= v["value"] <= v["ci95"][1], v


def check_layer(m: dict, pairs: set, langs, norm: str, n_tasks: int) -> None:
    """One layer's (or a baseline's) metrics: every pair's retrieval, scalar metrics with CIs, CKA; the
    language metrics of `centered` come from `raw`."""
    assert set(m["retrieval"]) == pairs
    for pair in pairs:
        for k in ("top1", "top5", "mrr"):
            v = m["retrieval"][pair][k]
            assert 0 <= v["value"] <= 1
            assert_interval(v, n_tasks)
    for f in SCALARS:
        want = {"value", "ci95", "from_norm"} if norm == "centered" and f in LANG_METRICS else {"value", "ci95"}
        assert set(m[f]) == want
    for k in ("top1", "top5", "mrr"):
        assert set(m["retrieval_mean"][k]) == {"value", "ci95"}
    assert m["cka_lang"]["langs"] == list(langs)
    assert np.array(m["cka_lang"]["linear"], dtype=float).shape == (len(langs), len(langs))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "tiny")


@pytest.mark.slow
def test_probe_writes_the_layout_on_a_run_of_tiny_checkpoints(tiny_run, capsys):
    code = main(["probe", str(tiny_run), "--n-tasks", "8", "--langs", ",".join(LANGS), "--n-boot", "50",
                 "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == str(tiny_run / "probes" / "metrics.json")
    metrics = check_layout(tiny_run, CKPTS, LANGS, 8)
    assert metrics["meta"]["layers"] == ["hook_embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    at = metrics["alignment_transfer"]
    assert set(at["per_language"]) == {"mono", "parallel"}          # no "all": the arms share their languages
    assert at["per_language"]["mono"]["n"] == 2 and at["per_language"]["mono"]["ci95"] is None   # too few for a CI
    assert set(at["per_task"]) == {"mono", "parallel"}
    # stored activations are what a fresh capture of the stored rows gives
    from safetensors.numpy import load_file

    from probe.capture import capture, load_model
    rows = [json.loads(x) for x in (tiny_run / "probes" / "rl-mono" / "rows.jsonl").read_text().splitlines()]
    model, tok = load_model(tiny_run / "checkpoints" / "rl-mono")
    fresh = capture(model, tok, [r["code"] for r in rows], layers="-1", poolings=("last",))
    stored = load_file(str(tiny_run / "probes" / "rl-mono" / "acts.last.safetensors"))
    np.testing.assert_allclose(stored["blocks.1.hook_resid_post"], fresh.pooled["last"]["blocks.1.hook_resid_post"],
                               atol=1e-5)


def test_probe_a_subset_of_checkpoints_and_layers(tiny_run, capsys):
    out = tiny_run.parent / "subset"
    if not out.exists():
        import shutil
        shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns("probes"))
    code = main(["probe", str(out), "--ckpt", "sft-mono,sft-parallel", "--layers", "embed,-1", "--pooling", "mean",
                 "--n-tasks", "5", "--langs", "python,lua", "--n-boot", "20", "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metrics = check_layout(out, ["sft-mono", "sft-parallel"], ["python", "lua"], 5,
                           hooks=["hook_embed", "blocks.1.hook_resid_post"], poolings=("mean",))
    assert list(metrics["checkpoints"]) == ["sft-mono", "sft-parallel"]
    assert not (out / "probes" / "rl-mono").exists()
    # the baseline is the bag of tokens of the stored rows, the tokens mean pooling covered
    from transformers import AutoTokenizer

    from probe.baselines import bag_of_tokens_metrics, pooled_token_ids
    from probe.config import ProbeConfig
    rows = [json.loads(x) for x in (out / "probes" / "sft-mono" / "rows.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(out / "checkpoints" / "sft-mono")
    assert [len(ids) for ids in pooled_token_ids(tok, [r["code"] for r in rows], 512)] == [r["n_tokens"] for r in rows]
    again = bag_of_tokens_metrics([r["code"] for r in rows], [r["lang"] for r in rows], [r["task_id"] for r in rows],
                                  ProbeConfig(poolings=("mean",), n_boot=20), tokenizer=tok, max_tokens=512)
    for norm in ("raw", "centered", "standardized"):
        assert again[norm]["retrieval_mean"] == metrics["baselines"]["bag_of_tokens"][norm]["retrieval_mean"]
        assert again[norm]["parallel_cosine"] == metrics["baselines"]["bag_of_tokens"][norm]["parallel_cosine"]
    top1 = {n: metrics["baselines"]["bag_of_tokens"][n]["retrieval_mean"]["top1"]["value"] for n in ("raw", "centered")}
    assert top1["centered"] > 1 / 5                             # translations share tokens: above chance
    print("bag-of-tokens top-1 on the tiny run (5 tasks, python/lua):", top1)


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no run folder"),
    (["{empty}"], "not a run folder"),
    (["{run}", "--ckpt", "sft-nothing"], "no checkpoint 'sft-nothing'"),
    (["{run}", "--ckpt", "broken"], "not a model folder"),
    (["{run}", "--ckpt", "sft-mono", "--layers", "7"], "unknown layer '7'"),
    (["{run}", "--ckpt", "sft-mono", "--layers", "attn"], "unknown layer 'attn'"),
    (["{run}", "--pooling", "max", "--ckpt", "sft-mono"], "poolings"),
    (["{run}", "--langs", "python,cobol", "--ckpt", "sft-mono"], "unknown world language"),
    (["{run}", "--split", "nope", "--ckpt", "sft-mono"], "unknown split"),
    (["{run}", "--n-tasks", "1", "--ckpt", "sft-mono"], "at least 2"),
    (["{run}", "--model", "{run}/checkpoints/sft-mono"], "--model needs --data"),
    (["{run}", "--data", "x"], "go with --model"),
    (["{run}"], "broken is not a model folder"),
])
def test_bad_input_is_one_clear_error(tiny_run, tmp_path, capsys, args, message):
    bad = tmp_path / "bad-run"
    if not bad.exists():
        import shutil
        shutil.copytree(tiny_run, bad, ignore=shutil.ignore_patterns("probes"))
        (bad / "checkpoints" / "broken").mkdir()
        (bad / "checkpoints" / "broken" / "notes.txt").write_text("not a model")
    (tmp_path / "empty").mkdir(exist_ok=True)
    fill = {"run": str(bad), "missing": str(tmp_path / "missing"), "empty": str(tmp_path / "empty")}
    argv = ["probe", *[a.format(**fill) for a in args], "--quiet", "--n-boot", "10"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("psft probe: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (bad / "probes" / "metrics.json").exists()


@pytest.mark.slow
def test_probe_a_real_micro_run(tmp_path_factory, capsys):
    import shutil

    from .micro_run import shared_micro_run
    run = tmp_path_factory.mktemp("runs") / "micro"   # a copy: probing again rewrites probes/
    shutil.copytree(shared_micro_run(tmp_path_factory).root, run)
    first = json.loads((run / "probes" / "metrics.json").read_text())["meta"]   # what the pipeline's probe used
    code = main(["probe", str(run), "--n-tasks", "6", "--n-boot", "100", "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    from evals.world import LANGS
    # `psft probe RUN` defaults to the run's recipe: the poolings, norms and text of the pipeline's own probe
    metrics = check_layout(run, [c for c in metrics_order(ckpts)], list(LANGS), 6, poolings=first["poolings"],
                           norms=first["norms"], text=first["text"])
    assert first["norms"] == ["raw", "centered"]                 # the micro recipe's [probe].norms
    assert {"sft-parallel vs sft-mono", "sft-parallel vs sft-multi", "rl-parallel vs rl-mono"} <= \
        {t["name"] for t in metrics["tests"]}
    assert set(metrics["alignment_transfer"]["per_language"]) == {"mono", "multi", "parallel"}


def metrics_order(ckpts):
    order = {"base": 0, "sft": 1, "rl": 2}
    return sorted(ckpts, key=lambda n: (order.get(n.split("-", 1)[0], 3), n))


@pytest.mark.data
@pytest.mark.slow
def test_probe_any_model_folder_on_mbxp(tiny_run, tmp_path, shared_data, capsys):
    """--model DIR --data MBXP: references run and filtered, code only, outputs under the given folder."""
    out = tmp_path / "mbxp-probe"
    code = main(["probe", str(out), "--model", str(tiny_run / "checkpoints" / "sft-mono"), "--name", "tiny",
                 "--data", str(shared_data / "mbxp"), "--langs", "python,javascript", "--n-tasks", "4",
                 "--n-boot", "20", "--threads", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "probes" / "metrics.json").read_text())
    assert metrics["meta"]["source"] == "mbxp" and metrics["meta"]["refs_checked"] == "run"
    assert list(metrics["checkpoints"]) == ["tiny"] and metrics["meta"]["n_tasks"] == 4
    rows = [json.loads(x) for x in (out / "probes" / "tiny" / "rows.jsonl").read_text().splitlines()]
    assert [r["lang"] for r in rows] == ["python"] * 4 + ["javascript"] * 4
    assert not any('"""' in r["code"] or "/*" in r["code"] for r in rows)
    assert set(metrics["checkpoints"]["tiny"]["mean"]["raw"]["hook_embed"]["retrieval"]) == \
        {"python->javascript", "javascript->python"}
