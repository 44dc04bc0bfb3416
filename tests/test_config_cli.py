"""`psft config RECIPE`: the resolved recipe as TOML with each field's help, itself a loadable recipe."""
from __future__ import annotations

import pytest

from app.cli import main
from train.recipe import tomllib  # the stdlib parser, or tomli on Python 3.10


@pytest.mark.parametrize("name", ["micro", "toy", "study", "mechanism"])
def test_world_recipes_print_every_field_with_help_and_load_back_the_same(name, capsys, tmp_path):
    from train.recipe import load_recipe
    assert main(["config", name, "--set", "rl.steps=7", "--set", "runtime.bf16_autocast=false"]) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    assert data["rl"]["steps"] == 7 and data["rl"]["bf16"] is False and data["eval"]["dtype"] == "float32"
    path = tmp_path / "mine.toml"
    path.write_text(text)
    want = load_recipe(name, {"rl.steps": 7, "runtime.bf16_autocast": False})
    got = load_recipe(path)
    assert got.to_dict() == want.to_dict()
    assert got.stage_hashes() == want.stage_hashes()
    # every field of every section is there, under a help comment
    for section in ("world", "runtime", "pretrain", "sft", "rl", "eval", "analysis"):
        assert set(want.section(section)) <= set(data[section]), section
    assert "# The run's precision knob" in text


def test_bench_recipe_prints_and_bad_input_is_one_line(capsys):
    assert main(["config", "smol", "--no-help"]) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    assert data["kind"] == "bench" and data["rl"]["bf16"] is False and "#" not in text.split("[runtime]")[1][:200]
    assert main(["config", "toy", "--set", "rl.nope=1"]) == 2
    err = capsys.readouterr().err
    assert "[rl].nope: unknown key" in err and err.count("\n") == 1
    assert main(["config", "nowhere.toml"]) == 2
