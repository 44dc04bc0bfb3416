"""Benchmarks of `probe`: capture overhead against a plain HF forward, and the CKA layer matrix.

1. Capture (nnsight, one trace per batch, pooling inside the trace) against a plain forward with
   `output_hidden_states=True` on the same padded batches (target: <= 1.2x). The capture is timed end
   to end (tokenisation, batching, wrapping the model, both poolings, every hook); the baseline is the
   forward alone on batches built beforehand. Two random Llamas: the world's default size (hidden 256,
   4 layers) and SmolLM2-135M's shape (hidden 576, 30 layers, 2k vocabulary so that both sides pay a
   small LM head). Runs alternate and the best of each is kept (the cores may be shared).
2. CKA: the linear and debiased layer x layer matrices for n=2000, d=576, L=30 (target <= 5 s), with
   BLAS on one thread and on its default (all cores: slower when the cores are shared), wall and CPU
   time; and what pairwise computation would cost (a few pairs, extrapolated to 465).
Results, with the machine's load, go to `artifacts/bench/probe.json`.
"""
from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
import pytest

from .. import tiny_lm
from ..conftest import REPO

OUT = REPO / "artifacts" / "bench" / "probe.json"
CAPTURE_TARGET = 1.2
CKA_TARGET_S = 5.0


def _load():
    return [round(x, 2) for x in os.getloadavg()]


def _write(key: str, value: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data["_machine"] = {"cpus": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                        "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    data[key] = value
    OUT.write_text(json.dumps(data, indent=2))


def _capture_vs_forward(model, tok, texts, batch_size: int, repeats: int) -> dict:
    import torch

    from probe.capture import _batch, _tokenize, capture

    ids, special = _tokenize(tok, texts, None)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    batches = [_batch([ids[i] for i in order[s:s + batch_size]], [special[i] for i in order[s:s + batch_size]],
                      tok.pad_token_id, "right") for s in range(0, len(order), batch_size)]

    def baseline():
        with torch.no_grad():
            for input_ids, attn, pos, _ in batches:
                model(input_ids=input_ids, attention_mask=attn, position_ids=pos, output_hidden_states=True)

    def ours():
        capture(model, tok, texts, batch_size=batch_size)

    ours()  # warm-up: nnsight's first trace compiles, torch allocates
    baseline()
    t_base, t_ours = [], []
    for _ in range(repeats):
        for fn, acc in ((baseline, t_base), (ours, t_ours)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    ratio = min(t_ours) / min(t_base)
    return {"programs": len(texts), "batch_size": batch_size, "tokens": int(sum(len(x) for x in ids)),
            "baseline_forward_s": round(min(t_base), 3), "capture_s": round(min(t_ours), 3),
            "ratio": round(ratio, 3), "median_ratio": round(float(np.median(t_ours) / np.median(t_base)), 3),
            "target": CAPTURE_TARGET, "met": ratio <= CAPTURE_TARGET}


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_capture_overhead_against_a_plain_forward():
    import torch
    torch.set_num_threads(1)
    from evals.world import LANGS
    from probe.programs import world_programs
    w = tiny_lm.world(n_tasks=2000)
    tok = tiny_lm.tokenizer(vocab_size=2048, n_tasks=2000)
    results = {"threads": 1, "load_before": _load()}
    rows = world_programs(w, "test", list(LANGS), n_tasks=100)
    small = tiny_lm.model(tok, hidden=256, layers=4, heads=4, intermediate=688)
    results["world_default_h256_l4"] = _capture_vs_forward(small, tok, [r.code for r in rows], 16, repeats=3)
    rows = world_programs(w, "test", list(LANGS), n_tasks=8)
    smol = tiny_lm.model(tok, hidden=576, layers=30, heads=9, intermediate=1536)
    results["smollm2_135m_shape_h576_l30"] = _capture_vs_forward(smol, tok, [r.code for r in rows], 16, repeats=2)
    results["load_after"] = _load()
    _write("capture", results)
    print(json.dumps(results, indent=2))
    assert results["world_default_h256_l4"]["ratio"] < 3 and results["smollm2_135m_shape_h576_l30"]["ratio"] < 3


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_cka_layer_matrix_n2000_d576_l30():
    from probe.cka import cka_matrices, linear_cka
    rng = np.random.default_rng(0)
    n, d, L = 2000, 576, 30
    base = rng.standard_normal((n, d)).astype(np.float32)
    reps = [(base + (k / 10) * rng.standard_normal((n, d))).astype(np.float32) for k in range(L)]
    results = {"n": n, "d": d, "layers": L, "load_before": _load()}
    from threadpoolctl import threadpool_limits
    for name, limit in (("one_thread", 1), ("default_threads", None)):
        with threadpool_limits(limit):
            t0, c0 = time.perf_counter(), time.process_time()
            M = cka_matrices(reps)
            results[name] = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3)}
    t0 = time.perf_counter()
    for a, b in [(0, 1), (2, 3), (4, 5)]:
        assert linear_cka(reps[a], reps[b], debiased=True) == pytest.approx(M["debiased"][a, b], abs=1e-9)
    per_pair = (time.perf_counter() - t0) / 3
    results["pairwise_s_per_pair"] = round(per_pair, 3)
    results["pairwise_465_pairs_extrapolated_s"] = round(per_pair * L * (L - 1) / 2, 1)
    best = min(results["one_thread"]["wall_s"], results["default_threads"]["wall_s"])
    results.update(target_s=CKA_TARGET_S, best_wall_s=best, met=best <= CKA_TARGET_S, load_after=_load())
    _write("cka_layers", results)
    print(json.dumps(results, indent=2))
    assert np.allclose(np.diag(M["linear"]), 1.0) and M["linear"][0, -1] < M["linear"][0, 1]
