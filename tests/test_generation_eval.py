"""Generation (stop rules, engines, sampling), evaluation plumbing end to end with the real executor,
and the paired transfer table."""
from __future__ import annotations

import random

import pytest

from evals.world import LANGS
from train.evaluate import EvalConfig, evaluate_checkpoint, select_tasks
from train.generation import GenStats, SamplingParams, StopRule, generate
from train.transfer import pooled_transfer, transfer_table

from . import tiny_lm


@pytest.fixture(scope="module")
def tok():
    return tiny_lm.tokenizer()


@pytest.fixture(scope="module")
def tasks():
    return tiny_lm.world().split("test")[:6]


@pytest.fixture(scope="module")
def lm(tok):
    return tiny_lm.model(tok)


JUNK = "\nprint(1)\n\n# more\nfunction f() {}\nend\n}\n"


@pytest.mark.parametrize("lang", LANGS)
def test_generation_stops_at_the_stop_rule_and_cuts_there(lang, tok, lm, tasks):
    # The oracle emits the reference completion followed by junk: generation must stop at the rule.
    refs = {t.prompt(lang): (t.solution(lang) + JUNK, StopRule.for_task(t, lang)) for t in tasks}
    oracle = tiny_lm.OracleLM(lm, tok, refs)
    stats = GenStats()
    out = generate(oracle, tok, [t.prompt(lang) for t in tasks], [StopRule.for_task(t, lang) for t in tasks],
                   SamplingParams(max_new_tokens=400, batch_size=4, threads=1), stats=stats)
    assert [o[0] for o in out] == [t.solution(lang) for t in tasks]
    full = sum(len(tok(t.solution(lang) + JUNK, add_special_tokens=False)["input_ids"]) for t in tasks)
    assert stats.new_tokens < full  # stopped before the junk, not cut afterwards


def test_stop_rule_without_truncate_keeps_the_stop_string():
    rule = StopRule(("\n}",))
    assert rule.done("  return 1;\n}") and not rule.done("  return 1;\n")
    assert rule.finish("  return 1;\n}\nmore") == "  return 1;\n}"
    py = StopRule.for_task(tiny_lm.world().split("test")[0], "python")
    assert py.done("\n    return x\ny = 1") and not py.done("\n    return x\n")  # new unindented line


def test_loop_engine_matches_model_generate_greedy(tok, lm, tasks):
    for lang in ("python", "lua"):
        prompts = [t.prompt(lang) for t in tasks]
        rule = StopRule.for_task(tasks[0], lang)
        p = SamplingParams(max_new_tokens=24, batch_size=4, threads=1)
        loop = generate(lm, tok, prompts, rule, p)
        hf = generate(lm, tok, prompts, rule, SamplingParams(**{**p.__dict__, "engine": "hf"}))
        assert loop == hf


def test_sampling_gives_n_samples_reproducibly(tok, lm, tasks):
    prompts = [t.prompt("ruby") for t in tasks[:3]]
    p = SamplingParams(max_new_tokens=12, temperature=1.0, n=4, batch_size=8, seed=3, threads=1)
    a = generate(lm, tok, prompts, StopRule(("\nend",)), p)
    b = generate(lm, tok, prompts, StopRule(("\nend",)), p)
    assert a == b and all(len(x) == 4 for x in a)
    assert len({s for x in a for s in x}) > 3  # samples differ
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(n=2)


# ---- evaluation plumbing ------------------------------------------------------------------------

def _fn(good):
    def fn(tasks, lang, params):
        return [[t.solution(lang) if good(t, j) else "\n" for j in range(params.n)] for t in tasks]
    return fn


