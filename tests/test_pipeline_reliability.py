"""`psft run` survives failures and refuses bad input.

- kill -9 during SFT, during RL and during probing, each time followed by `--resume`, ends with the same
  scores.json, transfer.json and probes/metrics.json as a run never interrupted (micro recipe; the
  interrupted run starts from a copy of the uninterrupted run's finished pretraining, to stay lean);
- `--quiet` prints no progress bar, stage line or warning; without it, both are shown;
- bad input (unknown recipe key, wrong type, missing path, a language without a runtime, a checkpoint
  folder that is not a model) gets one message naming the problem, exit code 2, no traceback, and
  leaves an existing run folder byte for byte as it was (even with --force).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO
from .micro_run import MicroRun, shared_micro_run

# `psft` as its console script runs it (`python -m app.cli` would make CliError a different class).
PSFT = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
# What a run writes before SFT: copied from the uninterrupted run to skip pretraining in the killed one.
BEFORE_SFT_STAGES = ("world", "tokenizer", "pretrain", "sft-data")
BEFORE_SFT_PATHS = ("config.json", "data", "tokenizer", "checkpoints/base")
RESULTS = ("scores.json", "transfer.json", "probes/metrics.json")


def psft(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*PSFT, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout, **kw)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root with the sha256 of its bytes."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def new_events(path: Path, offset: int) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        f.seek(offset)
        text = f.read()
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def kill_during(run: Path, stage: str, moment, timeout: float = 900) -> str:
    """Start `psft run --resume --quiet`, wait until `stage` has started and an event of it satisfies
    `moment` (so the stage is mid-way, some of its work done, none of it final), kill -9 the process
    there; return what it printed. Fails if the stage ends first."""
    events = run / "events.jsonl"
    offset = events.stat().st_size if events.exists() else 0
    proc = subprocess.Popen([*PSFT, "run", "--recipe", "micro", "--out", str(run), "--resume", "--quiet"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    t0 = time.time()
    try:
        while True:
            mine = [e for e in new_events(events, offset) if e.get("stage") == stage]
            if any(e.get("event") == "stage_start" for e in mine) and any(moment(e) for e in mine):
                break
            assert proc.poll() is None, f"the run ended before the moment to kill it in {stage}:\n{proc.stdout.read()}"
            assert time.time() - t0 < timeout, f"{stage} did not reach the moment within {timeout}s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:   # what the killed process started (sandbox workers) goes too, as a crash would take it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "stages" / f"{stage}.json").exists(), f"{stage} finished before the kill"
    return proc.stdout.read()


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory) -> MicroRun:
    """The micro recipe, uninterrupted and not quiet (shared with other slow tests)."""
    return shared_micro_run(tmp_path_factory)


@pytest.mark.slow
def test_a_run_not_quiet_shows_progress_and_ends_with_report_and_explorer_command(straight_run):
    out, done = straight_run.root, straight_run
    assert "%|" in done.stderr                      # tqdm progress bars of the long stages
    # ... without the trainers' log dicts printed above them (train.bar)
    assert "{'loss'" not in done.stderr + done.stdout and "'learning_rate'" not in done.stderr + done.stdout
    assert "[sft-mono] done" in done.stdout and "[probe] done" in done.stdout
    assert f"report:  {out / 'report.html'}" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("explore: ") and f"app {out}" in done.stdout
    assert (out / "report.html").exists() and (out / "stages" / "report.json").exists()


@pytest.mark.slow
def test_kill_9_during_sft_rl_and_probing_then_resume_gives_the_same_results(straight_run, tmp_path):
    base = straight_run.root
    run = tmp_path / "killed"
    (run / "stages").mkdir(parents=True)
    for rel in BEFORE_SFT_PATHS:
        src = base / rel
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, run / rel)
    for stage in BEFORE_SFT_STAGES:
        shutil.copy2(base / "stages" / f"{stage}.json", run / "stages" / f"{stage}.json")

    # SFT: once the trainer has started; RL: after its first GRPO step; probing: once the first
    # checkpoint's activations are written and the second is loading.
    printed = kill_during(run, "sft-mono", lambda e: e["event"] == "sft_start")
    printed += kill_during(run, "rl-multi", lambda e: "grpo step 1" in str(e.get("message", "")))
    printed += kill_during(run, "probe", lambda e: "probe sft-mono: loading" in str(e.get("message", "")))
    assert (run / "probes" / "base" / "rows.jsonl").exists() and not (run / "probes" / "metrics.json").exists()
    final = psft("run", "--recipe", "micro", "--out", str(run), "--resume", "--quiet", timeout=900)
    assert final.returncode == 0, final.stderr[-3000:]

    for rel in RESULTS:
        assert json.loads((run / rel).read_text()) == json.loads((base / rel).read_text()), rel
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if x.strip()]
    last = [e for e in events if e["event"] == "run_end"][-1]
    assert "probe" in last["ran"] and "sft-mono" in last["skipped"] and "rl-multi" in last["skipped"]
    assert not list(run.rglob(".*.tmp")), "temporaries of the killed stages were left behind"
    # --quiet: nothing but the run folder's path, in every attempt.
    assert final.stdout.strip() == str(run) and final.stderr == ""
    assert "%|" not in printed and "Warning" not in printed and "[sft" not in printed


# ---- bad input: one clear message, exit 2, nothing touched ------------------------------------------

@pytest.fixture
def existing_run(tmp_path) -> Path:
    """A small run folder that must survive every bad command untouched."""
    from .synthetic_run import write_synthetic_run
    return write_synthetic_run(tmp_path / "existing", n_tasks=4, probes=False)


def assert_refused(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    err = done.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.parametrize("toml, words", [
    ("[sft]\nbogus = 1\n", ("[sft].bogus", "unknown key")),
    ('[sft]\nlr = "fast"\n', ("[sft].lr", "expected float")),
    ("[world]\nn_tasks = 10\n", ("[world].n_tasks", "at least 50")),
    ("colour = 3\n", ("colour", "unknown key")),
    ("[probe]\nbogus = 1\n", ("[probe].bogus", "unknown key")),
    ("[probe]\nn_tasks = -1\n", ("[probe]", "n_tasks", ">= 0")),
])
def test_bad_recipe_is_one_message_and_touches_nothing(tmp_path, existing_run, toml, words):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(toml)
    before = snapshot(existing_run)
    assert_refused(psft("run", "--recipe", str(recipe), "--out", str(existing_run), "--force"), *words)
    assert snapshot(existing_run) == before


def test_missing_paths_are_one_message(tmp_path, existing_run):
    before = snapshot(existing_run)
    missing = tmp_path / "nowhere" / "x.toml"
    assert_refused(psft("run", "--recipe", str(missing), "--out", str(existing_run), "--force"), str(missing))
    assert_refused(psft("report", str(tmp_path / "no-run")), "no-run", "no such run folder")
    assert_refused(psft("report", str(existing_run), "--vs", str(tmp_path / "no-run-2")), "no-run-2")
    assert_refused(psft("app", str(tmp_path / "no-run")), "no such run folder")
    a_file = existing_run / "scores.json"
    assert_refused(psft("run", "--recipe", "micro", "--out", str(a_file)), "not a folder")
    assert snapshot(existing_run) == before


def test_a_checkpoint_folder_that_is_not_a_model_is_refused_on_resume(existing_run):
    bad = existing_run / "checkpoints" / "sft-mono"
    bad.mkdir(parents=True)
    (bad / "config.json").write_text('{"hello": "world"}')
    before = snapshot(existing_run)
    assert_refused(psft("run", "--recipe", "micro", "--out", str(existing_run), "--resume"),
                   str(bad), "not a model", "model_type")
    (bad / "config.json").write_text('{"model_type": "llama"}')
    before = snapshot(existing_run)
    assert_refused(psft("run", "--recipe", "micro", "--out", str(existing_run), "--resume"),
                   str(bad), "no weights")
    assert snapshot(existing_run) == before


def _hide(binary: str) -> list[str]:
    """argv prefix that runs a command in a private mount namespace where `binary` is not executable
    (/dev/null bound over it): a machine without that runtime, for real."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("hiding a runtime needs root and unshare (a private mount namespace)")
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed here")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind /dev/null {path} && ! test -x {path}"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", f'mount --bind /dev/null {path} && exec "$@"', "hide"]


def test_a_language_without_runtime_is_refused_before_anything_is_written(existing_run):
    prefix = _hide("lua5.4")
    before = snapshot(existing_run)
    done = subprocess.run([*prefix, *PSFT, "run", "--recipe", "micro", "--out", str(existing_run), "--force"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert_refused(done, "lua", "lua5.4", "psft langs --install")
    assert snapshot(existing_run) == before
