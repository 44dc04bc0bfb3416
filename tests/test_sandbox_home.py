"""A checkout under the home folder (which the sandbox hides behind a tmpfs) still runs programs."""
from __future__ import annotations

import pytest

from evals.execution import Executor, Program, Status
from evals.execution.sandbox import bwrap_path

from .conftest import REPO


@pytest.mark.skipif(not bwrap_path(), reason="bubblewrap not installed")
def test_programs_run_when_the_checkout_is_under_home(monkeypatch):
    monkeypatch.setenv("HOME", str(REPO.parent))   # as if the repo had been cloned into ~
    with Executor(workers=1, sandbox_level="bwrap") as ex:
        results = ex.map([Program("python", "print(1)"), Program("perl", 'print "1\\n";'),
                          Program("php", '<?php echo "1\\n";')])
    assert [(r.status, r.stdout) for r in results] == [(Status.PASSED, "1\n")] * 3, [r.detail for r in results]
