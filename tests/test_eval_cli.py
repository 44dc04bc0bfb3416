"""`psft eval`: any HF causal LM evaluated on MBXP or the world into an evaluation-only run folder that
`psft report`, the explorer (`psft app`) and `psft probe` open; scoring is the pipeline's (a model that writes the
references passes what they pass); a LoRA adapter evaluates as the merged model; bad input is one message
and exit code 2 with nothing written. Tiny random models for speed; SmolLM2-135M-Instruct (slow) for a
real chat model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from . import tiny_lm


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    import torch
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("models") / "tiny"
    tok = tiny_lm.tokenizer()
    tiny_lm.model(tok).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def psft(*argv) -> int:
    from app.cli import main
    return main([str(a) for a in argv])


def rows_of(folder: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (folder / "evals" / f"{name}.jsonl").read_text().splitlines()]


def test_eval_writes_a_folder_that_report_and_probe_open(tiny, shared_data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "eval"
    assert psft("eval", "--model", tiny, "--bench", "mbxp", "--data", shared_data / "mbxp", "--langs",
                "python,javascript", "--n-tasks", 3, "--samples", 2, "--temperature", 0.8, "--max-new-tokens", 24,
                "--workers", 1, "--out", out, "--quiet") == 0
    assert capsys.readouterr().out.strip() == str(out)
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "eval" and config["bench"] == "mbxp" and config["name"] == "tiny"
    assert config["prompt"] == {"style": "plain"} and config["eval"]["ks"] == [1, 2]
    rows = rows_of(out, "tiny")
    assert len(rows) == 2 * 3 * (1 + 2)          # languages x tasks x (greedy + samples)
    assert {r["split"] for r in rows} == {"mbxp"} and {r["sample"] for r in rows} == {-1, 0, 1}
    assert all(11 <= int(r["task_id"].split("/")[1]) <= 510 for r in rows)   # MBXP test numbers only
    tasks = {la: sorted({r["task_id"] for r in rows if r["lang"] == la}) for la in ("python", "javascript")}
    assert tasks["python"] == tasks["javascript"]                             # the same tasks in every language
    scores = json.loads((out / "scores.json").read_text())
    assert scores == {"tiny": json.loads((out / "evals" / "tiny.scores.json").read_text())}
    for s in scores["tiny"].values():
        assert s["greedy"] and s["ci_method"] == "wilson" and s["n"] == 3 and s["ci95"][1] > 0
        assert {"pass@1", "pass@2", "ci95@1", "ci95@2"} <= set(s["pass@k"])
    assert (out / "checkpoints" / "tiny").resolve() == tiny.resolve()

    assert psft("report", out, "--markdown") == 0
    md = capsys.readouterr().out
    assert "| tiny |" in md and "Wilson" in md
    assert psft("probe", out, "--no-check", "--n-tasks", 4, "--langs", "python,javascript", "--layers", "embed,-1",
                "--n-boot", 100, "--threads", 1, "--quiet") == 0
    metrics = json.loads((out / "probes" / "metrics.json").read_text())
    assert list(metrics["checkpoints"]) == ["tiny"] and metrics["meta"]["source"] == "mbxp"
    explorer_pages_open(out, monkeypatch)          # with its one probed checkpoint


def explorer_pages_open(run: Path, monkeypatch) -> None:
    """`psft app RUN`'s script, headless: every page renders without an exception, the pass@1 table shown."""
    from streamlit.testing.v1 import AppTest

    from app.explorer.after_map import FLAG

    from .conftest import REPO
    monkeypatch.setenv("PSFT_RUN", str(run))
    at = AppTest.from_file(str(REPO / "app" / "explorer" / "main.py"), default_timeout=120)
    at.session_state[FLAG] = True          # as once the browser has drawn the map (after_map.py)
    at = at.run()
    for page in ("Map", "Compare", "Alignment", "CKA"):
        at = at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    at = at.sidebar.radio(key="page").set_value("Map").run()
    assert any("python" in t.value.columns and "tiny" in t.value.index for t in at.table)      # pass@1


