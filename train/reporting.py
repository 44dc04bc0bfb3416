"""Training logs for the field's trackers, through transformers' `report_to` (the SFT and GRPO stages'
`report_to` field): `none` (the default: the run's own event log only), `tensorboard`, `trackio`, or both
comma-separated (`"tensorboard,trackio"`).

- TensorBoard: event files go to `<stage output>/logs/` (a checkpoint folder's `logs/`, so they travel with
  the checkpoint); `tensorboard --logdir artifacts/runs/<run>/checkpoints` shows every stage of a run.
  transformers 5 reads that folder from the `TENSORBOARD_LOGGING_DIR` environment variable (else
  `<output_dir>/runs/<date>`), so `logging_dir` sets it for the duration of the stage.
- Trackio (a local-first tracker, `pip install trackio`): metrics go to its local database (`$TRACKIO_DIR`,
  default `~/.cache/huggingface/trackio`) under the project `psft`, one run per stage; `trackio show`
  opens the dashboard. Nothing is sent anywhere unless a Space is configured in trackio itself.
Each tracker's package must be installed (`pip install tensorboard` / `trackio`): a stage that names one
that is not fails before training with one message. Not for: the run's own event log (`app/runfs.py`).
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPORTERS = ("none", "tensorboard", "trackio")
PACKAGES = {"tensorboard": "tensorboard", "trackio": "trackio"}
PROJECT = "psft"


def reporters(report_to: str) -> list[str]:
    """`report_to` as transformers' list ('none' -> []); a `ValueError` names an unknown tracker."""
    names = [x.strip() for x in report_to.split(",") if x.strip()]
    unknown = [x for x in names if x not in REPORTERS]
    if unknown or not names:
        raise ValueError(f"unknown tracker(s) {', '.join(unknown) or repr(report_to)}; choose from {', '.join(REPORTERS)}")
    return [x for x in names if x != "none"]


def known(report_to: str) -> bool:
    """Whether every tracker `report_to` names is one of `REPORTERS`."""
    try:
        reporters(report_to)
    except ValueError:
        return False
    return True


def missing(report_to: str) -> list[str]:
    """The trackers of `report_to` whose package is not installed."""
    return [x for x in reporters(report_to) if importlib.util.find_spec(PACKAGES[x]) is None]


@contextmanager
def logging_dir(report_to: str, out_dir: str | Path) -> Iterator[list[str]]:
    """For the block: TensorBoard's folder set to `<out_dir>/logs` when it is asked for; yields the list to
    pass as `report_to`. Raises `RuntimeError` naming a tracker that is not installed."""
    names = reporters(report_to)
    absent = missing(report_to)
    if absent:
        raise RuntimeError(f"report_to = {report_to!r}: {', '.join(absent)} not installed "
                           f"(pip install {' '.join(PACKAGES[x] for x in absent)})")
    key, old = "TENSORBOARD_LOGGING_DIR", os.environ.get("TENSORBOARD_LOGGING_DIR")
    if "tensorboard" in names:
        os.environ[key] = str(Path(out_dir) / "logs")
    try:
        yield names or ["none"]
    finally:
        if "tensorboard" in names:
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
