"""The served explorer and a real headless browser, for the browser test and the explorer benchmark:
`psft app`'s own Streamlit command on a free port, and Debian's chromium driven by Python playwright
(never a downloaded browser; headless, no sandbox, no GPU). Not a fixture file: tests call these helpers.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PSFT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
MAP = '[data-testid="stPlotlyChart"] .js-plotly-plot'
EXCEPTION = '[data-testid="stException"]'


def need_chromium() -> None:
    """Skip where chromium cannot be installed (not root); as root (CI) a missing chromium is a failure:
    `make setup` installs it."""
    if not os.access(CHROMIUM, os.X_OK):
        msg = f"no chromium at {CHROMIUM}: `make setup` installs Debian's chromium (needs root or sudo)"
        if os.geteuid() == 0:
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("python playwright is not installed (the [dev] extra)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_explorer(run: Path, timeout: float = 60.0):
    """Serve the explorer on `run` with `psft app`'s command; yield (url, seconds until healthy)."""
    from app.commands.app import explorer_env, streamlit_argv
    port = free_port()
    log = open(run.parent / f".streamlit-{port}.log", "w") if run.parent.is_dir() else subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen(streamlit_argv(port), stdout=log, stderr=subprocess.STDOUT,
                            env={**explorer_env(run), "PYTHONUNBUFFERED": "1"})
    try:
        url = f"http://localhost:{port}"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the explorer exited with code {proc.returncode} before serving")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"the explorer did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.1)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


@contextmanager
def chromium():
    """A headless chromium (Debian's); playwright gives every launch a fresh temporary profile
    (its own --user-data-dir). Yields the playwright Browser."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
