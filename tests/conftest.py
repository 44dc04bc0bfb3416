"""Shared fixtures: the shared data folder (skipped when absent) and one executor per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PSFT_SHARED_DATA") or REPO.parent / "shared" / "data")  # a clone elsewhere sets it
NO_SHARED_DATA = f"shared data not found at {SHARED_DATA} (tests that read MBXP need ../shared/data, or set PSFT_SHARED_DATA)"
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED_DATA)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(NO_SHARED_DATA)
    return SHARED_DATA


@pytest.fixture(scope="session")
def executor():
    from evals.execution import Executor
    with Executor(workers=2) as ex:
        yield ex
