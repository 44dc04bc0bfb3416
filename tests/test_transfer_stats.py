"""train/transfer.py's inferences: pooled intervals whose unit is the design's (seeds and tasks), checked for
coverage on simulated studies; the seen / zero-shot split; an oracle's targets; the confirmatory family
with Holm's correction and every other cell exploratory; p-values at the bootstrap's resolution; Wilson
intervals for proportions."""
from __future__ import annotations

import random

import numpy as np
import pytest

from evals.scoring.multiplicity import holm
from train.transfer import (
    AnalysisConfig,
    format_p,
    pooled_pass,
    pooled_transfer,
    seed_task_interval,
    transfer_table,
)

SEEN = ("python", "javascript", "ruby", "php")


def simulate(n_studies: int, n_seeds: int, n_tasks: int, seed_sd: float, gain: float = 0.04, seed: int = 0):
    """Per (study, seed, task) RL - SFT pass differences of 0/1 outcomes, as in the study's evaluations:
    a task's SFT pass probability in [0.25, 0.6], a task-specific RL effect (mean 0), and a shift common to
    every task of one seed (SD `seed_sd`, cut at 2.5 SD so probabilities stay in [0, 1]). The population
    gain is exactly `gain`."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.25, 0.6, (n_studies, 1, n_tasks))
    task_effect = rng.uniform(-0.1, 0.1, (n_studies, 1, n_tasks))
    shift = np.clip(rng.normal(0, seed_sd, (n_studies, n_seeds, 1)), -2.5 * seed_sd, 2.5 * seed_sd)
    sft = rng.random((n_studies, n_seeds, n_tasks)) < p
    rl = rng.random((n_studies, n_seeds, n_tasks)) < p + gain + task_effect + shift
    return rl.astype(np.float64) - sft


@pytest.mark.parametrize("n_seeds", [3, 5])
def test_pooled_interval_covers_the_true_gain_when_seeds_differ_by_six_points(n_seeds):
    gain = 0.04
    D = simulate(400, n_seeds, 1000, seed_sd=0.06, gain=gain, seed=n_seeds)
    r = seed_task_interval(D)
    covered = np.mean((r["lo"] <= gain) & (gain <= r["hi"]))
    assert covered >= 0.90, covered
    # The interval it replaces (tasks resampled, each task's gain averaged over the seeds) misses the
    # seed shift: about half the simulated studies' intervals miss the true gain.
    avg = D.mean(1)
    half = 1.96 * avg.std(-1, ddof=1) / np.sqrt(avg.shape[-1])
    tasks_only = np.mean(np.abs(avg.mean(-1) - gain) <= half)
    assert tasks_only < 0.75, tasks_only


def test_pooled_interval_is_not_wasteful_without_seed_variance():
    D = simulate(400, 3, 300, seed_sd=0.0, seed=7)
    r = seed_task_interval(D)
    covered = np.mean((r["lo"] <= 0.04) & (0.04 <= r["hi"]))
    assert 0.92 <= covered <= 0.995, covered
    # Three seeds cannot show that seeds do not matter: the price is a typical width 1.4x that of the
    # tasks-only interval (which is right here, and only here).
    avg = D.mean(1)
    tasks_only = 2 * 1.96 * avg.std(-1, ddof=1) / np.sqrt(avg.shape[-1])
    assert np.median((r["hi"] - r["lo"]) / tasks_only) < 1.6


def test_seed_task_interval_reduces_to_the_seed_level_t_when_seeds_dominate():
    from scipy import stats
    rng = np.random.default_rng(3)
    D = rng.normal(0, 0.01, (3, 500)) + np.array([[0.0], [0.1], [0.2]])
    r = seed_task_interval(D)
    means = D.mean(1)
    half = stats.t.ppf(0.975, 2) * means.std(ddof=1) / np.sqrt(3)
    assert r["df"] == pytest.approx(2, abs=0.05)
    assert float(r["hi"] - r["lo"]) == pytest.approx(2 * half, rel=0.02)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        seed_task_interval(D[:1])


# ---- the transfer table on rows -------------------------------------------------------------------

def _rows(p_by_lang: dict[str, float], n: int, seed: int, base=None) -> list[dict]:
    """Greedy rows; with `base`, each task passes if it passed in base or with probability p (a gain)."""
    rng = random.Random(seed)
    rows = []
    for lang, p in p_by_lang.items():
        for i in range(n):
            before = base[(f"t{i}", lang)] if base else False
            rows.append({"task_id": f"t{i}", "lang": lang, "sample": -1, "passed": before or rng.random() < p,
                         "status": ""})
    return rows


LANG_P = {"python": 0.4, "javascript": 0.3, "ruby": 0.3, "lua": 0.3, "perl": 0.3}


def _run(seed: int, n: int = 200, shift: float = 0.0) -> tuple[dict, dict]:
    """One seed's rows for arms mono, multi, parallel and oracle-lua; `shift` adds to every RL gain."""
    sft = _rows(LANG_P, n, 100 + seed)
    base = {(r["task_id"], r["lang"]): r["passed"] for r in sft}
    gains = {"mono": 0.05, "multi": 0.05, "parallel": 0.2}
    rows = {"sft-parallel": sft}
    for i, (arm, g) in enumerate(gains.items()):
        rows[f"sft-{arm}"] = sft
        rows[f"rl-{arm}"] = _rows({la: max(0.0, g + shift) for la in LANG_P}, n, 200 + 10 * seed + i, base)
    rows["oracle-lua"] = _rows({la: 0.3 if la == "lua" else 0.02 for la in LANG_P}, n, 300 + seed, base)
    return {}, rows


