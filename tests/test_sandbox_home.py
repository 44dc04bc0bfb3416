"""A checkout in a folder that the sandbox hides behind a private tmpfs (the home folder, /tmp) still
runs programs: the sandbox binds the files its workers need back in, read-only."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from evals.execution import Executor, Program, Status
from evals.execution.sandbox import bwrap_path

from .conftest import REPO

needs_bwrap = pytest.mark.skipif(not bwrap_path(), reason="bubblewrap not installed")

RUN_THREE = """
import evals
from evals.execution import Executor, Program, Status
assert evals.__file__.startswith({root!r}), evals.__file__
with Executor(workers=1, sandbox_level="bwrap") as ex:
    rs = ex.map([Program("python", "print(1)"), Program("perl", 'print "1\\\\n";'),
                 Program("php", '<?php echo "1\\\\n";')])
print([(r.status.value, r.stdout, r.detail[:200]) for r in rs])
assert [(r.status, r.stdout) for r in rs] == [(Status.PASSED, "1\\n")] * 3
"""


@needs_bwrap
def test_programs_run_when_the_checkout_is_under_home(monkeypatch):
    monkeypatch.setenv("HOME", str(REPO.parent))   # as if the repo had been cloned into ~
    with Executor(workers=1, sandbox_level="bwrap") as ex:
        results = ex.map([Program("python", "print(1)"), Program("perl", 'print "1\\n";'),
                          Program("php", '<?php echo "1\\n";')])
    assert [(r.status, r.stdout) for r in results] == [(Status.PASSED, "1\n")] * 3, [r.detail for r in results]


@needs_bwrap
def test_programs_run_when_the_checkout_is_under_tmp():
    """As a throwaway `git clone . $(mktemp -d)/p` would be: the package itself lives under /tmp."""
    root = tempfile.mkdtemp(prefix="psft-clone-", dir="/tmp")
    try:
        shutil.copytree(REPO / "evals", Path(root) / "evals", ignore=shutil.ignore_patterns("__pycache__"))
        done = subprocess.run([sys.executable, "-c", RUN_THREE.format(root=root)], cwd=root,
                              env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": root, "HOME": root},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    finally:
        shutil.rmtree(root, ignore_errors=True)
