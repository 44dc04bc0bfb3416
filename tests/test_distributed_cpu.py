"""Distributed training on a CPU: `accelerate launch --num_processes 2` (gloo, one torch thread per process)
of an SFT stage and a GRPO stage of the micro recipe's sizes (`tests/ddp_stages.py`, whose docstring says
which settings a CPU launch needs) writes each checkpoint from rank 0 only, and that checkpoint equals the
one a single process writes with the same global batch: every weight within 1e-5 of it, while training
moved weights by at least 10x that (measured: SFT 1.8e-8 against updates of 6e-4, GRPO 2.2e-6 against 1e-3).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from . import tiny_lm
from .conftest import REPO

SCRIPT = REPO / "tests" / "ddp_stages.py"
TOL = 1e-5


@pytest.fixture(scope="module")
def start(tmp_path_factory) -> Path:
    """The micro recipe's tokenizer and base model, and a copy overfit on the first RL tasks (GRPO needs
    samples that are sometimes right: groups with different rewards)."""
    import torch

    from evals.world import World, WorldConfig
    from train.model import ModelConfig, build_model
    from train.tokenizer import TokenizerConfig, build_tokenizer
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ddp")
    world = World(WorldConfig(seed=0, n_tasks=300))
    tok = build_tokenizer(world, TokenizerConfig(vocab_size=512))
    micro = ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=176, max_position_embeddings=384)
    model = build_model(micro, tok, seed=0)
    for name in ("base", "rl-init"):
        if name == "rl-init":
            tiny_lm.overfit(model, tok, [t.document("python") for t in world.split("rl")[:4]], steps=80, lr=6e-3)
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_process_launch_writes_from_rank_0_what_one_process_writes(start, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "TOKENIZERS_PARALLELISM": "false"}
    args = ["--base", str(start / "base"), "--rl-init", str(start / "rl-init")]
    accelerate = Path(sys.executable).parent / "accelerate"
    launch = [str(accelerate), "launch"] if accelerate.exists() else [sys.executable, "-m", "accelerate.commands.launch"]
    launch += ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    runs = {"one": subprocess.Popen([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path / "one")], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            "two": subprocess.Popen([*launch, str(SCRIPT), *args, "--out", str(tmp_path / "two")], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)}
    for name, proc in runs.items():
        output = proc.communicate(timeout=800)[0]
        assert proc.returncode == 0, f"{name}:\n{output[-4000:]}"

    launched = [json.loads((tmp_path / "two" / f"launch-rank{r}.json").read_text()) for r in (0, 1)]
    for r, state in enumerate(launched):
        assert state.pop("device").startswith("cpu")
        assert state == {"rank": r, "num_processes": 2, "distributed_type": "DistributedType.MULTI_CPU",
                         "backend": "gloo", "torch_threads": 1}
    for stage, init in (("sft", "base"), ("rl", "rl-init")):
        assert not (tmp_path / "two" / f"{stage}-rank1").exists(), "rank 1 wrote a checkpoint"
        one, two, before = (_weights(p) for p in (tmp_path / "one" / f"{stage}-rank0",
                                                  tmp_path / "two" / f"{stage}-rank0", start / init))
        assert one.keys() == two.keys()
        moved = max((one[k] - before[k]).abs().max().item() for k in one)
        apart = max((one[k] - two[k]).abs().max().item() for k in one)
        assert moved >= 10 * TOL, f"{stage}: training hardly moved the weights ({moved:.1e})"
        assert apart <= TOL, f"{stage}: two processes wrote weights {apart:.1e} away from one process's"
    history = {n: json.loads((tmp_path / n / "rl-rank0" / "grpo_history.json").read_text())["history"]
               for n in ("one", "two")}
    assert [h["reward"] for h in history["one"]] == [h["reward"] for h in history["two"]]   # the same completions
    assert any(h["frac_reward_zero_std"] < 1 for h in history["one"])
