"""A run's summary copy (`psft export RUN --to summary`): the run folder without what is large and
re-derivable — no checkpoints, activations, tokenizer, report or event log, and evaluation rows without
their prompt and completion text — so that a finished seed can be kept with a results page (a few MB)
and pooled later with seeds run elsewhere: `psft study`, `psft report --markdown` and the explorer's
tables read a summary copy as they read the run.

Kept: `config.json`, `scores.json`, `transfer.json`, `stages/*.json`, `data/*.json`,
`evals/<ckpt>.scores.json`, `evals/<ckpt>.jsonl` with the columns in `EVAL_COLUMNS`,
`probes/metrics.json` and `interventions/<name>.json` (not their rows); `summary.json` says what the copy is of and what it leaves out.
Not for: activations (see app/export.py), moving a run to resume it (checkpoints are left out).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .runfs import read_json, write_json

EVAL_COLUMNS = ("task_id", "lang", "sample", "split", "status", "passed")
LEFT_OUT = "checkpoints/, tokenizer/, probes/<ckpt>/ (rows and activations), interventions/*.rows.jsonl, " \
           "report*.html, events.jsonl, exports/, and the prompt and completion of every evaluation row"


def summary_copy(root: Path, out: Path) -> list[Path]:
    """Write the summary copy of the run at `root` into `out` (new or empty); the files written."""
    root, out = Path(root), Path(out)
    if not (root / "scores.json").is_file() or not (root / "transfer.json").is_file():
        raise ValueError(f"{root}: not a finished run (no scores.json and transfer.json yet)")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose another --out (nothing overwritten)")
    written: list[Path] = []

    def copy(rel: str) -> None:
        src = root / rel
        if src.is_file():
            dst = out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            written.append(dst)

    for rel in ("config.json", "scores.json", "transfer.json"):
        copy(rel)
    metrics = read_json(root / "probes" / "metrics.json")
    if metrics is not None:  # without indentation: a study's metrics are ~5 MB indented, ~2 MB compact
        dst = out / "probes" / "metrics.json"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(json.dumps(metrics, separators=(",", ":")))
        written.append(dst)
    for folder in ("stages", "data", "interventions"):   # interventions/<name>.json, not its rows
        for p in sorted((root / folder).glob("*.json")):
            copy(f"{folder}/{p.name}")
    for p in sorted((root / "evals").glob("*.scores.json")):
        copy(f"evals/{p.name}")
    for p in sorted((root / "evals").glob("*.jsonl")):
        dst = out / "evals" / p.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(p) as f, open(dst, "w") as g:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                g.write(json.dumps({k: row[k] for k in EVAL_COLUMNS if k in row}) + "\n")
        written.append(dst)
    write_json(out / "summary.json", {"summary_of": str(root), "left_out": LEFT_OUT,
                                      "eval_columns": list(EVAL_COLUMNS),
                                      "seed": (read_json(root / "config.json") or {}).get("seed")})
    written.append(out / "summary.json")
    return written
