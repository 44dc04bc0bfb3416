"""train/recipe.py: built-in recipes load; unknown keys, wrong types and rejected values give one error
naming the key; overrides; the resolved dict round-trips; stage hashes move with their inputs only."""
from __future__ import annotations

import dataclasses
import json

import pytest

from evals.world import WorldConfig
from train.recipe import BUILTIN, RecipeError, load_recipe, recipe_from_dict


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_recipes_load_and_hold_their_promises(name):
    r = load_recipe(name)
    assert r.name == name and isinstance(r.world, WorldConfig)
    assert set(r.sft.heldout_langs) >= {"lua", "perl"}
    assert r.pretrain.seq_len <= r.model.max_position_embeddings
    n_test = round(r.world.n_tasks * r.world.test_frac)
    if name == "toy":   # the four causal tests: the align arm, its confirmatory contrast, the interventions
        assert n_test >= 300 and r.eval.n_tasks >= 300 and "align" in r.sft.arms and not r.runtime.bf16_autocast
        assert "align - multi" in r.analysis.confirmatory and r.runtime.jobs == 2
        assert set(r.interventions["kinds"]) == {"transplant", "patch", "erase"}
    if name == "study":
        assert n_test >= 1000 and r.eval.n_tasks >= 1000 and len(r.seeds) == 6 and not r.runtime.bf16_autocast
    if name == "study-forms":   # the study's seeds and shared stages, other arms, its own declared family
        study = load_recipe("study")
        assert r.seeds == study.seeds and r.oracles == () and "multi" in r.sft.arms
        assert {"parallel-paired", "translate"} <= set(r.sft.arms) and r.sft.budget_tokens == study.sft.budget_tokens
        assert all(c.endswith(" - multi") for c in r.analysis.confirmatory) and len(r.analysis.confirmatory) == 2
        for stage in ("world", "tokenizer", "pretrain"):
            assert r.stage_hashes()[stage] == study.stage_hashes()[stage]
        assert r.evaluation_hash() == study.evaluation_hash()
    if name == "study-joined":  # the same examples as parallel, joined two by two; one declared contrast
        study = load_recipe("study")
        assert r.seeds == study.seeds and r.oracles == () and set(r.sft.arms) == {"parallel", "parallel-joined"}
        assert r.analysis.confirmatory == ("parallel-joined - parallel",) and r.sft == dataclasses.replace(
            study.sft, arms=r.sft.arms)
        for stage in ("world", "tokenizer", "pretrain"):
            assert r.stage_hashes()[stage] == study.stage_hashes()[stage]
        assert r.evaluation_hash() == study.evaluation_hash() and r.rl == study.rl


def test_extends_merges_tables_and_replaces_values(tmp_path):
    child = _toml(tmp_path, 'extends = "micro"\ndescription = "child"\n[sft]\narms = ["multi"]\n[rl]\nsteps = 3\n')
    r, micro = load_recipe(child), load_recipe("micro")
    assert r.name == "r" and r.description == "child" and r.sft.arms == ("multi",) and r.rl.steps == 3
    assert r.sft.lr == micro.sft.lr and r.rl.lr == micro.rl.lr and r.model == micro.model   # the rest inherited
    assert r.stage_hashes()["pretrain"] == micro.stage_hashes()["pretrain"]
    grandchild = tmp_path / "g.toml"
    grandchild.write_text('extends = "r.toml"\n[rl]\nlr = 1e-5\n')
    g = load_recipe(grandchild)
    assert (g.rl.steps, g.rl.lr, g.sft.arms, g.description) == (3, 1e-5, ("multi",), "")   # description not inherited


@pytest.mark.parametrize("text,why", [('extends = "nowhere"\n', "neither a built-in"),
                                      ('extends = "r.toml"\n', "extends itself"),
                                      ('extends = 3\n', "expected a recipe name")])
def test_extends_errors_name_the_key(tmp_path, text, why):
    with pytest.raises(RecipeError, match=why) as e:
        load_recipe(_toml(tmp_path, text))
    assert e.value.key == "extends"


def test_rl_and_eval_sections_become_their_configs():
    from train.evaluate import EvalConfig
    from train.grpo import GRPOStageConfig
    r = load_recipe("micro")
    assert isinstance(r.rl, GRPOStageConfig) and isinstance(r.eval, EvalConfig)
    assert r.rl.steps == 2 and r.eval.n_tasks == 10


def _toml(tmp_path, text: str):
    path = tmp_path / "r.toml"
    path.write_text(text)
    return path


def test_wrong_type_names_the_key(tmp_path):
    with pytest.raises(RecipeError) as e:
        load_recipe(_toml(tmp_path, '[sft]\nlr = "fast"\n'))
    assert str(e.value) == "[sft].lr: expected float, got str 'fast'"
    with pytest.raises(RecipeError, match=r"^\[runtime\]\.threads: expected int, got bool True$"):
        load_recipe("micro", {"runtime.threads": True})
    with pytest.raises(RecipeError, match=r"^\[sft\]\.multi_langs\[1\]: expected str, got int 3$"):
        load_recipe("micro", {"sft": {"multi_langs": ["python", 3]}})


