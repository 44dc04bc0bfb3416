"""One real micro run (pipeline through probes and report, not quiet) per test session, shared by the
slow tests that need real run outputs: built by whichever test asks first, into the session's base
temporary folder, and reused by the others. Its printed output is kept for the tests that read it.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .conftest import REPO

PSFT = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


@dataclass
class MicroRun:
    root: Path
    stdout: str
    stderr: str


def shared_micro_run(tmp_path_factory) -> MicroRun:
    base = Path(tmp_path_factory.getbasetemp()) / "shared-micro"
    root = base / "micro"
    out, err = base / "stdout.txt", base / "stderr.txt"
    if not (root / "stages" / "report.json").exists():
        base.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([*PSFT, "run", "--recipe", "micro", "--out", str(root), "--force"], cwd=REPO,
                              capture_output=True, text=True, timeout=1800)
        out.write_text(done.stdout)
        err.write_text(done.stderr)
        assert done.returncode == 0, done.stderr[-3000:]
    return MicroRun(root, out.read_text(), err.read_text())
