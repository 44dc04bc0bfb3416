"""Writes `tests/fixtures/interventions/`: what `psft intervene` wrote on a tiny run built here, read by the
report and explorer tests (running the interventions in every test session would cost minutes).

    PYTHONPATH=. python -m tests.intervention_fixture          # rewrites tests/fixtures/interventions/

The run: the world of `tests/tiny_lm` (seed 0, 200 tasks), evaluation in python, javascript and lua on 12
tasks; tiny random Llamas (2 layers, width 64) trained by `tiny_lm.overfit` so that some tasks pass: an
"SFT" checkpoint per arm (parallel: 6 of the evaluated tasks in the three languages; mono: the same tasks
in python) and its "RL" child (further trained on 10 of them in python only). Then the real command, on
that run folder: `psft intervene RUN --kind transplant|patch|erase --arm ARM --layers 0,1 ...` (below).
Checkpoint paths in the JSON are relative to the folder the command ran in.
Not for: any claim about real models (the checkpoints are fitted to the evaluated tasks on purpose).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).parent / "fixtures" / "interventions"
RECIPE = """
[world]
seed = 0
n_tasks = 200
[runtime]
bf16_autocast = false
threads = 1
[sft]
arms = ["mono", "parallel"]
[eval]
langs = ["python", "javascript", "lua"]
n_tasks = 12
max_new_tokens = 48
n_boot = 500
"""
LANGS = ("python", "javascript", "lua")
# (kind, arm, extra arguments) of each `psft intervene` call, in order.
CALLS = (
    ("transplant", "parallel", ["--alpha", "1", "--delta-tasks", "24"]),
    ("transplant", "mono", ["--alpha", "1", "--delta-tasks", "24"]),
    ("patch", "parallel", []),
    ("erase", "parallel", ["--probe-tasks", "12"]),
)


def build_run(root: Path) -> Path:
    """A run folder with checkpoints/{sft,rl}-{mono,parallel} and config.json, as `psft intervene` reads it."""
    import torch

    from app.intervening import eval_tasks, setup_from_recipe
    from tests import tiny_lm
    from train.recipe import load_recipe
    torch.set_num_threads(1)
    recipe_file = root / "tiny.toml"
    recipe_file.write_text(RECIPE)
    recipe = load_recipe(str(recipe_file))
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({**recipe.to_dict(), "seed": 0}))
    tasks = eval_tasks(setup_from_recipe(recipe))
    tok = tiny_lm.tokenizer()

    def texts(ts, langs):
        return [t.prompt(la) + t.solution(la) for t in ts for la in langs]
    for arm, sft_langs in (("parallel", LANGS), ("mono", ("python",))):
        sft = tiny_lm.model(tok, layers=2)
        tiny_lm.overfit(sft, tok, texts(tasks[:6], sft_langs), steps=200)
        rl = copy.deepcopy(sft)
        tiny_lm.overfit(rl, tok, texts(tasks[:10], ("python",)), steps=60, seed=1)
        for name, m in ((f"sft-{arm}", sft), (f"rl-{arm}", rl)):
            m.save_pretrained(run / "checkpoints" / name)
            tok.save_pretrained(run / "checkpoints" / name)
    return run


def main() -> int:
    from app.cli import main as psft
    with tempfile.TemporaryDirectory() as tmp:
        here = os.getcwd()
        os.chdir(tmp)                       # paths in the JSON: relative ("run/checkpoints/rl-parallel")
        try:
            build_run(Path("."))
            for kind, arm, extra in CALLS:
                argv = ["intervene", "run", "--kind", kind, "--arm", arm, "--layers", "0,1", *extra, "--quiet"]
                print("psft " + " ".join(argv), file=sys.stderr)
                if psft(argv) != 0:
                    return 1
            OUT.mkdir(parents=True, exist_ok=True)
            for old in OUT.glob("*.json*"):
                old.unlink()
            for f in sorted(Path("run/interventions").glob("*.json*")):
                shutil.copyfile(f, OUT / f.name)
        finally:
            os.chdir(here)
    return 0


if __name__ == "__main__":
    sys.exit(main())