def test_unknown_key_names_the_key(tmp_path):
    with pytest.raises(RecipeError, match=r"^\[pretrain\]\.learning_rate: unknown key; known: .*\blr\b"):
        load_recipe(_toml(tmp_path, "[pretrain]\nlearning_rate = 0.1\n"))
    with pytest.raises(RecipeError, match=r"^pretraining: unknown key"):
        load_recipe(_toml(tmp_path, "[pretraining]\nlr = 0.1\n"))
    with pytest.raises(RecipeError, match=r"^\[rl\]\.stepz: unknown key"):
        load_recipe("micro", {"rl.stepz": 3})


def test_rejected_values_name_the_key():
    with pytest.raises(RecipeError, match=r"^\[model\]\.num_heads: must divide hidden_size \(got 5\)$"):
        load_recipe("micro", {"model.num_heads": 5})
    with pytest.raises(RecipeError, match=r"^\[world\]\.n_tasks: must be at least 50"):
        load_recipe("micro", {"world": {"n_tasks": 10}})
    with pytest.raises(RecipeError, match=r"^\[sft\]\.max_length: 999 exceeds \[model\]\.max_position_embeddings"):
        load_recipe("micro", {"sft.max_length": 999})
    with pytest.raises(RecipeError, match=r"^recipe: 'nope' is neither a built-in recipe"):
        load_recipe("nope")


def test_overrides_dotted_nested_and_from_strings():
    r = load_recipe("micro", {"sft.lr": "1e-4", "pretrain": {"max_steps": 7}, "seeds": "[1, 2]",
                              "sft.multi_langs": '["python", "ruby"]', "runtime.device": "auto"})
    assert (r.sft.lr, r.pretrain.max_steps, r.seeds, r.sft.multi_langs) == (1e-4, 7, (1, 2), ("python", "ruby"))
    assert r.runtime.device == "auto"
    assert load_recipe("micro").sft.lr == 3e-4          # files are not changed by overrides


def test_resolved_recipe_round_trips_through_json():
    r = load_recipe("toy")
    d = json.loads(json.dumps(r.to_dict()))
    assert recipe_from_dict(d) == r
    assert d["sft"]["parallel_langs"] == ["python", "javascript", "ruby", "php"]


def test_stage_hashes_move_with_their_inputs_only():
    base = load_recipe("micro").stage_hashes()
    assert base == load_recipe("micro").stage_hashes()
    changed = lambda o: {k for k, v in load_recipe("micro", o).stage_hashes().items() if v != base[k]}  # noqa: E731
    assert changed({"sft.lr": 1e-3}) == {"sft", "rl", "eval"}
    assert changed({"tokenizer.vocab_size": 600}) == {"tokenizer", "pretrain", "sft", "rl", "eval"}
    assert changed({"runtime.seed": 1}) == {"pretrain", "sft", "rl", "eval"}
    assert changed({"runtime.threads": 1}) == set()
    assert changed({"eval.n_tasks": 11}) == {"eval"}
    assert load_recipe("micro").hash("sft") != load_recipe("micro", {"sft.lr": 1e-3}).hash("sft")


def test_with_seed_sets_training_seeds_not_the_world():
    r = load_recipe("study").with_seed(2)
    assert (r.runtime.seed, r.rl.seed, r.world.seed, r.eval.seed) == (2, 2, 0, 0)


@pytest.mark.slow
def test_micro_recipe_runs_the_training_stages_end_to_end(tmp_path):
    """world -> tokenizer -> pretrain -> arms -> SFT x 3, as the pipeline calls them; every checkpoint loads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evals.world import World
    from train.mixtures import build_arms
    from train.pretrain import pretrain, pretrain_texts, valid_texts
    from train.sft import entropy_set, run_sft
    from train.tokenizer import build_tokenizer

    r = load_recipe("micro", {"runtime.threads": 1})
    world = World(r.world)
    tok = build_tokenizer(world, r.tokenizer)
    events = []
    pretrain(r.model, tok, pretrain_texts(world, r.pretrain, r.runtime.seed), r.pretrain, tmp_path / "base",
             progress=False, log=events.append, runtime=r.runtime, valid=valid_texts(world, r.pretrain))
    datasets, manifest = build_arms(world, tok, r.sft, seed=r.runtime.seed)
    json.dumps(manifest)
    for arm, ds in datasets.items():
        out = run_sft(tmp_path / "base", tok, ds, r.sft, tmp_path / arm, progress=False, log=events.append,
                      runtime=r.runtime, entropy_eval=entropy_set(world, r.sft.entropy_tasks))
        assert AutoModelForCausalLM.from_pretrained(out).config.vocab_size == len(AutoTokenizer.from_pretrained(out))
    assert [e["event"] for e in events].count("sft_done") == 3


def test_override_values_are_toml_unless_the_field_holds_text():
    import typing

    from train.config import is_text_type, override_value
    from train.sft import SFTStageConfig
    hints = typing.get_type_hints(SFTStageConfig)
    assert is_text_type(hints["budget_counts"]) and is_text_type(hints["lr_scheduler"]) and not is_text_type(hints["lr"])
    assert override_value("1e-4", False) == 1e-4 and override_value("[1, 2]", False) == [1, 2]
    assert override_value("true", True) == "true" and override_value("true", False) is True
    assert override_value("not toml", False) == "not toml" and override_value(3, False) == 3