def test_cheating_generator_scores_one_and_wrong_scores_zero(executor, tasks):
    cfg = EvalConfig(n_tasks=4, threads=1)
    rows, scores = evaluate_checkpoint(None, None, tasks, cfg, executor, progress=False,
                                       generate_fn=_fn(lambda t, j: True))
    assert set(scores) == set(LANGS)
    # greedy passes are one proportion: the Wilson interval, which does not collapse to [1, 1] at 4 of 4
    assert all(s["pass@1"] == 1.0 and s["n"] == 4 and s["ci_method"] == "wilson" and s["ci95"][1] == 1.0
               and 0.4 < s["ci95"][0] < 0.6 for s in scores.values())
    assert len(rows) == 4 * len(LANGS)
    assert set(rows[0]) >= {"task_id", "lang", "sample", "prompt", "completion", "status", "passed"}
    assert all(r["sample"] == -1 and r["status"] == "passed" for r in rows)
    rows0, scores0 = evaluate_checkpoint(None, None, tasks, cfg, executor, progress=False,
                                         generate_fn=_fn(lambda t, j: False))
    assert all(s["pass@1"] == 0.0 for s in scores0.values())
    # the same tasks, whatever the input order
    shuffled = list(tasks)
    random.Random(1).shuffle(shuffled)
    assert [t.id for t in select_tasks(shuffled, cfg)] == [t.id for t in select_tasks(tasks, cfg)]
    assert {r["task_id"] for r in rows0} == {r["task_id"] for r in rows}


def test_sampled_pass_at_k_follows_the_estimator(executor, tasks):
    cfg = EvalConfig(langs=("python", "perl"), n_tasks=0, greedy=False, n_samples=4, ks=(1, 2, 8), threads=1,
                     temperature=1.0, overlap=False)
    rows, scores = evaluate_checkpoint(None, None, tasks, cfg, executor, progress=False,
                                       generate_fn=_fn(lambda t, j: j < 2))  # 2 of 4 samples correct
    for lang in cfg.langs:
        s = scores[lang]
        assert s["pass@1"] == pytest.approx(0.5) and s["pass@k"]["pass@1"] == pytest.approx(0.5)
        assert s["pass@k"]["pass@2"] == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
        assert "pass@8" not in s["pass@k"] and s["n_samples"] == 4 and not s["greedy"]
    assert sorted({r["sample"] for r in rows}) == [0, 1, 2, 3]


def test_real_generation_path_scores_one_with_an_oracle_model(executor, tok, lm, tasks):
    refs = {t.prompt(la): (t.solution(la), StopRule.for_task(t, la)) for t in tasks for la in LANGS}
    oracle = tiny_lm.OracleLM(lm, tok, refs)
    cfg = EvalConfig(n_tasks=0, threads=1, gen_threads=2, batch_size=4, max_new_tokens=200)
    timings = {}
    rows, scores = evaluate_checkpoint(oracle, tok, tasks, cfg, executor, progress=False, timings=timings)
    assert {la: s["pass@1"] for la, s in scores.items()} == {la: 1.0 for la in LANGS}
    assert all(timings[la]["generate_s"] > 0 and timings[la]["execute_s"] > 0 for la in LANGS)
    # a random model writes nothing that passes
    _, scores = evaluate_checkpoint(lm, tok, tasks[:2], EvalConfig(n_tasks=0, threads=1, max_new_tokens=16,
                                                                     langs=("python",)), executor, progress=False)
    assert scores["python"]["pass@1"] == 0.0


def test_languages_generated_in_parallel_threads_give_the_same_rows(executor, tok, lm, tasks):
    base = dict(n_tasks=0, threads=1, max_new_tokens=24, batch_size=4, n_samples=2, langs=("python", "lua", "ruby"))
    one, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(gen_threads=1, **base), executor, progress=False)
    three, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(gen_threads=3, **base), executor, progress=False)
    assert len(one) == len(tasks) * 3 * 3 and one == three
    assert {r["completion"] for r in one if r["sample"] >= 0} - {r["completion"] for r in one if r["sample"] < 0}


