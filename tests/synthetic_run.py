"""A synthetic run folder with the layout of a real one (scores, transfer, evaluations, probes), written
in a second for the report and explorer tests and sized up for the explorer benchmark.

Activations are made with structure a reader can see: a program's vector is a mix of its task's vector
and its language's offset, and later checkpoints and layers weigh the task more (alignment grows), so
retrieval of the true translation improves along the layers. Not for: anything a real run measures.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

LANGS = ("python", "javascript", "ruby", "php", "lua", "perl")
CKPTS = ("base", "sft-mono", "sft-multi", "sft-parallel", "rl-mono", "rl-multi", "rl-parallel", "oracle-lua")
ARMS = ("mono", "multi", "parallel")
# How much each checkpoint's representation is organised by task rather than by language.
ALIGN = {"base": 0.2, "sft-mono": 0.3, "sft-multi": 0.4, "sft-parallel": 0.7, "rl-mono": 0.35, "rl-multi": 0.45,
         "rl-parallel": 0.75, "oracle-lua": 0.7}
POOLINGS = ("mean", "last")
NORMS = ("raw", "centered", "standardized")


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _ci(p: float, n: int) -> list[float]:
    half = 1.96 * (p * (1 - p) / max(n, 1)) ** 0.5
    return [max(0.0, p - half), min(1.0, p + half)]


def write_synthetic_run(root: Path, n_tasks: int = 12, n_layers: int = 3, d: int = 32, seed: int = 0,
                        probes: bool = True, ckpts=CKPTS, langs=LANGS, poolings=POOLINGS) -> Path:
    """Write a run folder with `n_tasks` tasks in every language (n_tasks * len(langs) programs per
    checkpoint); `probes=False` leaves out `probes/` (a run whose probe stage has not run)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    tasks = [f"t{i:05d}" for i in range(n_tasks)]
    _write(root / "config.json", {"name": f"synthetic-{seed}", "seed": seed, "world": {"n_tasks": n_tasks},
                                  "model": {"num_layers": n_layers, "hidden_size": d},
                                  "sft": {"arms": list(ARMS)}, "rl": {"lang": "python"}})
    (root / "events.jsonl").write_text(json.dumps({"event": "run_end", "seconds": 1.0}) + "\n")

    # Evaluations: one greedy row per task and language; pass rates grow with alignment.
    scores, passed = {}, {}
    for c in ckpts:
        rate = ALIGN[c] * 0.8
        rows, per_lang = [], {}
        for lang in langs:
            p = rate * (1.0 if lang == "python" else 0.6)
            ok = rng.random(n_tasks) < p
            passed[(c, lang)] = ok
            for t, v in zip(tasks, ok):
                rows.append({"task_id": t, "lang": lang, "sample": -1, "split": "test",
                             "prompt": f"# language: {lang}\n# Return the list of task {t}.\ndef {t}(xs):",
                             "completion": f"return {t!r}  # {c}",
                             "status": "passed" if v else "failed", "passed": bool(v)})
            pr = float(ok.mean())
            per_lang[lang] = {"pass@1": pr, "ci95": _ci(pr, n_tasks), "n": n_tasks}
        scores[c] = per_lang
        (root / "evals").mkdir(parents=True, exist_ok=True)
        (root / "evals" / f"{c}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _write(root / "scores.json", scores)
    # The transfer table as the pipeline computes it, from these rows.
    from train.transfer import transfer_table
    rows_by = {c: [json.loads(x) for x in (root / "evals" / f"{c}.jsonl").read_text().splitlines()] for c in ckpts}
    pairs = {arm: (f"sft-{arm}", f"rl-{arm}") for arm in ARMS if f"sft-{arm}" in scores and f"rl-{arm}" in scores}
    if "oracle-lua" in scores and "sft-parallel" in scores:
        pairs["oracle-lua"] = ("sft-parallel", "oracle-lua")
    transfer = transfer_table(scores, rows_by, pairs, n_boot=200, seen_langs=("python", "javascript", "ruby", "php"),
                              rl_langs={"oracle-lua": "lua"}) if pairs else {}
    _write(root / "transfer.json", transfer)
    if probes:
        _write_probes(root, rng, tasks, n_layers, d, ckpts, langs, seed, poolings)
    return root


def _write_probes(root: Path, rng, tasks, n_layers: int, d: int, ckpts, langs, seed: int, poolings) -> None:
    from safetensors.numpy import save_file
    n = len(tasks) * len(langs)
    task_vec = rng.standard_normal((len(tasks), d)).astype(np.float32)
    lang_vec = 3 * rng.standard_normal((len(langs), d)).astype(np.float32)
    rows = [{"row": i, "task_id": t, "lang": lang, "n_tokens": 20 + (i % 7),
             "code": f"def {t}(xs):\n    return xs  # {lang}\n"}
            for i, (t, lang) in enumerate((t, lang) for t in tasks for lang in langs)]
    ti = np.repeat(np.arange(len(tasks)), len(langs))
    li = np.tile(np.arange(len(langs)), len(tasks))
    layers = ["hook_embed"] + [f"blocks.{L}.hook_resid_post" for L in range(n_layers)]
    for c in ckpts:
        folder = root / "probes" / c
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for pooling in poolings:
            tensors = {}
            for k, name in enumerate(layers):
                a = min(0.95, ALIGN[c] * (0.5 + k / (n_layers + 1)))
                x = a * task_vec[ti] + (1 - a) * lang_vec[li] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
                tensors[name] = np.ascontiguousarray(x, dtype=np.float32)
            save_file(tensors, str(folder / f"acts.{pooling}.safetensors"))

    def value(v, spread=0.05):
        return {"value": float(v), "ci95": [float(v) - spread, float(v) + spread]}

    pairs = [f"python->{b}" for b in langs if b != "python"]
    checkpoints = {}
    for c in ckpts:
        checkpoints[c] = {}
        for pooling in poolings:
            checkpoints[c][pooling] = {}
            for norm in NORMS:
                per_layer = {}
                for k, L in enumerate(layers):
                    a = min(0.95, ALIGN[c] * (0.5 + k / (n_layers + 1)))
                    cka = (np.eye(len(langs)) * (1 - a) + a).round(3).tolist()
                    per_layer[L] = {
                        "retrieval": {p: {"top1": value(a), "top5": value(min(1, a + 0.2)), "mrr": value(a + 0.05)}
                                      for p in pairs},
                        "retrieval_mean": {"top1": a, "top5": min(1.0, a + 0.2), "mrr": a + 0.05},
                        "parallel_cosine": value(a / 2), "silhouette_task": a - 0.5, "silhouette_lang": 0.5 - a,
                        "nmi_task": a, "nmi_lang": 1 - a, "probe_task_acc": a, "probe_lang_acc": 1 - a / 2,
                        "cka_lang": {"langs": list(langs), "linear": cka, "debiased": cka},
                    }
                checkpoints[c][pooling][norm] = per_layer
    n_l = len(layers)
    layer_cka = [[1.0 - abs(i - j) / (n_l + 1) for j in range(n_l)] for i in range(n_l)]
    ckpt_cka = [[1.0 - abs(ALIGN[a] - ALIGN[b]) for b in ckpts] for a in ckpts]
    metrics = {
        "meta": {"langs": list(langs), "layers": layers, "poolings": list(poolings), "norms": list(NORMS),
                 "n_tasks": len(tasks), "source": "synthetic", "text": "code", "seed": seed},
        "checkpoints": checkpoints,
        "cka_layers": {c: {"layers": layers, "linear": layer_cka, "debiased": layer_cka} for c in ckpts},
        "cka_ckpts": {L: {"ckpts": list(ckpts), "linear": ckpt_cka, "debiased": ckpt_cka} for L in layers},
        "tests": [{"name": "parallel SFT aligns more than mono", "metric": "retrieval_mean.top1", "layer": layers[-1],
                   "a": "sft-parallel", "b": "sft-mono", "effect": 0.4, "ci95": [0.3, 0.5], "p_value": 0.001,
                   "n": len(tasks), "p_adjusted": 0.004, "verdict": "supported"},
                  {"name": "RL changes alignment", "metric": "parallel_cosine", "layer": layers[-1], "a": "rl-mono",
                   "b": "sft-mono", "effect": None, "ci95": None, "p_value": None, "n": len(tasks),
                   "verdict": None}],
        "alignment_transfer": {"per_language": {}, "per_task": {}},
    }
    _write(root / "probes" / "metrics.json", metrics)
