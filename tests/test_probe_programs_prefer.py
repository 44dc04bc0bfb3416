"""The probe set prefers evaluated tasks, so the explorer can show a probed program's test verdicts."""
from __future__ import annotations

from probe.programs import world_programs
from tests import tiny_lm


def test_preferred_tasks_come_first_in_split_order():
    w = tiny_lm.world(200)
    test_ids = [t.id for t in w.split("test")]
    prefer = {test_ids[7], test_ids[3], "not-a-task"}
    rows = world_programs(w, "test", ["python", "lua"], n_tasks=4, prefer=prefer)
    ids = [r.task_id for r in rows if r.lang == "python"]
    assert ids == [test_ids[3], test_ids[7], test_ids[0], test_ids[1]]
    assert [r.task_id for r in rows if r.lang == "lua"] == ids
    assert [r.task_id for r in world_programs(w, "test", ["python"], n_tasks=3)] == test_ids[:3]