PAIRS = {"mono": ("sft-mono", "rl-mono"), "multi": ("sft-multi", "rl-multi"),
         "parallel": ("sft-parallel", "rl-parallel"), "oracle-lua": ("sft-parallel", "oracle-lua")}
RL_LANGS = {"oracle-lua": "lua"}


def test_one_run_interval_says_it_covers_tasks_only():
    table = transfer_table(*_run(0), PAIRS, n_boot=500, seen_langs=SEEN, rl_langs=RL_LANGS)
    assert table["seeds"] == 1
    assert {c["interval_unit"] for c in table["mono"].values()} == {"tasks"}
    assert "per_seed" not in table["mono"]["python"]


def test_pooled_cells_cover_seeds_and_tasks_and_widen_with_a_seed_shift():
    runs = [_run(s, shift=0.08 * (s - 1)) for s in range(3)]        # gains shifted by -8, 0, +8 points
    pooled = pooled_transfer(runs, PAIRS, n_boot=500, seen_langs=SEEN, rl_langs=RL_LANGS)
    cell = pooled["mono"]["python"]
    assert cell["interval_unit"] == "seeds+tasks" and pooled["seeds"] == 3 and len(cell["per_seed"]) == 3
    grid = []
    for _, rows in runs:
        rl = {r["task_id"]: float(r["passed"]) for r in rows["rl-mono"] if r["lang"] == "python"}
        sft = {r["task_id"]: float(r["passed"]) for r in rows["sft-mono"] if r["lang"] == "python"}
        grid.append([rl[t] - sft[t] for t in sorted(rl)])
    r = seed_task_interval(grid)
    assert cell["gain"] == pytest.approx(float(r["mean"])) and cell["ci95"] == pytest.approx([r["lo"], r["hi"]])
    # the seeds' spread enters: wider than the interval over tasks of the seed-averaged gains
    avg = np.mean(grid, 0)
    tasks_only = 2 * 1.96 * avg.std(ddof=1) / np.sqrt(len(avg))
    assert cell["ci95"][1] - cell["ci95"][0] > 1.5 * tasks_only
    assert pooled["_compare"]["parallel - mono"]["zero_shot"]["interval_unit"] == "seeds+tasks"


def test_targets_split_into_seen_and_zero_shot_languages():
    table = transfer_table(*_run(0), PAIRS, n_boot=300, seen_langs=SEEN, rl_langs=RL_LANGS)
    mono = table["mono"]
    assert mono["targets"]["langs"] == ["javascript", "ruby", "lua", "perl"]
    assert mono["seen"]["langs"] == ["javascript", "ruby"] and mono["zero_shot"]["langs"] == ["lua", "perl"]
    assert mono["zero_shot"]["gain"] == pytest.approx((mono["lua"]["gain"] + mono["perl"]["gain"]) / 2)
    assert table["_languages"]["zero_shot"] == ["lua", "perl"]
    assert table["_languages"]["seen"] == sorted(SEEN)
    plain = transfer_table(*_run(0), PAIRS, n_boot=300)                 # no arms' languages given: no split
    assert "seen" not in plain["mono"] and "zero_shot" not in plain["mono"]


def test_an_oracle_transfers_to_every_language_but_its_own_rl_language():
    table = transfer_table(*_run(0), PAIRS, n_boot=300, seen_langs=SEEN, rl_langs=RL_LANGS)
    oracle = table["oracle-lua"]
    assert oracle["targets"]["langs"] == ["python", "javascript", "ruby", "perl"]
    assert oracle["zero_shot"]["langs"] == ["perl"] and "python" in oracle["seen"]["langs"]
    assert table["_languages"]["rl_lang"] == {"mono": "python", "multi": "python", "parallel": "python",
                                              "oracle-lua": "lua"}
    # a comparison with the oracle leaves out both arms' RL languages
    assert table["_compare"]["oracle-lua - mono"]["targets"]["langs"] == ["javascript", "ruby", "perl"]


