"""Benchmark problems as tasks: where a completion ends, how programs assemble, which numbers may train.

The static checks run over every MBXP reference; the sandbox checks run a fixed sample per language."""
from __future__ import annotations

import pytest

from evals.benchmarks.endings import Ending
from evals.benchmarks.splits import check_disjoint, mbpp_split
from evals.benchmarks.task import BenchTask, CodePrefix, bench_tasks
from evals.execution import Program

LANGS = ("python", "javascript", "typescript", "ruby", "php", "cpp", "java")


@pytest.fixture(scope="module")
def mbxp(shared_data):
    from evals.benchmarks import load_benchmark
    return load_benchmark("mbxp", shared_data / "mbxp", langs=list(LANGS))


FENCED = CodePrefix("\n```")


def _tasks(problems, lang, fmt=FENCED) -> list[BenchTask]:
    from evals.benchmarks import parallel_set
    return bench_tasks(parallel_set(problems, [lang], require_solution=True), "mbxp", fmt)


def _squash(text: str) -> str:
    return "".join(text.split())   # equal up to whitespace (we start Ruby's body on its own line)


@pytest.mark.data
def test_reference_completions_assemble_the_benchmarks_own_programs(mbxp):
    # A reference completion (with a closing fence after it) is cut after the function and assembled into
    # the same program as the benchmark's prompt + solution + tests. The exceptions are references with
    # text after the function: PHP ones ending in "?></s><pad>..." and Python ones defining a helper
    # after the function (MBPP/64, 223, 717, 940), and one C++ reference (MBCPP/3).
    allowed = {"python": 4, "php": 25, "cpp": 1}
    for lang in LANGS:
        tasks = _tasks(mbxp, lang)
        differ = [t.id for t in tasks
                  if _squash("".join(t.parts(lang, t.solution(lang)))) != _squash("".join(t.problem(lang).parts()))]
        assert len(differ) <= allowed.get(lang, 0), (lang, differ[:10])


@pytest.mark.data
@pytest.mark.slow
def test_sampled_references_pass_through_our_assembly(mbxp, executor):
    programs, expected = [], []
    for lang in LANGS:
        sample = [t for t in _tasks(mbxp, lang) if mbpp_split(t.number) == "train"][:: 40][: 3 if lang in ("cpp", "java") else 6]
        for t in sample:
            programs += [Program(lang, t.problem(lang).program()), Program(lang, t.program(lang, t.solution(lang)))]
            expected.append(t.id + "/" + lang)
    results = executor.map(programs)
    for i, name in enumerate(expected):
        theirs, ours = results[2 * i], results[2 * i + 1]
        assert theirs.passed == ours.passed, (name, theirs.status, ours.status, ours.detail)
    for lang in LANGS:   # the sample is not all broken references (TypeScript's fail type checks most often)
        assert any(r.passed for r, name in zip(results[1::2], expected) if name.endswith("/" + lang)), lang


def test_completions_are_cut_after_the_function():
    py = Ending.of("python", 'def f(x):\n    """Doc."""')
    text = "\n    y = x + 1\n\n    return y\nprint(f(2))\n```\nmore"
    assert py.truncate(text) == "\n    y = x + 1\n\n    return y\n"
    assert py.truncate("\n    return 1\n```\nThis function...") == "\n    return 1\n"
    assert py.truncate("\n    return 1") == "\n    return 1"   # not ended yet: unchanged
    js = Ending.of("javascript", "/** {a: 1} */\nfunction f(x) {")
    assert js.indent == 0 and js.closers == ()
    assert js.truncate("\n  if (x) {\n    return 1;\n  }\n  return 2;\n}\nconsole.log(f(1));") == \
        "\n  if (x) {\n    return 1;\n  }\n  return 2;\n}\n"
    rb = Ending.of("ruby", "# f(x)\ndef f(x)")
    assert rb.truncate("\n  if x\n    1\n  end\nend\nputs f(1)") == "\n  if x\n    1\n  end\nend\n"
    perl = Ending.of("perl", "# f({a => 1})\nsub f\n{\n  my ($x) = @_;")
    assert perl.indent == 0 and perl.truncate("\n  if ($x) {\n    1;\n  }\n  2;\n}\nprint f(1);") == \
        "\n  if ($x) {\n    1;\n  }\n  2;\n}\n"
    assert ("\n}", "```") == js.stop_strings() and "\nend" in rb.stop_strings()


