"""`psft export RUN --to parquet|projector`: a run's probed activations as embedding-atlas / Phoenix Parquet
and TensorBoard Projector TSV, through the real command line, read back with pyarrow and pandas."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from safetensors.numpy import load_file

from .synthetic_run import LANGS, write_synthetic_run

PSFT = [sys.executable, "-m", "app.cli"]
ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = ["id", "row", "task_id", "lang", "passed", "n_tokens", "code", "x", "y", "neighbors", "vector"]


def psft(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*PSFT, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("export") / "run", n_tasks=6, n_layers=2, d=12,
                               ckpts=("base", "sft-mono", "rl-mono"), poolings=("mean",))


def _evals(run: Path, ckpt: str) -> dict:
    rows = [json.loads(x) for x in (run / "evals" / f"{ckpt}.jsonl").read_text().splitlines()]
    return {(r["task_id"], r["lang"]): float(r["passed"]) for r in rows}


def test_parquet_has_the_documented_columns_and_true_neighbours(run, tmp_path):
    out = tmp_path / "pq"
    r = psft("export", str(run), "--to", "parquet", "--out", str(out), "--k", "4")
    assert r.returncode == 0, r.stderr
    files = sorted(out.rglob("*.parquet"))
    assert len(files) == 3 * 3   # 3 checkpoints x 1 pooling x (embed + 2 blocks)
    path = out / "sft-mono" / "mean" / "1.parquet"
    table = pq.read_table(path)
    assert table.column_names == DOCUMENTED
    assert json.loads(table.schema.metadata[b"psft"])["norm"] == "centered"
    df = table.to_pandas()
    rows = [json.loads(x) for x in (run / "probes" / "sft-mono" / "rows.jsonl").read_text().splitlines()]
    assert len(df) == len(rows) == 6 * len(LANGS)
    assert df["task_id"].tolist() == [x["task_id"] for x in rows]
    assert df["lang"].tolist() == [x["lang"] for x in rows]
    ev = _evals(run, "sft-mono")
    assert df["passed"].tolist() == [ev[(x["task_id"], x["lang"])] for x in rows]

    # The vectors are the captured ones, centred per language (independent recomputation).
    X = load_file(str(run / "probes" / "sft-mono" / "acts.mean.safetensors"))["blocks.1.hook_resid_post"]
    langs = np.array([x["lang"] for x in rows])
    want = X.copy()
    for lang in LANGS:
        want[langs == lang] -= X[langs == lang].mean(axis=0)
    V = np.stack(df["vector"].to_numpy())
    np.testing.assert_allclose(V, want, atol=1e-4)

    # Neighbours: brute-force cosine, self excluded, closest first, distance = 1 - cosine.
    U = want / np.linalg.norm(want, axis=1, keepdims=True)
    S = U @ U.T
    np.fill_diagonal(S, -np.inf)
    for i, nb in enumerate(df["neighbors"]):
        assert i not in nb["ids"] and len(nb["ids"]) == 4
        np.testing.assert_allclose(sorted(S[i], reverse=True)[:4], 1 - np.asarray(nb["distances"]), atol=1e-5)
        assert list(nb["ids"]) == list(np.argsort(-S[i], kind="stable")[:4])
    assert np.isfinite(df[["x", "y"]].to_numpy()).all() and df["x"].std() > 0


def test_projector_files_and_config(run, tmp_path):
    out = tmp_path / "tb"
    r = psft("export", str(run), "--to", "projector", "--out", str(out), "--ckpt", "base", "--layer", "embed",
             "--norm", "raw")
    assert r.returncode == 0, r.stderr
    folder = out / "base" / "mean" / "embed"
    T = np.loadtxt(folder / "tensors.tsv", delimiter="\t")
    X = load_file(str(run / "probes" / "base" / "acts.mean.safetensors"))["hook_embed"]
    np.testing.assert_allclose(T, X, rtol=1e-5, atol=1e-5)
    meta = (folder / "metadata.tsv").read_text().splitlines()
    assert meta[0].split("\t") == ["task_id", "lang", "passed", "n_tokens", "row"]
    assert len(meta) == len(X) + 1 and all(len(line.split("\t")) == 5 for line in meta)
    cfg = (out / "projector_config.pbtxt").read_text()
    assert cfg.count("embeddings {") == 1
    assert 'tensor_path: "base/mean/embed/tensors.tsv"' in cfg
    assert 'metadata_path: "base/mean/embed/metadata.tsv"' in cfg


def test_control_set_is_exported_from_probes_control(run, tmp_path):
    r = psft("export", str(run), "--control", "--out", str(tmp_path / "none"))
    assert r.returncode == 2 and "no lexical control set" in r.stderr
    ctl = tmp_path / "ctl-run"
    shutil.copytree(run, ctl)
    (ctl / "probes" / "control").mkdir()
    shutil.copytree(ctl / "probes" / "rl-mono", ctl / "probes" / "control" / "rl-mono")
    out = tmp_path / "ctl"
    r = psft("export", str(ctl), "--control", "--out", str(out), "--layer", "0")
    assert r.returncode == 0, r.stderr
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*.parquet"))] == ["rl-mono/mean/0.parquet"]
    assert json.loads(pq.read_table(out / "rl-mono" / "mean" / "0.parquet").schema.metadata[b"psft"])["set"] == "control"


@pytest.mark.parametrize("args, message", [
    (["--ckpt", "sft-parallel"], "not probed"),
    (["--layer", "7"], "layer 7 not captured"),
    (["--pooling", "last"], "pooling last not captured"),
    (["--to", "csv"], "known formats"),
    (["--norm", "whitened"], "known normalisations"),
    (["--k", "0"], "must be >= 1"),
])
def test_bad_input_one_message_nothing_written(run, tmp_path, args, message):
    out = tmp_path / "out"
    r = psft("export", str(run), "--out", str(out), *args)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1
    assert not out.exists()


def test_an_existing_export_is_not_overwritten(run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = psft("export", str(run), "--out", str(out))
    assert r.returncode == 2 and "not empty" in r.stderr
    assert (out / "keep.txt").read_text() == "mine" and len(list(out.iterdir())) == 1
    r = psft("export", str(tmp_path / "nowhere"))
    assert r.returncode == 2 and "no such run folder" in r.stderr


def test_summary_copies_pool_as_the_runs_do(tmp_path):
    full, slim = tmp_path / "full", tmp_path / "slim"
    for s in (0, 1):
        write_synthetic_run(full / f"seed-{s}", n_tasks=12, n_layers=1, d=8, seed=s)
        (full / f"seed-{s}" / "interventions").mkdir()
        (full / f"seed-{s}" / "interventions" / "patch-parallel.json").write_text('{"kind": "patch"}')
        (full / f"seed-{s}" / "interventions" / "patch-parallel.rows.jsonl").write_text('{"completion": "x"}\n')
        r = psft("export", str(full / f"seed-{s}"), "--to", "summary", "--out", str(slim / f"seed-{s}"))
        assert r.returncode == 0, r.stderr
    kept = {p.relative_to(slim / "seed-0").as_posix() for p in (slim / "seed-0").rglob("*") if p.is_file()}
    assert {"config.json", "scores.json", "transfer.json", "probes/metrics.json", "summary.json",
            "evals/base.jsonl", "interventions/patch-parallel.json"} <= kept
    assert not any(k.endswith(".safetensors") or k.endswith("rows.jsonl") for k in kept)
    row = json.loads((slim / "seed-0" / "evals" / "base.jsonl").read_text().splitlines()[0])
    assert set(row) == {"task_id", "lang", "sample", "split", "status", "passed"}
    a, b = psft("study", str(full)), psft("study", str(slim))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout.replace(str(full), "DIR") == b.stdout.replace(str(slim), "DIR")
    assert json.loads((full / "study.json").read_text()) == json.loads((slim / "study.json").read_text())
    again = psft("export", str(full / "seed-0"), "--to", "summary", "--out", str(slim / "seed-0"))
    assert again.returncode == 2 and "not empty" in again.stderr