def test_a_model_that_writes_the_references_passes_what_they_pass(tiny, shared_data, executor):
    """The scoring is real: completions equal to the references pass exactly where the references, run as
    programs by themselves, pass (and a wrong completion fails)."""
    from evals.benchmarks.task import CodePrefix
    from evals.execution import Program
    from train.evaluate import select_tasks
    from train.generation import StopRule
    from train.model_eval import ModelEvalConfig, bench_tasks, evaluate_model, load_model, load_tokenizer
    tok = load_tokenizer(str(tiny))
    tasks = [t for t in bench_tasks("mbxp", str(shared_data / "mbxp"), ["python", "ruby"], CodePrefix())
             if all(t.problem(la).has_solution for la in ("python", "ruby"))]
    cfg = ModelEvalConfig(langs=("python", "ruby"), n_tasks=4, max_new_tokens=400)
    chosen = select_tasks(tasks, cfg)
    refs = {t.prompt(la): (t.solution(la), StopRule.for_task(t, la)) for t in chosen for la in cfg.langs}
    oracle = tiny_lm.OracleLM(load_model(str(tiny)), tok, refs)
    rows, scores, _ = evaluate_model(oracle, tok, tasks, cfg, executor)
    expected = executor.map([Program(la, t.program(la, t.solution(la)), proof=True) for la in cfg.langs for t in chosen])
    assert [r["passed"] for r in rows] == [e.passed for e in expected]
    assert sum(r["passed"] for r in rows) >= 6 and all(r["completion"].strip() for r in rows)
    wrong = executor.map([Program("python", chosen[0].program("python", "\n    return None\n"), proof=True)])
    assert not wrong[0].passed


def test_eval_on_the_world_opens_in_probe(tiny, tmp_path, capsys):
    out = tmp_path / "world"
    assert psft("eval", "--model", tiny, "--bench", "world", "--recipe", "micro", "--langs", "python,lua",
                "--n-tasks", 4, "--max-new-tokens", 24, "--workers", 1, "--out", out, "--quiet") == 0
    config = json.loads((out / "config.json").read_text())
    assert config["world"]["n_tasks"] == 300 and config["prompt"] == "world"
    rows = rows_of(out, "tiny")
    assert len(rows) == 8 and {r["split"] for r in rows} <= {"test", "heldout_comp", "rl_test"}
    assert psft("probe", out, "--n-tasks", 4, "--langs", "python,lua", "--layers", "embed,-1", "--n-boot", 100,
                "--threads", 1, "--no-lexical-control", "--quiet") == 0
    assert list(json.loads((out / "probes" / "metrics.json").read_text())["checkpoints"]) == ["tiny"]