def test_the_declared_family_is_holm_adjusted_and_every_other_cell_is_exploratory():
    table = transfer_table(*_run(0), PAIRS, n_boot=1000, seen_langs=SEEN, rl_langs=RL_LANGS)
    fam = table["_family"]
    assert fam["contrasts"] == ["parallel - multi", "parallel - mono"] and fam["group"] == "zero_shot"
    cells = [table["_compare"][c]["zero_shot"] for c in fam["contrasts"]]
    assert [c["p_holm"] for c in cells] == pytest.approx(holm([c["p_value"] for c in cells]))
    assert [m["p_holm"] for m in fam["members"]] == [c["p_holm"] for c in cells]
    assert all(c["role"] == "confirmatory" for c in cells)
    roles = [cell["role"] for key, entry in table.items() if not key.startswith("_") and isinstance(entry, dict)
             for cell in entry.values()]
    roles += [cell["role"] for pair in table["_compare"].values() for cell in pair.values()]
    assert roles.count("confirmatory") == 2 and set(roles) == {"confirmatory", "exploratory"}
    # parallel gains 20 points, the others 5: the confirmatory contrasts find it after Holm
    assert all(m["significant"] and m["diff"] > 0 for m in fam["members"])


def test_a_family_declared_the_other_way_round_is_computed_that_way_and_a_missing_arm_is_listed():
    analysis = AnalysisConfig(confirmatory=("mono - parallel", "parallel - ghost"), group="seen")
    table = transfer_table(*_run(0), PAIRS, n_boot=300, seen_langs=SEEN, rl_langs=RL_LANGS, analysis=analysis)
    assert "mono - parallel" in table["_compare"] and "parallel - mono" not in table["_compare"]
    cell = table["_compare"]["mono - parallel"]["seen"]
    assert cell["role"] == "confirmatory" and cell["diff"] < 0 and cell["p_holm"] == cell["p_value"]
    assert table["_family"]["missing"] == ["parallel - ghost"]


def test_analysis_config_refuses_a_contrast_it_cannot_read():
    from train.config import ConfigError
    from train.recipe import RecipeError, load_recipe
    with pytest.raises(ConfigError, match="'<arm> - <arm>'"):
        AnalysisConfig(confirmatory=("parallel",))
    with pytest.raises(ConfigError, match="twice"):
        AnalysisConfig(confirmatory=("parallel - mono", "parallel  -  mono"))
    with pytest.raises(RecipeError, match=r"\[analysis\]\.group"):
        load_recipe("micro", {"analysis.group": "everything"})
    assert load_recipe("micro", {"analysis.confirmatory": '["parallel - mono"]'}).analysis.confirmatory == \
        ("parallel - mono",)
    assert load_recipe("micro").to_dict()["analysis"]["group"] == "zero_shot"


def test_a_bootstrap_p_with_no_resample_beyond_zero_is_stored_and_printed_as_a_bound():
    table = transfer_table(*_run(0, n=400), PAIRS, n_boot=2000, seen_langs=SEEN, rl_langs=RL_LANGS)
    cell = table["parallel"]["python"]                          # a 20-point gain on 400 tasks
    assert cell["p_value"] == 1 / 2000 and cell["p_bound"] is True
    assert format_p(cell["p_value"], cell["p_bound"]) == "< 0.0005"
    assert format_p(0.0123) == "0.012" and format_p(None) == "–"
    from app.tables import compare_frame
    text = compare_frame(table).loc["parallel - mono", "python"]
    assert "p=< 0.0005" in text or "p=0." in text


# ---- proportions ------------------------------------------------------------------------------------

def test_a_proportion_near_zero_gets_a_wilson_interval_not_a_point():
    from evals.scoring import wilson_interval
    one = pooled_pass([[0.0] * 200])
    assert one["ci95"] == pytest.approx(list(wilson_interval(0, 200))) and one["ci95"][1] > 0.01
    zero = pooled_pass(np.zeros((3, 200)))
    assert zero["ci95"][0] == 0.0 and zero["ci95"][1] > 0.003
    rng = np.random.default_rng(0)
    rates = np.array([[0.02], [0.10], [0.18]])                     # seeds differ a lot
    P = (rng.random((3, 500)) < rates).astype(float)
    cell = pooled_pass(P)
    naive = wilson_interval(int(P.sum()), P.size)
    assert cell["ci95"][0] <= cell["pass@1"] <= cell["ci95"][1]
    assert cell["ci95"][1] - cell["ci95"][0] > 2 * (naive[1] - naive[0])   # the seeds' spread counts
    assert cell["n_effective"] < P.size


def test_a_bad_analysis_table_is_one_clear_error_before_the_run(tmp_path, capsys):
    from app.cli import main
    from train.recipe import recipe_path
    recipe = tmp_path / "mine.toml"
    recipe.write_text(recipe_path("micro").read_text() + '\n[analysis]\nconfirmatory = ["parallel"]\n')
    out = tmp_path / "run"
    assert main(["run", "--recipe", str(recipe), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "[analysis].confirmatory" in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()
