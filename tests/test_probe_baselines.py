"""The bag-of-tokens baseline (real tokenizer, real capture), its excess fields, and the language
metrics of `centered` read from `raw`."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from probe import stats
from probe.baselines import bag_of_tokens, bag_of_tokens_metrics, pooled_token_ids
from probe.config import ProbeConfig
from probe.metrics import EXCESS, LANG_METRICS, compute_metrics, language_metrics, make_grid
from probe.normalize import normalize
from tests import tiny_lm

LANGS = ["python", "lua", "ruby"]
CFG = ProbeConfig(poolings=("mean",), n_boot=200, n_perm=200)


def grid_rows(n_tasks: int, langs=LANGS) -> tuple[list[str], list[str]]:
    """(task ids, languages) of a parallel set, language-major."""
    return [f"t{t}" for _ in langs for t in range(n_tasks)], [lang for lang in langs for _ in range(n_tasks)]


def test_bags_count_the_tokens_mean_pooling_covers():
    from probe.capture import capture
    tok = tiny_lm.tokenizer()
    w = tiny_lm.world()
    texts = [t.solution(lang) for t in w.split("test")[:4] for lang in ("python", "lua")] + [""]
    ids = pooled_token_ids(tok, texts)
    for text, row in zip(texts, ids):
        plain = tok(text, add_special_tokens=False)["input_ids"]
        assert row == (plain or [tok.bos_token_id])            # BOS off; an empty program pools its BOS
    X = bag_of_tokens(texts, tok)
    assert X.dtype == np.float32 and X.shape[0] == len(texts)
    assert X.sum(1).tolist() == [len(r) for r in ids]
    vocab = sorted({t for r in ids for t in r})
    for i, row in enumerate(ids):
        assert dict(Counter(row)) == {vocab[j]: int(c) for j, c in enumerate(X[i]) if c}
    model = tiny_lm.model(tok, layers=1)
    assert capture(model, tok, texts, layers="embed").n_tokens == [len(r) for r in ids]
    assert [len(r) for r in pooled_token_ids(tok, texts, max_tokens=5)] == [min(len(r), 4) for r in ids[:-1]] + [1]
    with pytest.raises(ValueError, match="tokenizer"):
        bag_of_tokens(texts)


def test_translations_that_share_tokens_are_retrieved_and_ones_that_share_none_are_at_chance():
    n = 40
    rng = np.random.default_rng(0)
    task_ids, langs = grid_rows(n)
    own = {t: list(rng.integers(100, 400, 3)) for t in sorted(set(task_ids))}   # tokens a task keeps in every language
    shared = [own[t] + [1000 + LANGS.index(lang)] * 4 + list(rng.integers(2000, 2100, 4))
              for t, lang in zip(task_ids, langs)]
    m = bag_of_tokens_metrics(shared, langs, task_ids, CFG)
    assert set(m) == set(CFG.norms)
    for norm in CFG.norms:
        top1 = m[norm]["retrieval_mean"]["top1"]
        assert top1["value"] > 0.7 and top1["ci95"][0] > 10 / n, norm     # chance: 1/40
    # no token in common between languages: every cross-language cosine is 0, every key ties with the gold
    # one, and counting ties gives exactly chance (index order would have given task 0 a hit in each pair)
    disjoint = [[10_000 * (LANGS.index(lang) + 1) + int(t[1:]) * 10 + k for k in range(5)]
                for t, lang in zip(task_ids, langs)]
    m = bag_of_tokens_metrics(disjoint, langs, task_ids, CFG)
    for norm in ("raw", "centered"):
        r = m[norm]["retrieval_mean"]
        assert r["top1"]["value"] == pytest.approx(1 / n) and r["top5"]["value"] == pytest.approx(5 / n)
        assert r["mrr"]["value"] == pytest.approx(sum(1 / k for k in range(1, n + 1)) / n)
        assert m[norm]["parallel_cosine"]["value"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError):
        bag_of_tokens_metrics(disjoint[:-1], langs, task_ids, CFG)


def space(n_tasks=24, d=10, seed=0):
    """Task signal plus a strong per-language offset, rows language-major."""
    rng = np.random.default_rng(seed)
    task_ids, langs = grid_rows(n_tasks)
    T = rng.standard_normal((n_tasks, d))
    L = rng.standard_normal((len(LANGS), d)) * 3
    t = np.tile(np.arange(n_tasks), len(LANGS))
    lang = np.repeat(np.arange(len(LANGS)), n_tasks)
    X = (T[t] + L[lang] + 0.5 * rng.standard_normal((len(t), d))).astype(np.float32)
    return X, task_ids, langs


@pytest.fixture(scope="module")
def measured():
    X, task_ids, langs = space()
    rows = [{"task_id": t, "lang": lang} for t, lang in zip(task_ids, langs)]
    rng = np.random.default_rng(1)
    acts = {c: {"mean": {"hook_embed": X, "blocks.0.hook_resid_post": X + rng.standard_normal(X.shape).astype(np.float32)}}
            for c in ("sft-mono", "sft-parallel")}
    docs = [[int(t[1:]) % 5, 50 + LANGS.index(lang), 60 + int(t[1:])] for t, lang in zip(task_ids, langs)]
    base = bag_of_tokens(docs)
    return compute_metrics(rows, acts, CFG, {}, baselines={"bag_of_tokens": base}), rows, X, docs


def test_language_metrics_under_centered_are_those_of_raw(measured):
    metrics, rows, X, _ = measured
    grid = make_grid(rows)
    names = [r["lang"] for r in rows]
    for by_norm in [metrics["baselines"]["bag_of_tokens"]] + [
            {n: metrics["checkpoints"][c]["mean"][n][h] for n in CFG.norms}
            for c in ("sft-mono", "sft-parallel") for h in ("hook_embed", "blocks.0.hook_resid_post")]:
        for name in LANG_METRICS:
            raw, centred, std = (by_norm[n][name] for n in ("raw", "centered", "standardized"))
            assert centred == {**raw, "from_norm": "raw"}
            assert "from_norm" not in raw and "from_norm" not in std
    # ... and measuring them on the centred vectors would give something else (the test can fail)
    on_centred, _ = language_metrics(normalize(X, names, "centered"), grid, CFG)
    got = metrics["checkpoints"]["sft-mono"]["mean"]["centered"]["hook_embed"]
    assert got["silhouette_lang"]["value"] > 0.3 > on_centred["silhouette_lang"]["value"]
    assert got["probe_lang_acc"]["value"] > on_centred["probe_lang_acc"]["value"]
    # only centred: the raw language metrics are still measured
    alone = compute_metrics(rows, {"a": {"mean": {"hook_embed": X}}},
                            ProbeConfig(poolings=("mean",), norms=("centered",), n_boot=200, n_perm=200), {})
    for name in LANG_METRICS:
        assert alone["checkpoints"]["a"]["mean"]["centered"]["hook_embed"][name] == got[name]


def test_excess_is_metric_minus_baseline_exactly_with_a_paired_interval(measured):
    metrics, *_ = measured
    base = metrics["baselines"]["bag_of_tokens"]
    assert set(base) == set(CFG.norms)
    n = 0
    for by_pool in metrics["checkpoints"].values():
        for norm, layers in by_pool["mean"].items():
            for m in layers.values():
                ex = m["excess_over_bag_of_tokens"]
                for path, _ in EXCESS:
                    a, b, e = m, base[norm], ex
                    for p in path:
                        a, b, e = a[p], b[p], e[p]
                    assert set(e) == {"value", "ci95"}
                    assert e["value"] == a["value"] - b["value"]
                    if e["ci95"] is not None:
                        lo, hi = e["ci95"]
                        assert lo <= e["value"] + 1e-9 and e["value"] - 1e-9 <= hi
                    n += 1
    assert n == 2 * 3 * 2 * len(EXCESS)
    # the paired CI is the bootstrap of per-task differences, not a difference of two intervals
    rng = np.random.default_rng(3)
    b = rng.random(40)
    a = b + 0.1 + 0.01 * rng.standard_normal(40)
    r = stats.paired_excess(a.mean(), b.mean(), a, b, n_boot=500)
    assert r["value"] == a.mean() - b.mean()
    assert r["ci95"] == stats.bootstrap_mean(a - b, 500)["ci95"]
    assert r["ci95"][1] - r["ci95"][0] < 0.02 < (stats.bootstrap_mean(a, 500)["ci95"][1] - stats.bootstrap_mean(a, 500)["ci95"][0])
    assert stats.paired_excess(None, 0.3, a, b) == {"value": None, "ci95": None}
    s = stats.paired_excess(0.5, 0.2, np.array([0.3, 0.4, 0.5]), np.array([0.1, 0.1, 0.1]), draws=True)
    assert s["value"] == pytest.approx(0.3) and s["ci95"] == pytest.approx(list(np.percentile([0.2, 0.3, 0.4], [2.5, 97.5])))


def test_nmi_draws_are_what_bootstrap_nmi_reports():
    rng = np.random.default_rng(5)
    task = np.repeat(np.arange(30), 3)
    lang = np.tile(np.arange(3), 30)
    clusters = np.where(rng.random(90) < 0.8, lang, rng.integers(0, 3, 90))
    value, samples = stats.nmi_draws(lang, clusters, task, n_boot=300)
    r = stats.bootstrap_nmi(lang, clusters, task, n_boot=300)
    assert r["value"] == value and len(samples) == 300
    assert r["ci95"] == pytest.approx(list(np.percentile(samples, [2.5, 97.5])))


def test_alignment_curves_draw_each_baseline_as_a_reference_line(tmp_path):
    import json

    from app import charts
    from app.rundata import open_run
    (tmp_path / "probes").mkdir()
    (tmp_path / "config.json").write_text("{}")
    layer = {"retrieval_mean": {"top1": {"value": 0.2, "ci95": [0.1, 0.3]}}}
    metrics = {"meta": {"norms": ["raw", "centered"]},
               "checkpoints": {"sft-mono": {"mean": {"centered": {"hook_embed": layer, "blocks.0.hook_resid_post": layer}}}},
               "baselines": {"bag_of_tokens": {"centered": {"retrieval_mean": {"top1": {"value": 0.44, "ci95": None}}},
                                               "raw": {"retrieval_mean": {"top1": {"value": 0.3, "ci95": None}}}}}}
    (tmp_path / "probes" / "metrics.json").write_text(json.dumps(metrics))
    run = open_run(tmp_path)
    fig = charts.layer_curves([run], "retrieval_top1", "mean", "centered", ckpts=["sft-mono"])
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 1 and lines[0].y0 == lines[0].y1 == 0.44
    assert [a.text for a in fig.layout.annotations] == ["bag of tokens"]
    assert charts.baseline_values(run, "retrieval_top1", "raw") == {"bag_of_tokens": 0.3}
    assert not charts.layer_curves([run], "silhouette_task", "mean", "centered", ckpts=["sft-mono"]).layout.shapes
