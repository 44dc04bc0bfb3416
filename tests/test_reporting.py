"""Training logs through `report_to`, chosen by the stage config's field: SFT and GRPO with
`report_to = "tensorboard"` write TensorBoard event files (with the training loss) into the checkpoint's
logs/; `"trackio"` writes a run into trackio's local database; an unknown tracker is refused by the config,
naming the field."""
from __future__ import annotations

import os
import sys

import pytest

from . import tiny_lm


@pytest.fixture(scope="module")
def sft_data():
    from datasets import Dataset
    tasks = tiny_lm.world().split("train")[:8]
    return Dataset.from_list([{"prompt": t.prompt("python"), "completion": t.solution("python")} for t in tasks])


def _scalars(logs) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    files = sorted(logs.rglob("events.out.tfevents.*"))
    assert files, f"no event file under {logs}"
    acc = EventAccumulator(str(files[0].parent))
    acc.Reload()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_unknown_tracker_is_refused_by_the_config():
    from train.config import ConfigError
    from train.grpo import GRPOStageConfig
    from train.sft import SFTStageConfig
    for cls in (SFTStageConfig, GRPOStageConfig):
        with pytest.raises(ConfigError, match="report_to"):
            cls(report_to="wandb")
        assert cls(report_to="tensorboard,trackio").report_to == "tensorboard,trackio"


@pytest.mark.slow   # ~30 s when it is the first to import trl on shared cores
def test_sft_with_tensorboard_writes_event_files_into_the_checkpoint(sft_data, tmp_path):
    pytest.importorskip("tensorboard")
    import torch

    from train.config import RuntimeConfig
    from train.sft import SFTStageConfig, run_sft
    torch.set_num_threads(1)
    tok = tiny_lm.tokenizer()
    cfg = SFTStageConfig(max_steps=3, batch_size=4, lr=1e-3, logging_steps=1, report_to="tensorboard")
    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    out = run_sft(tiny_lm.model(tok), tok, sft_data, cfg, tmp_path / "sft", progress=False,
                  runtime=RuntimeConfig(threads=1, bf16_autocast=False))
    scalars = _scalars(out / "logs")
    assert len(scalars["train/loss"]) == 3 and all(v > 0 for v in scalars["train/loss"])
    assert os.environ.get("TENSORBOARD_LOGGING_DIR") == before        # set for the stage only
    assert not (out / "runs").exists()


@pytest.mark.slow
def test_grpo_with_tensorboard_writes_event_files_into_the_checkpoint(tmp_path, executor):
    pytest.importorskip("tensorboard")
    import torch

    from train.grpo import GRPOStageConfig, run_grpo
    torch.set_num_threads(1)
    tok = tiny_lm.tokenizer()
    tiny_lm.model(tok).save_pretrained(tmp_path / "init")
    tok.save_pretrained(tmp_path / "init")
    cfg = GRPOStageConfig(steps=2, num_generations=4, per_device_train_batch_size=8, max_completion_length=32,
                          threads=1, generation_engine="loop", report_to="tensorboard")
    out = run_grpo(tmp_path / "init", tok, tiny_lm.world().split("rl")[:4], "python", cfg, executor,
                   tmp_path / "rl", progress=False)
    scalars = _scalars(out / "logs")
    assert len(scalars["train/reward"]) == 2


TRACKIO_SCRIPT = """
import sys, torch
from datasets import Dataset
from tests import tiny_lm
from train.config import RuntimeConfig
from train.sft import SFTStageConfig, run_sft
torch.set_num_threads(1)
tok = tiny_lm.tokenizer()
tasks = tiny_lm.world().split("train")[:8]
data = Dataset.from_list([{"prompt": t.prompt("python"), "completion": t.solution("python")} for t in tasks])
cfg = SFTStageConfig(max_steps=2, batch_size=4, lr=1e-3, logging_steps=1, report_to="trackio")
run_sft(tiny_lm.model(tok), tok, data, cfg, sys.argv[1], progress=False,
        runtime=RuntimeConfig(threads=1, bf16_autocast=False))
"""


@pytest.mark.slow
def test_sft_with_trackio_logs_a_run_locally(tmp_path):
    """In a fresh process: trackio fixes its database folder ($TRACKIO_DIR) when it is first imported."""
    pytest.importorskip("trackio")
    import subprocess

    from .conftest import REPO
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", TRACKIO_SCRIPT, str(tmp_path / "sft")], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "sft" / "config.json").exists()
    import json
    import sqlite3
    db = tmp_path / "trackio" / "psft.db"      # the project `psft`, one row per logged step
    assert db.is_file(), sorted(p.name for p in (tmp_path / "trackio").iterdir())
    with sqlite3.connect(db) as con:
        logged = [json.loads(m) for (m,) in con.execute("select metrics from metrics")]
    assert len([m for m in logged if "train/loss" in m]) == 2
