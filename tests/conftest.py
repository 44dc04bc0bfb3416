"""Shared fixtures: the shared data folder (skipped when absent) and one executor per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (tests that read MBXP need ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def executor():
    from evals.execution import Executor
    with Executor(workers=2) as ex:
        yield ex
