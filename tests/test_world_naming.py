"""The world's naming knob (`WorldConfig.naming`): "shared" renders exactly what the world rendered before
the knob existed; "per_language" gives each language its own identifiers, keeps the tasks, tests, harness
and stop rule, keeps the prompt contract, and every reference still passes in every language."""
from __future__ import annotations

import hashlib
import re

import pytest

from evals.world import LANGS, World, WorldConfig
from evals.world.render import NAMINGS, OWN_NAMES, rename_code, rename_prose

from .test_world import _covering_sample, _report

# sha256 of the helpers and of every task's prompt, solution, harness and stop strings in every language of
# World(WorldConfig(seed=0, n_tasks=300)), computed with the renderer as it was before the naming knob
# (commit 4297251): the default must render byte for byte the same. (The seal around them belongs to
# evals/languages and is left out.)
SHARED_DIGEST_300 = "347a618fc13c280ee92601752b1b9bf18c9f0f7f53841969e2e8054fc76fe6ac"


def _digest(w: World) -> str:
    from evals.world.render import helpers
    h = hashlib.sha256()
    for lang in LANGS:
        h.update(helpers(lang).encode())
    for t in w.tasks:
        for lang in LANGS:
            h.update(f"{t.id}|{lang}|{t.prompt(lang)}|{t.solution(lang)}|{t.harness(lang)}|{t.stop(lang)}\n".encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    return {n: World(WorldConfig(seed=0, n_tasks=300, naming=n)) for n in NAMINGS}


def test_shared_naming_is_byte_identical_to_the_world_before_the_knob(worlds):
    assert WorldConfig().naming == "shared"
    assert _digest(World(WorldConfig(seed=0, n_tasks=300))) == SHARED_DIGEST_300
    assert _digest(worlds["shared"]) == SHARED_DIGEST_300
    assert _digest(worlds["per_language"]) != SHARED_DIGEST_300


def test_the_knob_is_validated_and_kept_out_of_the_default_stage_hashes():
    with pytest.raises(ValueError, match="naming"):
        WorldConfig(naming="random")
    from train.config import hashed_view
    from train.recipe import load_recipe
    assert "naming" not in hashed_view(WorldConfig()) and hashed_view(WorldConfig(naming="per_language"))["naming"]
    # the stage hashes of the micro recipe, as they were before the knob (commit 4297251)
    micro = load_recipe("micro")
    assert micro.world.naming == "shared"
    assert micro.stage_hashes()["world"] == "c4cec030bbff" and micro.stage_hashes()["eval"] == "7bede6ba0a38"
    other = load_recipe("micro", {"world.naming": "per_language"})
    assert other.world.naming == "per_language"
    assert other.stage_hashes()["world"] != "c4cec030bbff"


def test_tasks_line_up_across_namings(worlds):
    shared, own = worlds["shared"], worlds["per_language"]
    for split in ("train", "test", "rl"):
        a, b = shared.split(split), own.split(split)
        assert [t.id for t in a] == [t.id for t in b]
        for x, y in zip(a, b):
            assert (x.tests, x.pipeline, x.signature, x.description) == (y.tests, y.pipeline, y.signature, y.description)
            assert y.naming == "per_language" and x.naming == "shared"
            for lang in LANGS:
                assert x.harness(lang) == y.harness(lang) and x.stop(lang) == y.stop(lang)
                assert x.signature.fn_name(lang) in y.prompt(lang).splitlines()[-1 if lang != "perl" else -2]


def test_no_own_name_is_shared_by_two_languages_or_collides_with_a_function_name(worlds):
    seen: dict[str, str] = {}
    for lang, names in OWN_NAMES.items():
        assert len(set(names.values())) == len(names), lang            # one role, one name
        for v in names.values():
            assert v not in seen, (v, lang, seen.get(v))
            seen[v] = lang
    fn_names = {t.signature.fn_name(lang) for t in World(WorldConfig(seed=0)).tasks for lang in LANGS}
    assert not fn_names & set(seen)


def _identifiers(lang: str, code: str) -> set[str]:
    """Identifier tokens of a body: names outside string literals (PHP and Perl: the names after a sigil,
    not the letters of Perl's s/// and tr///), sigils dropped."""
    code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', " ", code)
    if lang in ("php", "perl"):
        return set(re.findall(r"(?<=[$@])[A-Za-z_]\w*", code))
    return set(re.findall(r"[A-Za-z_]\w*", code))


def _mean_jaccard(w: World) -> float:
    vals = []
    for t in w.split("test"):
        ids = {lang: _identifiers(lang, t.solution(lang)) for lang in LANGS}
        for i, a in enumerate(LANGS):
            for b in LANGS[i + 1:]:
                vals.append(len(ids[a] & ids[b]) / max(1, len(ids[a] | ids[b])))
    return sum(vals) / len(vals)


def test_translations_share_fewer_identifiers_under_per_language_naming(worlds):
    shared, own = _mean_jaccard(worlds["shared"]), _mean_jaccard(worlds["per_language"])
    print(f"mean Jaccard of identifier sets between translations: shared {shared:.3f}, per_language {own:.3f}")
    assert own < 0.5 * shared
    # every role name of the shared rendering is gone from the per-language bodies (Perl keeps $_, $a, $b)
    roles = {"xs", "ys", "zs", "n", "m", "s", "t", "k", "x", "i", "c", "d"}
    for t in worlds["per_language"].split("test"):
        for lang in LANGS:
            assert not _identifiers(lang, t.solution(lang)) & roles, (t.id, lang, t.solution(lang))


def test_renaming_keeps_strings_methods_and_the_language_own_variables():
    assert rename_code("ruby", '  xs.map { |x| x.to_s }.chars + "xs"') == '  ary.map { |v| v.to_s }.chars + "xs"'
    assert rename_code("ruby", "(1..n).to_a") == "(1..cnt).to_a"
    assert rename_code("javascript", 's.replace(/[aeiou]/gi, "")') == 'inputStr.replace(/[aeiou]/gi, "")'
    assert rename_code("lua", "local t = s:upper() .. s") == "local txt2 = txt:upper() .. txt"
    assert rename_code("perl", "my @ys = sort { $a <=> $b } map { $_ * $k } @$xs; s/a//r") == \
        "my @lst = sort { $a <=> $b } map { $_ * $kk } @$vals; s/a//r"
    assert rename_code("php", "$ys = array_map(fn($x) => $x * $k, $xs);") == \
        "$rows = array_map(fn($item) => $item * $kval, $items);"
    assert rename_prose("python", 'Remove every "s" from s, then append "t" to t.') == \
        'Remove every "s" from text, then append "t" to other_text.'


@pytest.mark.parametrize("lang", LANGS)
def test_per_language_prompts_keep_the_contract(worlds, lang):
    pre_tokenizers = pytest.importorskip("tokenizers.pre_tokenizers")
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    for t in worlds["per_language"].split("valid")[:15] + worlds["per_language"].split("train")[:60]:
        p, sol = t.prompt(lang), t.solution(lang)
        assert not p.endswith("\n") and sol.startswith("\n") and sol.endswith("\n")
        assert t.document(lang) == p + sol and lang in p.splitlines()[0 if lang != "php" else 1]
        assert t.truncate(lang, sol) == sol
        hits = [i for s in t.stop(lang) if (i := sol.find(s)) >= 0]
        assert hits == ([] if lang == "python" else [len(sol) - len(t.stop(lang)[0]) - 1])
        boundaries = {end for _, (_, end) in byte_level.pre_tokenize_str(t.document(lang))}
        assert len(p) in boundaries


def test_per_language_references_pass_in_every_language(executor):
    from evals.execution import Program
    w = World(WorldConfig(seed=0, naming="per_language"))
    tasks = _covering_sample(w.tasks, 150)
    assert {tpl for t in tasks for tpl in t.templates} >= {tpl for t in w.tasks for tpl in t.templates}
    assert {t.pipeline.domain for t in tasks} >= {t.pipeline.domain for t in w.tasks}
    progs = [Program(lang, t.program(lang, t.solution(lang)), id=f"{t.id}/{lang}", proof=True)
             for t in tasks for lang in LANGS]
    results = executor.map(progs)
    assert all(r.passed for r in results), _report(progs, results)
    # and a per-language body in the shared prompt's place fails: the renaming is not cosmetic
    t = next(t for t in tasks if t.pipeline.domain == "list")
    shared = World(WorldConfig(seed=0)).get(t.id)
    bad = [Program(lang, shared.program(lang, t.solution(lang)), proof=True) for lang in LANGS]
    assert not any(r.passed for r in executor.map(bad))