def test_a_lora_adapter_evaluates_as_the_merged_model(tiny, shared_data, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from probe.capture import load_model as probe_load
    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny),
                                LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = tmp_path / "merged"
    peft_model.merge_and_unload().save_pretrained(merged)
    tiny_lm.tokenizer().save_pretrained(merged)
    common = ["--bench", "mbxp", "--data", shared_data / "mbxp", "--langs", "python", "--n-tasks", 3,
              "--max-new-tokens", 24, "--workers", 1, "--quiet"]
    assert psft("eval", "--model", tiny, "--adapter", tmp_path / "adapter", "--out", tmp_path / "a", *common) == 0
    assert psft("eval", "--model", merged, "--out", tmp_path / "m", *common) == 0
    assert psft("eval", "--model", tiny, "--out", tmp_path / "b", *common) == 0
    with_adapter = [r["completion"] for r in rows_of(tmp_path / "a", "tiny+adapter")]
    assert with_adapter == [r["completion"] for r in rows_of(tmp_path / "m", "merged")]
    assert with_adapter != [r["completion"] for r in rows_of(tmp_path / "b", "tiny")]
    copy = tmp_path / "a" / "checkpoints" / "tiny+adapter"
    assert json.loads((copy / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny.resolve())
    model, tok = probe_load(copy)      # what `psft probe` loads: base + adapter, with a tokenizer
    assert tok("def f") and model is not None


@pytest.mark.parametrize("case", ["missing model", "missing data", "world without recipe", "world from a bench recipe",
                                  "non-empty out", "not an adapter", "vllm here"])
def test_bad_input_is_one_message_exit_2_and_nothing_written(case, tiny, tmp_path, capsys):
    import importlib.util

    import torch
    out = tmp_path / "out"
    data = tiny   # any existing path: each case fails before the data is read
    argv = {"missing model": ["--model", tmp_path / "nope", "--bench", "mbxp", "--data", data],
            "missing data": ["--model", tiny, "--bench", "mbxp", "--data", tmp_path / "no-data"],
            "world without recipe": ["--model", tiny, "--bench", "world"],
            "world from a bench recipe": ["--model", tiny, "--bench", "world", "--recipe", "smol"],
            "non-empty out": ["--model", tiny, "--bench", "mbxp", "--data", data],
            "not an adapter": ["--model", tiny, "--adapter", tmp_path, "--bench", "mbxp", "--data", data],
            "vllm here": ["--model", tiny, "--bench", "mbxp", "--data", data, "--engine", "vllm"]}[case]
    if case == "vllm here" and importlib.util.find_spec("vllm") and torch.cuda.is_available():
        pytest.skip("vLLM can run here")
    if case == "non-empty out":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    assert psft("eval", *argv, "--out", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("psft eval: error: ") and len(err.strip().splitlines()) == 1, err
    expected = {"missing model": "no such model folder", "missing data": "no such file or folder",
                "world without recipe": "needs --recipe", "world from a bench recipe": "has no world",
                "non-empty out": "not an empty folder",
                "not an adapter": "not a peft adapter", "vllm here": "--engine vllm"}[case]
    assert expected in err
    if case == "non-empty out":
        assert [p.name for p in out.iterdir()] == ["notes.txt"]
    else:
        assert not out.exists()


def test_an_unknown_benchmark_is_refused_by_the_parser(tiny, capsys):
    with pytest.raises(SystemExit) as e:
        psft("eval", "--model", tiny, "--bench", "apps", "--data", ".")
    assert e.value.code == 2 and "invalid choice: 'apps'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.timeout(900)
def test_eval_smollm2_on_mbxp_with_its_chat_template(shared_data, tmp_path, capsys):
    """SmolLM2-135M-Instruct from its GGUF package (`--model smollm2` converts it once into
    artifacts/models/), prompted through its chat template, on a few MBXP problems."""
    pytest.importorskip("gguf")
    from train.pretrained import ModelSourceError, gguf_path
    try:
        gguf_path("smollm2")
    except ModelSourceError as e:
        pytest.skip(str(e))
    out = tmp_path / "smol"
    assert psft("eval", "--model", "smollm2", "--bench", "mbxp", "--data", shared_data / "mbxp", "--langs",
                "python,javascript", "--n-tasks", 2, "--max-new-tokens", 96, "--out", out, "--quiet") == 0
    config = json.loads((out / "config.json").read_text())
    name = config["name"]
    assert name == "smollm2" and config["prompt"]["style"] == "chat"
    rows = rows_of(out, name)
    assert len(rows) == 4 and all(r["prompt"].startswith("<|im_start|>system") for r in rows)
    assert all(r["status"] != "sandbox_error" for r in rows)
    # SmolLM2 writes code: most of its completions at least parse (not one syntax error per row).
    assert sum(r["status"] == "syntax_error" for r in rows) < len(rows)
    assert psft("report", out, "--markdown") == 0
    assert f"| {name} |" in capsys.readouterr().out
