"""`psft eval`: evaluate any Hugging Face causal LM (a folder, a hub id, or `smollm2`; with a LoRA
adapter if given) on a benchmark or on the synthetic world's held-out tasks, and write an evaluation-only
run folder that `psft report`, `psft app` and `psft probe` open.

    psft eval --model artifacts/models/smollm2-135m-instruct --bench mbxp --data ../shared/data/mbxp \\
              --langs python,javascript --n-tasks 50
    psft eval --model artifacts/runs/toy/checkpoints/sft-parallel --bench world --recipe toy
    psft eval --model BASE --adapter LORA_DIR --bench multi-humaneval --data DIR --samples 10 --temperature 0.8

Generation: the lab's batched loop over transformers (`--engine hf`, the default) or vLLM (`--engine vllm`:
only where vllm is installed and a GPU is present). Scoring: the sandboxed executor, every program sealed and
counted as passed only with its completion proof (as `psft score`). Benchmark tasks are the problems present
in every evaluated language (MBXP: test numbers 11-510), prompted through the model's chat template when its
tokenizer has one (`--prompt`). Scores: greedy pass@1 with its Wilson 95% interval; with `--samples K`,
pass@k (k = 1, 5, 10 up to K, and K) with bootstrap intervals over tasks. The folder (`--out`, default
artifacts/runs/eval-<name>-<bench>) must be new or empty: nothing is overwritten.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _list(s: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip()) if s else ()


def add_parser(sub):
    from train.model_eval import BENCHES, ENGINES, PROMPT_STYLES
    p = sub.add_parser("eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="evaluate any HF causal LM on a benchmark or the world: an evaluation-only run folder")
    p.add_argument("--model", required=True, help="model folder, hub id, or 'smollm2' (converted offline)")
    p.add_argument("--adapter", default=None, help="a peft LoRA adapter folder, merged into the model")
    p.add_argument("--bench", required=True, choices=BENCHES, help="benchmark format, or the synthetic world")
    p.add_argument("--data", default=None, help="the benchmark: file, folder or hub dataset id (not for world)")
    p.add_argument("--recipe", default=None, help="--bench world: the recipe whose world and [eval] to use")
    p.add_argument("--langs", default=None,
                   help="comma-separated languages (default: every language of the data the sandbox runs; "
                        "world: the recipe's)")
    p.add_argument("--n-tasks", type=int, default=None,
                   help="tasks per language, drawn with --seed (default: all; world: the recipe's)")
    p.add_argument("--samples", type=int, default=None, help="sampled completions per task for pass@k")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature (with --samples)")
    p.add_argument("--top-p", type=float, default=None, help="nucleus mass of the samples")
    p.add_argument("--no-greedy", action="store_true", help="with --samples: skip the greedy completion")
    p.add_argument("--max-new-tokens", type=int, default=None, help="generated tokens per completion, at most")
    p.add_argument("--batch-size", type=int, default=None, help="sequences decoded together")
    p.add_argument("--seed", type=int, default=None, help="seed of the task subset and of sampling (default 0)")
    p.add_argument("--threads", type=int, default=None, help="torch threads while generating (default 1)")
    p.add_argument("--prompt", default="auto", choices=PROMPT_STYLES,
                   help="benchmarks: the chat template (default when the tokenizer has one) or the plain code")
    p.add_argument("--engine", default="hf", choices=ENGINES, help="generation engine (default hf)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--workers", type=int, default=None, help="sandboxed workers (default: all cores)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-program time limit, seconds (default 10)")
    p.add_argument("--name", default=None, help="the checkpoint's name in the folder (default: the model's)")
    p.add_argument("--out", type=Path, default=None, help="output folder, new or empty")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines; print only the folder")
    from app.commands.check_bench import add_executor_argument
    add_executor_argument(p)
    return p


def request_from_args(args):
    from app.cli import CliError
    from app.evalrun import EvalRequest
    from train.config import resolve_device

    if args.bench == "world":
        if not args.recipe:
            raise CliError("--bench world needs --recipe (the world and [eval] to use, e.g. --recipe toy)")
        if args.data:
            raise CliError("--data names a benchmark; --bench world takes its tasks from --recipe")
        if args.prompt != "auto":
            raise CliError("--prompt applies to benchmarks; the world has its own prompts")
    else:
        if not args.data:
            raise CliError(f"--bench {args.bench} needs --data (a file, folder or hub dataset id)")
        if args.recipe:
            raise CliError("--recipe goes with --bench world")
        from train.model_eval import is_local
        if is_local(args.data) and not Path(args.data).expanduser().exists():
            raise CliError(f"--data {args.data}: no such file or folder")
    if args.samples is None and (args.temperature is not None or args.top_p is not None or args.no_greedy):
        raise CliError("--temperature, --top-p and --no-greedy go with --samples")
    for opt in ("n_tasks", "samples", "max_new_tokens", "batch_size", "threads", "workers"):
        value = getattr(args, opt)
        if value is not None and value < (0 if opt == "n_tasks" else 1):
            raise CliError(f"--{opt.replace('_', '-')} must be >= {0 if opt == 'n_tasks' else 1}, got {value}")
    if args.timeout <= 0:
        raise CliError(f"--timeout must be > 0, got {args.timeout}")
    overrides = {"n_tasks": args.n_tasks, "n_samples": args.samples, "temperature": args.temperature,
                 "top_p": args.top_p, "greedy": False if args.no_greedy else None,
                 "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "seed": args.seed,
                 "threads": args.threads,
                 "ks": None if args.samples is None else tuple(sorted({k for k in (1, 5, 10) if k <= args.samples}
                                                                      | {args.samples}))}
    return EvalRequest(model=args.model, bench=args.bench, data=args.data, adapter=args.adapter, recipe=args.recipe,
                       langs=_list(args.langs), name=args.name, out=args.out, engine=args.engine, prompt=args.prompt,
                       device=resolve_device(args.device), workers=args.workers, timeout_s=args.timeout,
                       executor=args.executor,
                       overrides=tuple((k, v) for k, v in overrides.items() if v is not None))


def run(args) -> int:
    from app.cli import CliError
    from app.evalrun import EvalInputError, print_summary, run_eval
    from app.runfs import read_json

    req = request_from_args(args)
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    from train.config import quiet_libraries
    try:
        with quiet_libraries(args.quiet):
            out = run_eval(req, progress=not args.quiet and sys.stderr.isatty(), log=log)
    except EvalInputError as e:
        raise CliError(str(e)) from None
    if not args.quiet:
        config = read_json(out / "config.json")
        print_summary(read_json(out / "evals" / f"{config['name']}.scores.json"), config["name"])
        print(f"report:  psft report {out} --markdown\nexplore: psft app {out}", file=sys.stderr)
    print(out)
    return 0
