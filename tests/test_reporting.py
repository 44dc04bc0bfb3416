"""Training logs through `report_to`, chosen by the stage config's field: SFT with
`report_to = "tensorboard,trackio"` writes TensorBoard event files (with the training loss) into the
checkpoint's logs/ and its steps into trackio's local database; GRPO with `"tensorboard"` writes its rewards
into the checkpoint's logs/; an unknown tracker is refused by the config, naming the field."""
from __future__ import annotations

import os
import sys

import pytest

from . import tiny_lm


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


@pytest.mark.slow   # ~3 s once trl is imported; ~19 s when this test imports it
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
    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    out = run_grpo(tmp_path / "init", tok, tiny_lm.world().split("rl")[:4], "python", cfg, executor,
                   tmp_path / "rl", progress=False)
    scalars = _scalars(out / "logs")
    assert len(scalars["train/reward"]) == 2
    assert os.environ.get("TENSORBOARD_LOGGING_DIR") == before        # set for the stage only


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
cfg = SFTStageConfig(max_steps=2, batch_size=4, lr=1e-3, logging_steps=1, report_to="tensorboard,trackio")
run_sft(tiny_lm.model(tok), tok, data, cfg, sys.argv[1], progress=False,
        runtime=RuntimeConfig(threads=1, bf16_autocast=False))
"""


@pytest.mark.slow
def test_sft_logs_to_tensorboard_and_trackio(tmp_path):
    """In a fresh process: trackio fixes its database folder ($TRACKIO_DIR) when it is first imported."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("trackio")
    import subprocess

    from .conftest import REPO
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", TRACKIO_SCRIPT, str(tmp_path / "sft")], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "sft" / "config.json").exists()
    assert len(_scalars(tmp_path / "sft" / "logs")["train/loss"]) == 2
    import json
    import sqlite3
    db = tmp_path / "trackio" / "psft.db"      # the project `psft`, one row per logged step
    assert db.is_file(), sorted(p.name for p in (tmp_path / "trackio").iterdir())
    with sqlite3.connect(db) as con:
        logged = [json.loads(m) for (m,) in con.execute("select metrics from metrics")]
    assert len([m for m in logged if "train/loss" in m]) == 2