def test_java_methods_close_their_class_whether_or_not_the_completion_does():
    code = "import java.util.*;\n\nclass Add {\n    /** add({1}) */\n    public static int add(int a, int b) {"
    end = Ending.of("java", code)
    assert (end.indent, end.closers) == (4, (0,))
    assert "\n    }" in end.stop_strings()
    own_close = "\n        return a + b;\n    }\n}\n"
    method_only = "\n        return a + b;\n    }\n\n    public static void main(String[] a) {\n"
    assert end.close(end.truncate(own_close)) == end.close(end.truncate(method_only)) == \
        "\n        return a + b;\n    }\n}\n"


def test_training_ranges_never_touch_the_test_numbers():
    from train.bench_config import BenchDataConfig
    from train.config import ConfigError
    assert [mbpp_split(n) for n in (5, 11, 510, 511, 600, 601, 974)] == \
        ["prompt", "test", "test", "valid", "valid", "train", "train"]
    check_disjoint([(511, 974)], "ok")
    with pytest.raises(ValueError, match="overlaps the MBPP test"):
        check_disjoint([(400, 700)], "sft_ids")
    with pytest.raises(ConfigError, match=r"sft_ids: .*overlaps the MBPP test"):
        BenchDataConfig(sft_ids=((500, 974),))
    with pytest.raises(ConfigError, match=r"rl_ids: overlaps sft_ids"):
        BenchDataConfig(sft_ids=((511, 974),), rl_ids=((590, 600),))


GO_BODY = ("\n\tfor i := 0; i < len(numbers); i++ {\n\t\tfor j := i + 1; j < len(numbers); j++ {\n"
           "\t\t\td := numbers[i] - numbers[j]\n\t\t\tif d < 0 {\n\t\t\t\td = -d\n\t\t\t}\n"
           "\t\t\tif d < threshold {\n\t\t\t\treturn true\n\t\t\t}\n\t\t}\n\t}\n\treturn false\n}\n")
HUMANEVAL_0 = {   # has_close_elements, written here, in the languages Multi-HumanEval has no solutions for
    "go": GO_BODY,
    "java": "\n        for (int i = 0; i < numbers.size(); i++)\n            for (int j = i + 1; j < numbers.size(); j++)\n"
            "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n"
            "        return false;\n    }\n\n    public static void main(String[] args) {\n",
    "perl": "\n  for my $i (0..$#$numbers) {\n    for my $j ($i+1..$#$numbers) {\n"
            "      return 1 if abs($numbers->[$i] - $numbers->[$j]) < $threshold;\n    }\n  }\n  return 0;\n}\n",
    "typescript": "\n  for (let i = 0; i < numbers.length; i++)\n    for (let j = i + 1; j < numbers.length; j++)\n"
                  "      if (Math.abs(numbers[i] - numbers[j]) < threshold) return true;\n  return false;\n}\n```\n",
}


@pytest.mark.data
@pytest.mark.slow
def test_multi_humaneval_programs_judge_a_right_and_a_wrong_body(shared_data, executor):
    from evals.benchmarks import load_benchmark, parallel_set
    langs = list(HUMANEVAL_0)
    problems = load_benchmark("multi-humaneval", shared_data / "multilingual_humaneval", langs=langs)
    task = bench_tasks(parallel_set(problems, langs), "multi-humaneval")[0]
    assert task.id == "multi-humaneval/0"
    wrong = {la: b.replace("true", "false").replace("return 1", "return 0") for la, b in HUMANEVAL_0.items()}
    results = executor.map([Program(la, task.program(la, b)) for la, b in [*HUMANEVAL_0.items(), *wrong.items()]])
    right, bad = results[:len(langs)], results[len(langs):]
    assert [r.status.value for r in right] == ["passed"] * len(langs), [r.detail for r in right]
    assert [r.status.value for r in bad] == ["failed"] * len(langs)
