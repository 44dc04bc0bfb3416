"""The run folder: where every stage's outputs go, and how they are written so that a stage is either
done or absent (temporary path + rename), whatever kills the process.

Layout of `artifacts/runs/<name>/` (the contract that `probe` and `app` read; see README):
    config.json            the resolved recipe (and seed)
    events.jsonl           one JSON object per event (stage start/end, training logs, ...)
    stages/<stage>.json    a stage's completion marker: its config hash, time, outputs
    logs/<stage>.log       with `--jobs N` > 1: the output of the process that ran the stage
    data/                  manifests: world statistics, SFT mixtures (token counts, task ids)
    checkpoints/<ckpt>/    Hugging Face `save_pretrained` folders with the tokenizer
    evals/<ckpt>.jsonl     one row per task, language and sample
    scores.json            {ckpt: {lang: {"pass@1", "ci95", "n", ...}}}
    transfer.json          {arm: {lang: {"gain", "ci95", ...}}}
Not for: deciding what runs (see `pipeline.py`).
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

RUNS = Path("artifacts") / "runs"


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (a reader sees the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (e.g. the report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


@contextmanager
def atomic_dir(final: Path):
    """Yield a temporary folder beside `final`; on success it replaces `final` in one rename."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def clean_temporaries(root: Path) -> None:
    """Remove the half-written leftovers of a killed run (names `.<x>.<random>.tmp`)."""
    for p in root.rglob(".*.tmp"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


class EventLog:
    """Append-only JSONL log of the run (one line per event; a torn last line is ignored by readers).

    Several processes append to one log when stages run at once (`psft run --jobs N`): each line goes out
    in one `write` on a file opened with O_APPEND, under an exclusive `flock` of the file, so that lines
    from different processes (or threads) never interleave within a line."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()   # stages may log from several threads (evaluation generates in parallel)

    def __call__(self, event: str, **fields) -> None:
        rec = {"t": round(time.time(), 3), "event": event, **fields}
        line = (json.dumps(rec, default=str) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(line)
                while view:   # a regular file takes the whole line at once; the loop covers a short write
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)   # closing releases the lock