def test_attention_kernel_is_switched_for_the_evaluation_only(executor, tok, lm, tasks):
    from train.evaluate import attention
    assert lm.config._attn_implementation == "sdpa"
    base = dict(n_tasks=0, threads=1, max_new_tokens=24, batch_size=4, langs=("python", "lua"), dtype="float32")
    seen = set()   # the kernel of every forward pass while generating
    hook = lm.register_forward_pre_hook(lambda m, _args: seen.add(m.config._attn_implementation))
    try:
        eager, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(attention="eager", **base), executor, progress=False)
    finally:
        hook.remove()
    assert seen == {"eager"} and lm.config._attn_implementation == "sdpa"   # the model's own kernel came back
    sdpa, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(attention="sdpa", **base), executor, progress=False)
    assert [r["completion"] for r in eager] == [r["completion"] for r in sdpa]
    with attention(lm, "eager"):
        assert lm.config._attn_implementation == "eager"
        with attention(lm, ""):
            assert lm.config._attn_implementation == "eager"
    assert lm.config._attn_implementation == "sdpa"
    with pytest.raises(ValueError, match="cannot switch its attention kernel"):
        with attention(object(), "eager"):
            pass
    with pytest.raises(ValueError, match="EvalConfig.attention"):
        EvalConfig(attention="flash")


def test_generation_dtype_casts_a_copy_and_leaves_the_model_alone(executor, tok, lm, tasks):
    import torch

    from train.evaluate import cast
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    base = dict(n_tasks=0, threads=1, max_new_tokens=24, batch_size=4, langs=("python", "lua"))
    seen = set()   # (model, weights' dtype) of every forward pass while generating (a deep copy keeps the hook)
    hook = lm.register_forward_pre_hook(lambda m, _args: seen.add((m is lm, m.model.embed_tokens.weight.dtype)))
    try:
        bf16, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(dtype="bfloat16", **base), executor, progress=False)
        assert seen == {(False, torch.bfloat16)}
        seen.clear()
        fp32, _ = evaluate_checkpoint(lm, tok, tasks, EvalConfig(dtype="float32", **base), executor, progress=False)
        assert seen == {(True, torch.float32)}
    finally:
        hook.remove()
    assert all(torch.equal(before[k], v) for k, v in lm.state_dict().items())   # untouched, still fp32
    assert len(bf16) == len(fp32) == len(tasks) * 2
    # a config built directly says 'auto' (a recipe resolves it from runtime.bf16_autocast); `cast` reads it
    # as bfloat16, the default before the one precision knob
    assert EvalConfig().dtype == "auto"
    with cast(lm, "auto") as auto_model:
        assert auto_model is not lm and auto_model.dtype == torch.bfloat16
    for same in ("", "float32"):
        with cast(lm, same) as m:
            assert m is lm
    with pytest.raises(ValueError, match="cannot be cast"):
        with cast(object(), "bfloat16"):
            pass
    with pytest.raises(ValueError, match="EvalConfig.dtype"):
        EvalConfig(dtype="float16")


def test_eval_config_errors_name_the_field():
    with pytest.raises(ValueError, match="EvalConfig.langs"):
        EvalConfig(langs=("cobol",))
    with pytest.raises(ValueError, match="EvalConfig.greedy"):
        EvalConfig(greedy=False, n_samples=0)
    with pytest.raises(ValueError, match="EvalConfig.gen_threads"):
        EvalConfig(gen_threads=-1)
    assert set(EvalConfig.help()) >= {"langs", "n_tasks", "n_samples", "ks", "temperature", "max_new_tokens",
                                      "batch_size", "seed", "threads"}


# ---- transfer table -----------------------------------------------------------------------------

def _rows(p_by_lang: dict[str, float], n: int, seed: int, base=None) -> list[dict]:
    """Synthetic greedy rows; with `base`, each task passes if it passed in base or with prob p (a gain)."""
    rng = random.Random(seed)
    rows = []
    for lang, p in p_by_lang.items():
        for i in range(n):
            before = base[(f"t{i}", lang)] if base else False
            passed = before or rng.random() < p
            rows.append({"task_id": f"t{i}", "lang": lang, "sample": -1, "passed": passed, "status": ""})
    return rows


