"""The Ray backend on a real local Ray cluster (Ray's own `ray.cluster_utils.Cluster`: a head and a second
node, each a raylet with one CPU, on this machine), no mocks: the verdicts equal the local backend's on
MBXP references and on wrong programs, input order, duplicates and per-program limits hold as locally, a
sealed program cannot forge its proof on a node, `psft score --executor ray` gives the local summary,
a node that joins gets an actor, and a node killed mid-batch loses no verdict (its programs run on the
others, each reported once). Skipped, with the reason, where Ray is not installed or cannot start here.
The cluster starts once for the module (~30 s on a loaded 2-core machine) and is shut down after it."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the [dist] extra: pip install '.[dist]')")

from app.cli import main  # noqa: E402
from evals.benchmarks.problem import seal  # noqa: E402
from evals.execution import Executor, Limits, Program, Status, open_executor  # noqa: E402
from evals.execution import sandbox as sandbox_mod  # noqa: E402

from .conftest import REPO, SHARED_DATA, needs_shared_data  # noqa: E402

pytestmark = pytest.mark.slow
NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024**2}
# Node deaths noticed in ~2 s instead of Ray's default ~30 s (the kill test waits on it).
FAST_HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_timeout_ms": 500,
                      "health_check_failure_threshold": 4}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    if ray.is_initialized():
        pytest.skip("this process is already connected to a Ray cluster")
    if not sandbox_mod.bwrap_path():
        pytest.skip("bubblewrap is not installed: the Ray backend runs programs only in it")
    old_path = os.environ.get("PYTHONPATH")
    # Ray's workers inherit the raylets' environment: they import this checkout, as the test does.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *([old_path] if old_path else [])])
    c = None
    try:
        c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False,
                                                          "_system_config": FAST_HEALTH_CHECKS})
        c.add_node(**NODE)
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False)
    except Exception as e:  # noqa: BLE001 -- any failure to start is a reason to skip, given
        if c is not None:
            c.shutdown()
        pytest.skip(f"a local Ray cluster could not start here: {type(e).__name__}: {e}")
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path


@pytest.fixture(scope="module")
def ray_ex(cluster):
    with open_executor("ray") as ex:
        yield ex


def _mbxp_programs(n_per_lang: dict[str, int]) -> list[Program]:
    """Sealed MBXP programs of each language: the first references, and as many wrong programs (each
    problem run with the next problem's reference)."""
    from evals.benchmarks import load_benchmark
    out = []
    for lang, n in n_per_lang.items():
        probs = [p for p in load_benchmark("mbxp", SHARED_DATA / "mbxp", langs=[lang]) if p.has_solution][:n + 1]
        for p, other in zip(probs, probs[1:]):
            out.append(Program(lang, p.program(), id=p.id, proof=p.proof))
            out.append(Program(lang, p.program(other.solution), id=f"{p.id}/wrong", proof=p.proof))
    return out


@pytest.mark.data
@needs_shared_data
def test_ray_verdicts_equal_the_local_ones_on_mbxp_references_and_wrong_programs(ray_ex):
    progs = _mbxp_programs({"python": 20, "javascript": 12, "ruby": 8, "php": 8})
    with Executor(workers=2) as local:
        want = local.map(progs)
    got = ray_ex.map(progs)
    assert [(p.id, r.status) for p, r in zip(progs, got)] == [(p.id, r.status) for p, r in zip(progs, want)]
    passed = sum(r.passed for r in got)
    assert 0 < passed < len(progs)                  # both kinds of verdict were compared
    assert len(ray_ex.node_ids()) == 2 and all(ray_ex.stats["by_node"].get(n) for n in ray_ex.node_ids())


def test_ray_map_keeps_input_order_duplicates_and_per_program_limits(ray_ex):
    slow = "import time\ntime.sleep(3)\n"
    progs = [Program("python", f"assert {i} % 3 != 1", id=str(i)) for i in range(12)]
    progs += [Program("python", slow, id="capped", limits=Limits(timeout_s=0.5)),
              Program("python", "assert 1 % 3 != 1", id="duplicate"),
              Program("cobol", "DISPLAY 'HI'.", id="no-runner"),
              Program("python", "print('out'); raise SystemExit(3)", id="exit-3")]
    before = ray_ex.stats["deduplicated"]
    got = ray_ex.map(progs, limits=Limits(timeout_s=10))
    assert [r.status for r in got[:12]] == [Status.FAILED if i % 3 == 1 else Status.PASSED for i in range(12)]
    assert got[12].status is Status.TIMEOUT and got[12].duration_s < 3   # the program's own limit, not the map's
    assert got[13].status is Status.FAILED and got[13] is not got[1]     # a duplicate gets its own copy
    assert ray_ex.stats["deduplicated"] - before == 1
    assert got[14].status is Status.UNAVAILABLE
    assert got[15].status is Status.RUNTIME_ERROR and got[15].stdout.strip() == "out"
    assert ray_ex.run(Program("python", "assert True")).passed


def test_a_sealed_program_cannot_forge_its_proof_on_a_ray_node(ray_ex):
    tests = "assert add(1, 2) == 3\nassert add(2, 5) == 7\n"
    right = seal("python", "def add(a, b):\n    return a + b\n", tests)
    forged = [seal("python", "def add(a, b):\n    return a - b\nimport os\nos._exit(0)\n", tests),
              seal("python", "def add(a, b):\n    return a - b\nimport atexit, os\natexit.register(lambda: os._exit(0))\n"
                             "print('0' * 32)\n", tests)]
    got = ray_ex.map([Program("python", s, proof=True) for s in [right, *forged]])
    assert got[0].status is Status.PASSED and got[0].stdout.strip() == ""   # the token is taken out
    assert [r.status for r in got[1:]] == [Status.FAILED, Status.FAILED]
    assert all(r.exit_code == 0 and "no completion proof" in r.detail for r in got[1:])


@pytest.mark.data
@needs_shared_data
def test_psft_score_on_ray_gives_the_local_summary(ray_ex, tmp_path, capsys):
    from evals.benchmarks import load_benchmark
    rows = []
    for lang in ("python", "ruby"):
        probs = [p for p in load_benchmark("mbxp", SHARED_DATA / "mbxp", langs=[lang]) if p.has_solution][:7]
        rows += [{"task_id": p.id, "completion": p.solution} for p in probs]
        rows.append({"task_id": probs[0].id, "completion": probs[1].solution})     # a wrong one
    comp = tmp_path / "c.jsonl"
    comp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summaries = {}
    for backend in ("local", "ray"):
        out = tmp_path / f"{backend}.jsonl"
        code = main(["score", "--bench", "mbxp", "--data", str(SHARED_DATA / "mbxp"), "--langs", "python,ruby",
                     "--completions", str(comp), "--out", str(out), "--json", "--executor", backend])
        assert code == 0
        summaries[backend] = (json.loads(capsys.readouterr().out),
                              [json.loads(line)["status"] for line in out.read_text().splitlines()])
    assert summaries["ray"] == summaries["local"]
    assert summaries["ray"][0]["python"]["n"] == 8 and summaries["ray"][0]["python"]["passed"] < 8


def test_a_node_killed_mid_batch_loses_no_verdict(cluster):
    with open_executor("ray") as ex:
        doomed = cluster.add_node(**NODE)          # joins after the pool started: gets an actor at the next map
        cluster.wait_for_nodes()
        assert ex.run(Program("python", "assert True")).passed
        doomed_id = doomed.node_id
        assert doomed_id in ex.node_ids() and len(ex.node_ids()) == 3
        progs = [Program("python", f"import time\ntime.sleep(0.25)\nassert {i} % 5 != 2", id=str(i))
                 for i in range(36)]
        progs.append(progs[3])                      # a duplicate: reported twice, run once
        killed = threading.Event()

        def kill_when_the_node_has_finished_a_chunk():
            deadline = time.monotonic() + 60
            while not ex.stats["by_node"].get(doomed_id) and time.monotonic() < deadline:
                time.sleep(0.02)
            cluster.remove_node(doomed, allow_graceful=False)
            killed.set()

        ex.stats["by_node"].clear()
        killer = threading.Thread(target=kill_when_the_node_has_finished_a_chunk)
        killer.start()
        got = ex.map(progs)
        killer.join()
        assert killed.is_set()
        assert len(got) == len(progs)
        assert [r.status for r in got[:36]] == [Status.FAILED if i % 5 == 2 else Status.PASSED for i in range(36)]
        assert got[36].status is got[3].status
        assert ex.stats["lost_actors"] == 1 and ex.stats["retried"] >= 1   # the node held work when it died
        assert sum(ex.stats["by_node"].values()) == 36                      # each verdict reported once
        assert doomed_id not in ex.node_ids() and len(ex.node_ids()) == 2
        assert [r.passed for r in ex.map(progs[:4])] == [True, True, False, True]   # the survivors go on


def test_a_program_whose_actor_is_lost_too_often_gets_one_sandbox_error(cluster):
    with open_executor("ray", max_attempts=1) as ex:
        assert len(ex.node_ids()) == 2
        victim = ex.node_ids()[1]
        progs = [Program("python", f"import time\ntime.sleep(0.2)\nassert {i} % 4 != 1", id=str(i)) for i in range(24)]

        def kill_the_actor_when_it_has_finished_a_chunk():
            deadline = time.monotonic() + 60
            while not ex.stats["by_node"].get(victim) and time.monotonic() < deadline:
                time.sleep(0.02)
            ray.kill(ex._actors[victim].handle)     # its process dies; the node stays

        killer = threading.Thread(target=kill_the_actor_when_it_has_finished_a_chunk)
        killer.start()
        got = ex.map(progs)
        killer.join()
        lost = [r for r in got if r.status is Status.SANDBOX_ERROR]
        assert len(got) == 24 and len(lost) == ex.stats["retried"] >= 1
        assert all(r.detail.startswith("its Ray actor was lost 1 time (last: ") for r in lost)
        assert all(r.status is (Status.FAILED if i % 4 == 1 else Status.PASSED)
                   for i, r in enumerate(got) if r.status is not Status.SANDBOX_ERROR)
        assert sum(ex.stats["by_node"].values()) == 24                      # each reported once
        assert ex.run(Program("python", "assert True")).passed and len(ex.node_ids()) == 2   # a new actor there
