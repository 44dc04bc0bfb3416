"""An SFT stage and a GRPO stage of the micro recipe's sizes (`train.sft.run_sft`, `train.grpo.run_grpo`), run
by one process or by several under `accelerate launch`, with the same global batch whatever the number of
processes (per-device batch = global batch / WORLD_SIZE). Each rank passes its own output folder
(`<out>/sft-rank<r>`, `<out>/rl-rank<r>`), so that what a rank other than 0 writes shows up.

    python tests/ddp_stages.py --base BASE --rl-init MODEL --out OUT                 # one process
    OMP_NUM_THREADS=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no --main_process_port PORT tests/ddp_stages.py --base BASE --rl-init MODEL --out OUT

What a CPU needs (accelerate 1.x, trl 1.x, torch 2.x; `tests/test_distributed_cpu.py` runs it):
- `accelerate launch --cpu --num_processes 2` starts ONE process (its simple launcher; multi-CPU is meant to
  come from mpirun). `--multi_gpu` starts torchrun's processes (RANK, LOCAL_RANK, WORLD_SIZE set) on a machine
  without GPUs too; the stages' `use_cpu=True` (SFT: `[runtime].device = "cpu"`; GRPO: `device = "cpu"`)
  then makes accelerate pick its MULTI_CPU mode, whose backend is gloo (mpi only when torch was built with it).
- One torch thread per process: the launcher sets each process's OMP_NUM_THREADS to
  `--num_cpu_threads_per_process` (default: the caller's OMP_NUM_THREADS, else 1; with `--cpu` and no
  OMP_NUM_THREADS it would take physical cores / processes), and the script calls `torch.set_num_threads(1)`:
  on shared cores more threads only slow small models down.
- The same global batch: per-device batch x processes. Samples are spread over the ranks in order (batch
  i of the per-device size goes to rank i mod WORLD_SIZE), so the ranks together see the one process's batch;
  trl's GRPO sampler draws its prompt order from the global generation batch, so the prompts are the same too.
- GRPO samples completions with one generator per process, so two processes draw other completions than
  one. `--per-group-sampling` (the default here) decodes each group of `num_generations` completions with
  its own generator, seeded from its prompt's token ids and the generation round: the completions then do not
  depend on how rows are split across processes, and what is compared is the training itself (the gathered
  rewards, the advantages, the all-reduced gradients, the optimizer) on the same data.
Under such a launch only the main process writes a checkpoint; the others return without writing. Every
rank records what it ran under (process count, distributed type, backend, threads) in `<out>/launch-rank<r>.json`.
"""
from __future__ import annotations

import argparse
import json
import os
import zlib
from pathlib import Path


def per_group_sampling() -> None:
    """Make `train.generation.decode_loop` decode each prompt's group with its own generator (seeded from the
    prompt and the call number), independent of the other rows of the batch (see the module docstring)."""
    import torch

    from train import generation
    orig = generation.decode_loop
    calls = [0]

    def decode(model, prompt_ids, rules, params, pieces, eos, pad, gen, stats):
        calls[0] += 1
        n, out = params.n, []
        for k, prompt in enumerate(prompt_ids):
            seed = zlib.crc32(json.dumps([calls[0], list(prompt)]).encode())
            g = torch.Generator(device=gen.device).manual_seed(seed)
            out += orig(model, [prompt], rules[k * n:(k + 1) * n], params, pieces, eos, pad, g, stats)
        return out
    generation.decode_loop = decode


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, required=True, help="model + tokenizer folder SFT starts from")
    p.add_argument("--rl-init", type=Path, required=True, help="model + tokenizer folder GRPO starts from")
    p.add_argument("--out", type=Path, required=True, help="output folder (rank r writes <out>/<stage>-rank<r>)")
    p.add_argument("--world-tasks", type=int, default=300, help="tasks of the synthetic world (micro: 300)")
    p.add_argument("--rl-tasks", type=int, default=4, help="RL tasks (from the world's rl split)")
    p.add_argument("--per-group-sampling", action=argparse.BooleanOptionalAction, default=True,
                   help="decode each GRPO group with its own seeded generator (the loop engine only)")
    p.add_argument("--generation-engine", default="loop", choices=("loop", "hf"),
                   help="GRPO's generation: the lab's decode loop (default) or model.generate (the micro recipe's)")
    args = p.parse_args(argv)

    import torch
    torch.set_num_threads(1)
    from transformers import AutoTokenizer

    from evals.execution import Executor
    from evals.world import World, WorldConfig
    from train.config import RuntimeConfig
    from train.grpo import GRPOStageConfig, run_grpo
    from train.mixtures import build_arms
    from train.sft import SFTStageConfig, run_sft

    rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    world = World(WorldConfig(seed=0, n_tasks=args.world_tasks))
    tok = AutoTokenizer.from_pretrained(args.base)
    runtime = RuntimeConfig(threads=1, seed=0, bf16_autocast=False, device="cpu")

    # [sft] of the micro recipe: 1600 tokens, 4 steps of 8 examples
    sft = SFTStageConfig(budget_tokens=1600, max_steps=4, batch_size=8 // world_size, lr=3e-4, max_length=384,
                         logging_steps=1, arms=("parallel",))
    data = build_arms(world, tok, sft, seed=0)[0]["parallel"]
    run_sft(str(args.base), tok, data, sft, out_dir=args.out / f"sft-rank{rank}", progress=False, runtime=runtime)

    # [rl] of the micro recipe: 2 steps of 8 completions, groups of 4, 64 tokens, float32
    if args.per_group_sampling and args.generation_engine == "loop":
        per_group_sampling()
    rl = GRPOStageConfig(steps=2, num_generations=4, per_device_train_batch_size=8 // world_size,
                         max_completion_length=64, temperature=1.0, lr=5e-4, threads=1, bf16=False,
                         generation_engine=args.generation_engine, n_tasks=args.rl_tasks)
    tasks = world.split("rl")
    with Executor(workers=1) as ex:
        run_grpo(str(args.rl_init), tok, tasks, "python", rl, ex, args.out / f"rl-rank{rank}", progress=False)

    from accelerate import PartialState
    state = PartialState()   # what the trainers ran under: this rank's view of the launch
    (args.out / f"launch-rank{rank}.json").write_text(json.dumps({
        "rank": rank, "num_processes": state.num_processes, "distributed_type": str(state.distributed_type),
        "backend": state.backend, "device": str(state.device), "torch_threads": torch.get_num_threads()}))


if __name__ == "__main__":
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run as a script: the repository's packages
    main()