def test_transfer_table_paired_ci_sanity():
    n = 400
    sft_rows = _rows({"python": 0.4, "lua": 0.3, "ruby": 0.3}, n, 0)
    base = {(r["task_id"], r["lang"]): r["passed"] for r in sft_rows}
    rl_rows = _rows({"python": 0.5, "lua": 0.25, "ruby": 0.0}, n, 1, base)  # big, medium and no gain
    rows = {"sft-a": sft_rows, "rl-a": rl_rows, "sft-b": sft_rows, "rl-b": sft_rows}
    table = transfer_table({}, rows, ["a", "b"], n_boot=1000)
    a = table["a"]
    for lang in ("python", "lua"):
        assert a[lang]["ci95"][0] > 0 and a[lang]["p_value"] < 0.01
        assert a[lang]["gain"] == pytest.approx(a[lang]["rl"] - a[lang]["sft"])
    assert a["ruby"] == {**a["ruby"], "gain": 0.0, "ci95": [0.0, 0.0]}
    assert a["targets"]["langs"] == ["lua", "ruby"]
    assert a["targets"]["gain"] == pytest.approx((a["lua"]["gain"] + a["ruby"]["gain"]) / 2)
    assert table["b"]["python"]["gain"] == 0.0
    cmp = table["_compare"]["b - a"]   # the later arm minus the earlier
    assert cmp["python"]["diff"] == pytest.approx(-a["python"]["gain"]) and cmp["python"]["ci95"][1] < 0
    # pairing matters: the paired CI of the gain is narrower than an unpaired one would be
    from evals.scoring import bootstrap_ci
    lo_rl, hi_rl = bootstrap_ci([r["passed"] for r in rl_rows if r["lang"] == "lua"], n_boot=1000)
    assert a["lua"]["ci95"][1] - a["lua"]["ci95"][0] < hi_rl - lo_rl
    # scores that disagree with their rows are an error
    with pytest.raises(ValueError, match="different evaluations"):
        transfer_table({"rl-a": {"python": {"pass@1": 0.0}}}, rows, ["a"])


def test_pooled_transfer_pools_seeds_and_keeps_each_seed():
    n = 300
    runs = []
    for s in range(3):   # python gains in every seed, by different amounts; lua gains in none
        sft = _rows({"python": 0.4, "lua": 0.3}, n, 10 + s)
        base = {(r["task_id"], r["lang"]): r["passed"] for r in sft}
        rl = _rows({"python": 0.1 * (s + 1), "lua": 0.0}, n, 20 + s, base)
        runs.append(({}, {"sft-a": sft, "rl-a": rl, "sft-b": sft, "rl-b": sft}))
    singles = [transfer_table(scores, rows, ["a", "b"], n_boot=500) for scores, rows in runs]
    pooled = pooled_transfer(runs, ["a", "b"], n_boot=500)
    assert pooled["seeds"] == 3
    py = pooled["a"]["python"]
    assert py["per_seed"] == [t["a"]["python"]["gain"] for t in singles]
    assert py["gain"] == pytest.approx(sum(py["per_seed"]) / 3)
    assert py["sft"] == pytest.approx(sum(t["a"]["python"]["sft"] for t in singles) / 3)
    assert py["ci95"][0] < py["gain"] < py["ci95"][1] and py["n"] == n and py["interval_unit"] == "seeds+tasks"
    # the seeds' gains differ (by about 10 points each): the interval covers them, not only the tasks
    width = py["ci95"][1] - py["ci95"][0]
    assert width > max(py["per_seed"]) - min(py["per_seed"])
    assert pooled["a"]["lua"]["gain"] == 0.0 and pooled["a"]["lua"]["per_seed"] == [0.0, 0.0, 0.0]
    cmp = pooled["_compare"]["b - a"]["python"]
    assert cmp["diff"] == pytest.approx(-py["gain"]) and len(cmp["per_seed"]) == 3
    assert pooled["a"]["targets"]["per_seed"] == [t["a"]["targets"]["gain"] for t in singles]
    # one run pooled is that run's table, and says its interval covers the tasks only
    one = pooled_transfer(runs[:1], ["a", "b"], n_boot=500)
    assert one["a"]["python"]["ci95"] == singles[0]["a"]["python"]["ci95"]
    assert one["a"]["python"]["interval_unit"] == "tasks"
    with pytest.raises(ValueError, match="no runs"):
        pooled_transfer([], ["a"])
