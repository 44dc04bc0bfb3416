"""`psft app [RUN] [--port P]`: serve the explorer (Streamlit, headless) on a run folder and print its
address; without RUN it opens the newest run under artifacts/runs (the sidebar lists the others).
Stops with Ctrl-C."""
from __future__ import annotations

import os
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "explorer" / "main.py"


def add_parser(sub):
    p = sub.add_parser("app", help="serve the Streamlit explorer of a run", description=__doc__)
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: the newest run)")
    p.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    p.add_argument("--address", default="localhost", help="address to bind (default localhost; 0.0.0.0 for all)")
    return p


def streamlit_argv(port: int, address: str = "localhost") -> list[str]:
    """The command that serves the explorer (also used by the tests and the benchmark); the run goes in
    $PSFT_RUN (see `explorer_env`)."""
    return [sys.executable, "-m", "app.explorer.serve", "run", str(SCRIPT), "--server.headless", "true",
            "--server.port", str(port), "--server.address", address, "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false", "--client.toolbarMode",
            "minimal"]


def explorer_env(run: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PSFT_RUN"}
    if run is not None:
        env["PSFT_RUN"] = str(Path(run).resolve())
    return env


def run(args) -> int:
    from app.cli import CliError
    from app.rundata import NotARun, open_run
    if args.run is not None:
        try:
            open_run(args.run)
        except NotARun as e:
            raise CliError(str(e)) from e
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: not a port number")
    run_path = args.run.resolve() if args.run is not None else None
    print(f"explorer: http://{args.address}:{args.port}  (run: {run_path or 'newest under artifacts/runs'}; "
          "Ctrl-C stops it)", file=sys.stderr, flush=True)
    argv = streamlit_argv(args.port, args.address)
    os.execve(argv[0], argv, explorer_env(run_path))   # the server replaces this process: Ctrl-C and kill reach it
