"""The dry run's checks of a bench recipe (`psft run --recipe paper --data PATH --dry-run`): everything a GPU
run needs, without loading the model or writing anything (the stage list itself is the pipeline's graph).

Checked: the recipe's configs (already typed by the loader); the data (MBXP and Multi-HumanEval load, the
numbers that train and evaluate, candidates per language); the model (a known GGUF model is installed, a
local folder has a config, a hub id is well formed: it is downloaded at run time); the accelerate config
file (exists, parses, agrees with `[launch].num_processes`); memory per GPU against
`[launch].gpu_memory_gb`, with rough hours. Estimates assume H100-class GPUs (bf16 989 TFLOP/s peak at
35% utilisation for training, ~2,500 generated tokens/s per GPU with vLLM, ~400 with our own decoding loop); they are orders
of magnitude, not promises. Not for: running anything (`app/pipeline.py`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

TRAIN_FLOPS = 989e12 * 0.35      # effective bf16 FLOP/s per GPU while training
VLLM_TOKENS_S = 2500.0           # generated tokens/s per GPU with vLLM (8B, large batches)
LOOP_TOKENS_S = 400.0            # generated tokens/s per GPU with train.generation's loop (8B, batch 64)
PROMPT_TOKENS = 250              # a chat prompt with an MBXP docstring (measured with SmolLM2's tokenizer: ~150-200)


def llama_params(cfg: dict) -> int:
    """Parameters of a Llama-style decoder from its config.json values."""
    h, i, L, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads) * cfg.get("head_dim", h // heads)
    layer = h * h * 2 + 2 * h * kv + 3 * h * i + 2 * h
    return v * h * (1 if cfg.get("tie_word_embeddings") else 2) + L * layer + h


def plan_model(recipe, errors: list, warnings: list) -> dict:
    from train.pretrained import KNOWN, ModelSourceError, gguf_path
    name = recipe.model.name
    info: dict = {"name": name}
    config = None
    if name in KNOWN:
        try:
            info.update(source="gguf", file=str(gguf_path(name)))
        except ModelSourceError as e:
            errors.append(f"[model].name: {e}")
        from .bench import MODELS
        conv = MODELS / KNOWN[name].default_dir / "config.json"
        config = json.loads(conv.read_text()) if conv.is_file() else None
    elif Path(name).exists():
        info["source"] = "local folder"
        if (Path(name) / "config.json").is_file():
            config = json.loads((Path(name) / "config.json").read_text())
        else:
            errors.append(f"[model].name: {name} has no config.json (not a save_pretrained folder)")
    elif re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        info["source"] = "hub id: downloaded at run time (needs network access and, for gated models, a token)"
    else:
        errors.append(f"[model].name: {name!r} is neither a known model, an existing folder nor a hub id owner/name")
    if config and config.get("model_type") == "llama":
        info.update(params=llama_params(config), hidden_size=config["hidden_size"],
                    num_layers=config["num_hidden_layers"], shape_from="config.json")
    elif recipe.model.params:
        info.update(params=int(recipe.model.params), hidden_size=recipe.model.hidden_size,
                    num_layers=recipe.model.num_layers, shape_from="[model]")
    else:
        warnings.append("model size unknown (hub id offline and no [model].params): no memory or time estimate")
    return info


def _data(recipe, errors: list) -> dict:
    from evals.benchmarks import BenchmarkError, load_benchmark
    from train.bench_data import candidates, eval_tasks, humaneval_source, load_mbxp
    langs = list(recipe.sft.seen_langs)
    out: dict = {"mbxp": recipe.data.mbxp}
    try:
        problems = load_mbxp(recipe.data, sorted(set(langs) | {recipe.rl.lang} | set(recipe.eval.langs)))
    except (BenchmarkError, ValueError, OSError) as e:
        errors.append(f"[data].mbxp: {e}")
        return out
    d = recipe.data
    pool = candidates(problems, langs, d.sft_ids, d.sft_max_problems)
    rl = candidates(problems, [recipe.rl.lang], d.rl_ids, d.rl_max_problems)
    out.update(sft_ids=[list(r) for r in d.sft_ids], rl_ids=[list(r) for r in d.rl_ids],
               sft_candidates_in_all_langs=len(pool), rl_candidates=len(rl),
               note="references are run against their tests in the bench-data stage; only passing ones train")
    if not pool:
        errors.append(f"[data].sft_ids: no problem has references in all of {', '.join(langs)}")
    if not rl:
        errors.append(f"[data].rl_ids: no {recipe.rl.lang} problem with a reference")
    out["eval"] = {}
    for bench in recipe.eval.benchmarks:
        cfg = recipe.eval.for_benchmark(bench)
        source = recipe.data.mbxp if bench == "mbxp" else humaneval_source(recipe.data)
        try:
            n = len(eval_tasks(problems if bench == "mbxp" else load_benchmark(bench, source, langs=list(cfg.langs)),
                               cfg.langs, bench))
        except (BenchmarkError, ValueError, OSError) as e:
            errors.append(f"[eval] {bench} from {source}: {e}")
            continue
        used = n if cfg.n_tasks == 0 else min(n, cfg.n_tasks)
        out["eval"][bench] = {"source": source, "langs": list(cfg.langs), "problems": n, "evaluated": used}
        if n == 0:
            errors.append(f"[eval] {bench}: no problem present in all of {', '.join(cfg.langs)}")
    return out


def plan_launch(recipe, errors: list) -> dict:
    path = recipe.accelerate_config()
    if path is None:
        return {}
    info: dict = {"config_file": str(path)}
    if not path.is_file():
        errors.append(f"[launch].accelerate_config: {path} not found")
        return info
    import yaml
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        errors.append(f"[launch].accelerate_config: {path} is not valid YAML ({e})")
        return info
    info.update({k: cfg.get(k) for k in ("distributed_type", "mixed_precision", "num_processes", "num_machines")})
    if cfg.get("num_processes") not in (None, recipe.launch.num_processes):
        errors.append(f"[launch].num_processes: {recipe.launch.num_processes} but {path.name} says "
                      f"num_processes: {cfg.get('num_processes')}")
    if cfg.get("use_cpu"):
        errors.append(f"[launch].accelerate_config: {path.name} sets use_cpu")
    return info


def plan_estimates(recipe, model: dict, n_eval: int, errors: list) -> dict:
    """GPU memory per device and hours, from the parameter count P, width h and depth L:
    weights 2P bytes (bf16); full fine-tuning adds 16P/n (fp32 master weights, Adam, bf16 gradients,
    sharded over n GPUs by ZeRO-3); activations 34 h L bytes per token (Korthikanti et al. 2022, without
    recomputation); vLLM colocated takes its memory share; the KV cache is 2 L (h/4) 2 bytes per token
    (GQA with a quarter of the heads). Training costs 6P FLOPs per token (4P with LoRA: no weight
    gradients)."""
    params, h, layers = model.get("params"), model.get("hidden_size"), model.get("num_layers")
    if not (params and h and layers):
        return {}
    gb, n = 1e9, recipe.launch.num_processes
    sft, rl = recipe.sft, recipe.rl
    weights = 2 * params / gb
    act = 34 * h * layers / gb                             # per token
    full = 16 * params / gb / n
    rl_seq = PROMPT_TOKENS + rl.max_completion_length
    vllm = rl.vllm_gpu_memory_utilization * recipe.launch.gpu_memory_gb if rl.use_vllm and rl.vllm_mode == "colocate" else 0
    eval_tokens = recipe.eval.batch_size * (PROMPT_TOKENS + recipe.eval.max_new_tokens)
    mem = {"sft_per_gpu_gb": weights + (0 if sft.lora else full) + act * sft.batch_size * sft.max_length,
           "rl_per_gpu_gb": weights + (0 if rl.lora else full) + act * rl.per_device_train_batch_size * rl_seq + vllm,
           "eval_gpu_gb": weights + 2 * layers * (h / 4) * 2 * eval_tokens / gb}
    mem = {k: round(v, 1) for k, v in mem.items()}
    for k, v in mem.items():
        if v > recipe.launch.gpu_memory_gb:
            errors.append(f"estimated {k} = {v} exceeds [launch].gpu_memory_gb = {recipe.launch.gpu_memory_gb}")
    arms = len(sft.arms)
    budget = sft.budget_tokens if not sft.budget_auto else 25_000   # budget_auto: ~the pool's Python tokens
    sft_h = arms * budget * sft.epochs * (4 if sft.lora else 6) * params / (n * TRAIN_FLOPS) / 3600
    rl_batch = rl.per_device_train_batch_size * n * rl.steps_per_generation
    gen_tokens = rl.steps / rl.steps_per_generation * rl_batch * rl.max_completion_length
    gen_rate = (VLLM_TOKENS_S if rl.use_vllm else LOOP_TOKENS_S) * n
    step_flops = rl.steps * rl.per_device_train_batch_size * n * rl_seq * (4 if rl.lora else 6) * params
    rl_h = arms * (gen_tokens / gen_rate + step_flops / (n * TRAIN_FLOPS)) / 3600
    eval_h = (1 + 2 * arms) * n_eval * recipe.eval.max_new_tokens / LOOP_TOKENS_S / 3600
    return {**mem, "sft_compute_seconds": round(3600 * sft_h), "rl_minutes_upper_bound": round(60 * rl_h, 1),
            "eval_hours_one_gpu_upper_bound": round(eval_h, 2), "gpus": n, "per_seed": True,
            "assumptions": "H100-class GPUs, every completion at its length limit; see app/sources/bench_plan.py"}


def check_plan(recipe, errors: list, warnings: list) -> dict:
    """What the dry run of a bench recipe checks beyond the graph: {"model", "data", "launch",
    "estimates"}; problems are appended to `errors` / `warnings`. Nothing is loaded or written."""
    model = plan_model(recipe, errors, warnings)
    data = _data(recipe, errors)
    launch = plan_launch(recipe, errors)
    rl = recipe.rl
    if rl.use_vllm:
        import importlib.util
        if importlib.util.find_spec("vllm") is None:
            warnings.append("[rl].use_vllm: vllm is not installed here; install the [gpu] extra on the GPU machine "
                            "(`make setup TORCH=torch` then `pip install -e .[gpu]`)")
    if recipe.runtime.device == "cpu" and (recipe.launch.num_processes > 1 or rl.use_vllm):
        errors.append("[runtime].device: 'cpu' with a multi-GPU launch or vLLM")
    n_eval = sum(e["evaluated"] * len(e["langs"]) for e in data.get("eval", {}).values())
    return {"model": model, "data": data, "launch": launch, "estimates": plan_estimates(recipe, model, n_eval, errors)}
