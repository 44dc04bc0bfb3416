"""The statistics and checks of `psft intervene` on data made here: paired contrasts over tasks, no interval
under the minimum of tasks, the share of a gain only where the gain exists, and what an eraser's checks read."""
from __future__ import annotations

import numpy as np
import pytest

from probe.interventions.config import InterventionConfig


def test_a_contrast_pairs_tasks_and_gives_no_interval_under_ten_tasks():
    from app.intervention_stats import contrasts
    cfg = InterventionConfig(n_boot=500)
    ids = [f"t{i}" for i in range(40)]
    base = {"python": {t: float(i % 2) for i, t in enumerate(ids)}, "lua": {t: 0.0 for t in ids}}
    edit = {"python": {t: 1.0 for t in ids}, "lua": {t: float(i < 10) for i, t in enumerate(ids)}}
    out = contrasts(edit, base, ["python", "lua"], {"targets": ["lua"]}, cfg)
    assert out["python"]["diff"] == pytest.approx(0.5) and out["lua"]["diff"] == pytest.approx(0.25)
    assert out["lua"]["ci95"][0] > 0 and out["targets"]["langs"] == ["lua"]
    assert out["python"]["p_bound"] and out["python"]["p_value"] == pytest.approx(1 / 500)
    few = {la: {t: v[t] for t in ids[:9]} for la, v in edit.items()}
    cell = contrasts(few, base, ["python", "lua"], {}, cfg)["python"]
    assert cell["ci95"] is None and cell["n"] == 9 and "fewer than 10" in cell["note"]


def test_share_of_gain_is_null_unless_the_gain_is_shown():
    from app.intervention_stats import paired_cell, share_of_gain
    cfg = InterventionConfig(n_boot=500)
    base = [0.0] * 50
    target = [1.0] * 20 + [0.0] * 30
    edit = [1.0] * 10 + [0.0] * 40
    gain = paired_cell(target, base, cfg)
    s = share_of_gain(edit, base, target, gain, cfg)
    assert s["value"] == pytest.approx(0.5) and s["ci95"][0] < 0.5 < s["ci95"][1]
    flat = [1.0, 0.0] * 25
    none = share_of_gain(edit, flat, flat, paired_cell(flat, flat, cfg), cfg)
    assert none["value"] is None and "covers zero" in none["why"]


def test_erasure_checks_see_a_language_offset_removed():
    """Programs = a task vector + a large per-language offset: raw retrieval is poor and the language probe
    perfect; with the offsets removed, retrieval rises and the probe falls to chance."""
    from probe.interventions.checks import cross_language_retrieval, language_probe_accuracy
    from probe.programs import ProgramRow
    rng = np.random.default_rng(0)
    n, d, langs = 60, 16, ["python", "lua", "ruby"]
    task = rng.standard_normal((n, d))
    offset = {la: 20 * rng.standard_normal(d) for la in langs}
    rows = [ProgramRow(f"t{i}", la, "") for la in langs for i in range(n)]
    X = np.stack([task[int(r.task_id[1:])] + offset[r.lang] + 0.3 * rng.standard_normal(d) for r in rows])
    Xc = np.stack([task[int(r.task_id[1:])] + 0.3 * rng.standard_normal(d) for r in rows])
    before, after = cross_language_retrieval(X, rows), cross_language_retrieval(Xc, rows)
    assert after["raw"] > before["raw"] + 0.3 and after["raw"] > 0.9 and before["chance"] == pytest.approx(1 / n)
    assert language_probe_accuracy(X, rows) == 1.0
    assert language_probe_accuracy(Xc, rows) < 0.6
