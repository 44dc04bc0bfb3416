"""Benchmark loaders: MBXP and Multi-HumanEval on the real shared data, HumanEval-X and MultiPL-E on small
fixtures written here, malformed-input reporting, alignment across languages, and program assembly
checked by running the assembled programs (a right and a wrong completion each)."""
from __future__ import annotations

import gzip
import json
import sys
import types
from pathlib import Path

import pytest

from evals.benchmarks import (
    BenchmarkError,
    BenchmarkFormatError,
    Problem,
    humaneval_x,
    load_benchmark,
    multipl_e,
    mxeval,
    parallel_set,
)
from evals.benchmarks.problem import seal

from .conftest import SHARED_DATA, needs_shared_data

# ---------------------------------------------------------------- fixtures: problem 0 (has_close_elements)
# Small, realistic HumanEval-X and MultiPL-E records (neither benchmark is in ../shared/data).

_PY_PROMPT = ('from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n'
              '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
              '    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n'
              '    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    """\n')
_PY_SOLUTION = ("    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n"
                "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
                "                if distance < threshold:\n                    return True\n\n    return False\n")

HUMANEVAL_X = {
    "python": [{
        "task_id": "Python/0", "prompt": _PY_PROMPT, "canonical_solution": _PY_SOLUTION,
        "declaration": "from typing import List\n\n\ndef has_close_elements(numbers: List[float], threshold: float)"
                       " -> bool:\n",
        "test": "\n\nMETADATA = {\n    'author': 'jt',\n    'dataset': 'test'\n}\n\n\ndef check(has_close_elements):\n"
                "    assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
                "    assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n"
                "    assert has_close_elements([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n\n"
                "check(has_close_elements)\n",
        "example_test": "def check(has_close_elements):\n"
                        "    assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False\ncheck(has_close_elements)\n",
    }, {
        "task_id": "Python/2", "prompt": '\n\ndef truncate_number(number: float) -> float:\n    """ Return the '
        'decimal part of the number.\n    >>> truncate_number(3.5)\n    0.5\n    """\n',
        "canonical_solution": "    return number % 1.0\n",
        "declaration": "\n\ndef truncate_number(number: float) -> float:\n",
        "test": "\n\ndef check(truncate_number):\n    assert truncate_number(3.5) == 0.5\n"
                "    assert abs(truncate_number(1.33) - 0.33) < 1e-6\n\ncheck(truncate_number)\n",
        "example_test": "",
    }],
    "cpp": [{
        "task_id": "CPP/0",
        "prompt": "/*\nCheck if in given vector of numbers, are any two numbers closer to each other than\n"
                  "given threshold.\n>>> has_close_elements({1.0, 2.0, 3.0}, 0.5)\nfalse\n*/\n#include<stdio.h>\n"
                  "#include<vector>\n#include<math.h>\nusing namespace std;\n"
                  "bool has_close_elements(vector<float> numbers, float threshold){\n",
        "canonical_solution": "    int i,j;\n    \n    for (i=0;i<numbers.size();i++)\n"
                              "    for (j=i+1;j<numbers.size();j++)\n    if (abs(numbers[i]-numbers[j])<threshold)\n"
                              "    return true;\n\n    return false;\n}\n\n",
        "declaration": "#include<stdio.h>\n#include<vector>\n#include<math.h>\nusing namespace std;\n"
                       "#include<algorithm>\n#include<stdlib.h>\nbool has_close_elements(vector<float> numbers, "
                       "float threshold){\n",
        "test": "#undef NDEBUG\n#include<assert.h>\nint main(){\n    vector<float> a={1.0,2.0,3.9,4.0,5.0,2.2};\n"
                "    assert (has_close_elements(a, 0.3)==true);\n    assert (has_close_elements(a, 0.05) == false);\n"
                "    assert (has_close_elements({1.0, 2.0, 5.9, 4.0, 5.0}, 0.95) == true);\n}\n",
        "example_test": "",
    }],
    "java": [{
        "task_id": "Java/0",
        "prompt": "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    /**\n"
                  "    Check if in given list of numbers, are any two numbers closer to each other than given "
                  "threshold.\n    >>> hasCloseElements(Arrays.asList(1.0, 2.0, 3.0), 0.5)\n    false\n     */\n"
                  "    public boolean hasCloseElements(List<Double> numbers, double threshold) {\n",
        "canonical_solution": "        for (int i = 0; i < numbers.size(); i++) {\n"
                              "            for (int j = i + 1; j < numbers.size(); j++) {\n"
                              "                double distance = Math.abs(numbers.get(i) - numbers.get(j));\n"
                              "                if (distance < threshold) return true;\n            }\n        }\n"
                              "        return false;\n    }\n}",
        "declaration": "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
                       "    public boolean hasCloseElements(List<Double> numbers, double threshold) {\n",
        "test": "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
                "        List<Boolean> correct = Arrays.asList(\n"
                "                s.hasCloseElements(new ArrayList<>(Arrays.asList(1.0, 2.0, 3.9, 4.0, 5.0, 2.2)), 0.3),\n"
                "                !s.hasCloseElements(new ArrayList<>(Arrays.asList(1.0, 2.0, 3.9, 4.0, 5.0, 2.2)), 0.05)\n"
                "        );\n        if (correct.contains(false)) {\n            throw new AssertionError();\n"
                "        }\n    }\n}",
        "example_test": "",
    }],
    "js": [{
        "task_id": "JavaScript/0",
        "prompt": "/* Check if in given list of numbers, are any two numbers closer to each other than\n"
                  "  given threshold.\n  >>> hasCloseElements([1.0, 2.0, 3.0], 0.5)\n  false\n  */\n"
                  "const hasCloseElements = (numbers, threshold) => {\n",
        "canonical_solution": "  for (let i = 0; i < numbers.length; i++) {\n"
                              "    for (let j = 0; j < numbers.length; j++) {\n      if (i != j) {\n"
                              "        let distance = Math.abs(numbers[i] - numbers[j]);\n"
                              "        if (distance < threshold) {\n          return true;\n        }\n      }\n"
                              "    }\n  }\n  return false;\n}\n\n",
        "declaration": "\nconst hasCloseElements = (numbers, threshold) => {\n",
        "test": "const testHasCloseElements = () => {\n"
                "  console.assert(hasCloseElements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) === true)\n"
                "  console.assert(\n    hasCloseElements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) === false\n  )\n"
                "}\n\ntestHasCloseElements()\n",
        "example_test": "",
    }],
    "go": [{
        "task_id": "Go/0",
        "prompt": "import (\n    \"math\"\n)\n\n// Check if in given list of numbers, are any two numbers closer to each "
                  "other than given threshold.\n// >>> HasCloseElements([]float64{1.0, 2.0, 3.0}, 0.5)\n// false\n"
                  "func HasCloseElements(numbers []float64, threshold float64) bool {\n",
        "import": "import (\n    \"math\"\n)\n",
        "test_setup": "package main\n\nimport (\n    \"testing\"\n    \"github.com/stretchr/testify/assert\"\n)\n",
        "canonical_solution": "    for i := 0; i < len(numbers); i++ {\n        for j := i + 1; j < len(numbers); j++ {\n"
                              "            var distance float64 = math.Abs(numbers[i] - numbers[j])\n"
                              "            if distance < threshold {\n                return true\n            }\n"
                              "        }\n    }\n    return false\n}\n\n",
        "declaration": "\nfunc HasCloseElements(numbers []float64, threshold float64) bool {\n",
        "test": "func TestHasCloseElements(t *testing.T) {\n    assert := assert.New(t)\n"
                "    assert.Equal(true, HasCloseElements([]float64{11.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.3))\n"
                "    assert.Equal(false, HasCloseElements([]float64{1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.05))\n}\n",
        "example_test": "",
    }],
    "rust": [{
        "task_id": "Rust/0",
        "prompt": "fn main(){}\n\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, HashMap}, "
                  "ops::Index, ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\n"
                  "use std::any::{Any, TypeId};\n\n/*\n Check if in given list of numbers, are any two numbers closer "
                  "to each other than\n  given threshold.\n*/\nfn has_close_elements(numbers:Vec<f32>, threshold: f32)"
                  " -> bool{\n",
        "canonical_solution": "\n    for i in 0..numbers.len(){\n        for j in 1..numbers.len(){\n"
                              "            if i != j {\n                let distance:f32 = numbers[i] - numbers[j];\n"
                              "                if distance.abs() < threshold{\n                    return true;\n"
                              "                }\n            }\n        }\n    }\n    return false;\n}\n",
        "declaration": "\nfn main(){} \n\nuse std::{slice::Iter, cmp::{max, self}, mem::replace, collections::{HashSet, "
                       "HashMap}, ops::Index, ascii::AsciiExt};\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\n"
                       "use std::any::{Any, TypeId};\n\nfn has_close_elements(numbers:Vec<f32>, threshold: f32) -> bool{\n",
        "test": "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_has_close_elements() {\n"
                "        assert_eq!(has_close_elements(vec![11.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3), true);\n"
                "        assert_eq!(has_close_elements(vec![1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05), false);\n"
                "    }\n\n}\n",
        "example_test": "",
    }],
}

# A completion that is wrong in every language (always "no close elements").
HUMANEVAL_X_WRONG = {"python": "    return False\n", "cpp": "    return false;\n}\n", "java": "        return false;\n    }\n}",
                     "js": "  return false;\n}\n", "go": "    return false\n}\n", "rust": "    return false;\n}\n"}

MULTIPL_E = [
    {"name": "HumanEval_0_has_close_elements", "language": "py",
     "prompt": _PY_PROMPT.replace("from typing import List\n\n\n", "from typing import List\n\n"),
     "tests": "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
              "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n\n"
              "def test_check():\n    check(has_close_elements)\n\ntest_check()\n",
     "stop_tokens": ["\ndef", "\n#", "\nif", "\nclass"]},
    {"name": "HumanEval_0_has_close_elements", "language": "js",
     "prompt": "//Check if in given array of numbers, are any two numbers closer to each other than\n"
               "// given threshold.\nfunction has_close_elements(numbers, threshold){\n",
     "tests": "const assert = require('node:assert');\n\n\nfunction test() {\n  let candidate = has_close_elements;\n"
              "  assert.deepEqual(candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3),true);\n"
              "  assert.deepEqual(candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05),false);\n}\n\ntest();",
     "stop_tokens": ["\nfunction ", "\n/*", "\n//", "\nconsole.log"]},
    {"name": "HumanEval_0_has_close_elements", "language": "rb",
     "prompt": "# Check if in given array of numbers, are any two numbers closer to each other than\n"
               "# given threshold.\ndef has_close_elements(numbers, threshold)\n",
     "tests": "require 'test/unit'\nclass TestHumanEval < Test::Unit::TestCase\n  def test_has_close_elements\n"
              "    candidate = method(:has_close_elements)\n"
              "    assert_equal(true, candidate.call([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3))\n"
              "    assert_equal(false, candidate.call([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05))\n  end\nend\n",
     "stop_tokens": ["\nclass", "\ndef", "\n#", "\n\n"]},
    {"name": "HumanEval_0_has_close_elements", "language": "lua",
     "prompt": "-- Check if in given table of numbers, are any two numbers closer to each other than\n"
               "-- given threshold.\nlocal function has_close_elements(numbers, threshold)\n",
     "tests": "lu = require('luaunit')\n\nfunction test_humaneval()\nlocal candidate = has_close_elements\n"
              "    lu.assertEquals(candidate({1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.3), true)\n"
              "    lu.assertEquals(candidate({1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.05), false)\nend\n\n"
              "os.exit(lu.LuaUnit.run())",
     "stop_tokens": ["\nlocal", "\nfunction", "\n--", "\n\n"]},
    {"name": "HumanEval_0_has_close_elements", "language": "java",
     "prompt": "import java.util.*;\nimport java.lang.reflect.*;\nimport org.javatuples.*;\nimport java.security.*;\n"
               "import java.math.*;\nimport java.io.*;\nimport java.util.stream.*;\nclass Problem {\n"
               "    // Check if in given array list of numbers, are any two numbers closer to each other than\n"
               "    // given threshold.\n"
               "    public static boolean hasCloseElements(ArrayList<Float> numbers, float threshold) {\n",
     "tests": "    }\n    public static void main(String[] args) {\n"
              "    assert(hasCloseElements((new ArrayList<Float>(Arrays.asList((float)1.0f, (float)2.0f, (float)3.9f, "
              "(float)4.0f, (float)5.0f, (float)2.2f))), (0.3f)) == (true));\n"
              "    assert(hasCloseElements((new ArrayList<Float>(Arrays.asList((float)1.0f, (float)2.0f, (float)3.9f, "
              "(float)4.0f, (float)5.0f, (float)2.2f))), (0.05f)) == (false));\n    }\n\n}\n",
     "stop_tokens": ["\n    }\n"]},
    {"name": "HumanEval_0_has_close_elements", "language": "go_test.go",
     "prompt": "package has_close_elements_test\n\nimport (\n    \"testing\"\n    \"fmt\"\n)\n\n"
               "// Check if in given list of numbers, are any two numbers closer to each other than\n"
               "// given threshold.\nfunc has_close_elements(numbers []float64, threshold float64) bool {\n",
     "tests": "func TestHas_Close_Elements(t *testing.T) {\n  candidate := has_close_elements\n"
              "\ttype test struct {\n\t\tactual   interface{}\n\t\texpected interface{}\n\t}\n   tests := []test{\n"
              "     { actual: candidate([]float64{1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.3), expected: true },\n"
              "     { actual: candidate([]float64{1.0, 2.0, 3.9, 4.0, 5.0, 2.2}, 0.05), expected: false },\n   }\n\n"
              "\tfor i, tc := range tests {\n\t\tt.Run(fmt.Sprintf(\"test num % d\", i), func(t *testing.T) {\n"
              "\t\t\tif fmt.Sprintf(\"%v\", tc.actual) != fmt.Sprintf(\"%v\", tc.expected) {\n"
              "\t\t\t\tt.Errorf(\"expected '%s', got '%s'\", tc.expected, tc.actual)\n\t\t\t}\n\t\t})\n\t}\n}\n",
     "stop_tokens": ["\nfunc", "struct", "\n// "]},
    {"name": "HumanEval_0_has_close_elements", "language": "swift",
     "prompt": "/// Check if two numbers are closer than threshold.\n"
               "func has_close_elements(numbers: [Double], threshold: Double) -> Bool {\n",
     "tests": "}\n\nassert(has_close_elements(numbers: [1.0, 2.0, 3.9, 4.0, 5.0, 2.2], threshold: 0.3) == true)\n",
     "stop_tokens": ["\n}"]},
    {"name": "HumanEval_2_truncate_number", "language": "py",
     "prompt": "def truncate_number(number: float) -> float:\n    \"\"\" Return the decimal part of the number.\n"
               "    >>> truncate_number(3.5)\n    0.5\n    \"\"\"\n",
     "tests": "def check(candidate):\n    assert candidate(3.5) == 0.5\n\ndef test_check():\n"
              "    check(truncate_number)\n\ntest_check()\n",
     "stop_tokens": ["\ndef", "\n#", "\nif", "\nclass"]},
]

# Correct completions for MULTIPL_E (by language code), and one that is wrong everywhere.
MULTIPL_E_RIGHT = {
    "py": _PY_SOLUTION,
    "js": "  for (let i = 0; i < numbers.length; i++)\n    for (let j = i + 1; j < numbers.length; j++)\n"
          "      if (Math.abs(numbers[i] - numbers[j]) < threshold) return true;\n  return false;\n}\n",
    "rb": "  numbers.combination(2).any? { |a, b| (a - b).abs < threshold }\nend\n",
    "lua": "  for i = 1, #numbers do\n    for j = i + 1, #numbers do\n"
           "      if math.abs(numbers[i] - numbers[j]) < threshold then return true end\n    end\n  end\n"
           "  return false\nend\n",
    "java": "        for (int i = 0; i < numbers.size(); i++)\n            for (int j = i + 1; j < numbers.size(); j++)\n"
            "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n"
            "        return false;\n",
    "go_test.go": "    for i := range numbers {\n        for j := i + 1; j < len(numbers); j++ {\n"
                  "            d := numbers[i] - numbers[j]\n            if d < 0 {\n                d = -d\n            }\n"
                  "            if d < threshold {\n                return true\n            }\n        }\n    }\n"
                  "    return false\n}\n",
}
MULTIPL_E_WRONG = {"py": "    return False\n", "js": "  return false;\n}\n", "rb": "  false\nend\n",
                   "lua": "  return false\nend\n", "java": "        return false;\n", "go_test.go": "    return false\n}\n"}


def write_humaneval_x(folder: Path) -> Path:
    """humaneval_<lang>.jsonl.gz files, laid out as in the CodeGeeX repository (<lang>/data/...)."""
    for lang, rows in HUMANEVAL_X.items():
        path = folder / lang / "data" / f"humaneval_{lang}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    return folder


def write_multipl_e(folder: Path) -> Path:
    """One JSONL file per language code (as the hub dataset's configs)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_code: dict[str, list[dict]] = {}
    for row in MULTIPL_E:
        by_code.setdefault(row["language"], []).append(row)
    for code, rows in by_code.items():
        name = code.split("_")[0].split(".")[0]
        (folder / f"humaneval-{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


# ---------------------------------------------------------------- MBXP / Multi-HumanEval (shared data)

MBXP_FILES = {"python": "mbpp_release_v1.jsonl", "javascript": "mbjsp_release_v1.2.jsonl",
              "ruby": "mbrbp_release_v1.2.jsonl", "perl": "mbplp_release_v1.jsonl", "cpp": "mbcpp_release_v1.2.jsonl"}


def _raw(name: str) -> list[dict]:
    with open(SHARED_DATA / "mbxp" / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.data
@needs_shared_data
def test_mbxp_folder_loads_every_line_of_every_language_file():
    problems = load_benchmark("mbxp", SHARED_DATA / "mbxp")
    for lang, name in MBXP_FILES.items():
        raw = _raw(name)
        mine = [p for p in problems if p.lang == lang]
        assert [p.id for p in mine] == [r["task_id"] for r in raw]
        assert sum(p.has_solution for p in mine) == sum(bool(r["canonical_solution"]) for r in raw)
    assert {p.lang for p in problems} == {"python", "javascript", "typescript", "ruby", "php", "cpp", "java", "perl"}
    assert not any(p.unavailable for p in problems)


@pytest.mark.data
@needs_shared_data
def test_mbxp_python_program_is_prompt_solution_test_and_check_call():
    (p,) = [p for p in load_benchmark("mbxp", SHARED_DATA / "mbxp", ["python"]) if p.id == "MBPP/2"]
    assert (p.number, p.lang, p.benchmark, p.entry_point) == (2, "python", "mbxp", "similar_elements")
    assert p.description and p.has_solution
    program = p.program()
    assert program == seal("python", p.prompt + p.solution, p.tests + f"\ncheck({p.entry_point})\n")
    import subprocess
    ok = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60, check=False)
    bad = subprocess.run([sys.executable, "-c", p.program("  return ()\n")], capture_output=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode != 0 and b"AssertionError" in bad.stderr


@pytest.mark.data
@needs_shared_data
def test_perl_has_no_reference_solutions_and_program_needs_a_completion():
    perl = load_benchmark("mbxp", SHARED_DATA / "mbxp", "pl")
    assert perl and all(p.lang == "perl" and not p.has_solution for p in perl)
    with pytest.raises(ValueError, match="no reference solution"):
        perl[0].program()
    assert "die" in perl[0].program("  return 0;\n}\n")


@pytest.mark.data
@needs_shared_data
def test_langs_filter_takes_aliases_and_a_single_file_loads_too():
    folder = load_benchmark("mbxp", SHARED_DATA / "mbxp", "py,rb")
    assert {p.lang for p in folder} == {"python", "ruby"}
    single = load_benchmark("mbxp", SHARED_DATA / "mbxp" / MBXP_FILES["ruby"])
    assert [p.id for p in single] == [p.id for p in folder if p.lang == "ruby"]


@pytest.mark.data
@needs_shared_data
def test_asking_for_a_language_the_data_lacks_is_an_error():
    with pytest.raises(BenchmarkError, match="klingon"):
        load_benchmark("mbxp", SHARED_DATA / "mbxp", ["klingon"])
    with pytest.raises(BenchmarkError, match="rust"):
        load_benchmark("mbxp", SHARED_DATA / "mbxp", ["rust"])


@pytest.mark.data
@needs_shared_data
def test_multi_humaneval_loads_languages_without_runner_flagged_unavailable():
    problems = load_benchmark("multi-humaneval", SHARED_DATA / "multilingual_humaneval")
    langs = {p.lang for p in problems}
    assert {"python", "go", "kotlin", "scala", "swift", "csharp"} <= langs
    for p in problems:
        assert p.benchmark == "multi-humaneval"
        assert bool(p.unavailable) == (p.lang in {"kotlin", "scala", "swift", "csharp"}), p.id
    py = [p for p in problems if p.lang == "python"]
    assert len(py) == 164 and all(p.has_solution for p in py)
    assert {p.number for p in py} == set(range(164))
    assert not any(p.has_solution for p in problems if p.lang != "python")


@pytest.mark.data
@needs_shared_data
def test_parallel_set_keeps_numbers_solved_in_every_language():
    langs = ["python", "javascript", "ruby"]
    aligned = parallel_set(load_benchmark("mbxp", SHARED_DATA / "mbxp", langs), langs, require_solution=True)
    # The same set computed straight from the raw files.
    solved = [{int(r["task_id"].split("/")[1]) for r in _raw(MBXP_FILES[lang]) if r["canonical_solution"]}
              for lang in langs]
    expected = sorted(set.intersection(*solved))
    assert list(aligned) == expected and 700 < len(expected) < 938
    for number, row in aligned.items():
        assert sorted(row) == sorted(langs)
        assert all(p.number == number and p.has_solution for p in row.values())
    loose = parallel_set(load_benchmark("mbxp", SHARED_DATA / "mbxp", langs), langs)
    assert len(loose) > len(aligned)


def test_parallel_set_refuses_two_problems_with_one_number_and_language():
    p = Problem("A/1", 1, "python", "", "", "f", "pass", "x")
    q = Problem("B/1", 1, "python", "", "", "f", "pass", "y")
    with pytest.raises(ValueError, match="number 1"):
        parallel_set([p, q], ["python"])
    assert parallel_set([p], ["python", "ruby"]) == {}


# ---------------------------------------------------------------- malformed input

def test_malformed_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "mbpp_broken.jsonl"
    good = {"task_id": "MBPP/1", "prompt": "def f():\n", "entry_point": "f", "test": "\ndef check(c): pass\n",
            "description": "", "language": "python", "canonical_solution": "    return 1\n"}
    path.write_text(json.dumps(good) + "\n\n" + '{"task_id": "MBPP/2", "prompt": \n' + json.dumps(good) + "\n")
    with pytest.raises(BenchmarkFormatError) as err:
        load_benchmark("mbxp", path)
    assert f"{path}:3:" in str(err.value) and "malformed JSON" in str(err.value)


def test_missing_field_and_non_object_lines_are_reported(tmp_path):
    path = tmp_path / "humaneval_python.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"task_id": "Python/0", "prompt": "def f():\n", "canonical_solution": "  return 1\n"}) + "\n")
    with pytest.raises(BenchmarkFormatError, match=r"humaneval_python\.jsonl\.gz:1: missing field 'test'"):
        load_benchmark("humaneval-x", path)
    listing = tmp_path / "list.jsonl"
    listing.write_text("[1, 2]\n")
    with pytest.raises(BenchmarkFormatError, match=r"list\.jsonl:1: expected a JSON object"):
        load_benchmark("multipl-e", listing)


def test_missing_path_and_unknown_benchmark_are_errors(tmp_path):
    with pytest.raises(BenchmarkError, match="no such file"):
        load_benchmark("mbxp", tmp_path / "nowhere" / "mbxp")
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("humaneval-z", tmp_path)
    with pytest.raises(BenchmarkError, match="no mbxp problems"):
        load_benchmark("mbxp", tmp_path)  # an empty folder


# ---------------------------------------------------------------- HumanEval-X (fixtures)

def test_humaneval_x_loads_gzipped_files_from_a_codegeex_layout(tmp_path):
    problems = load_benchmark("humaneval-x", write_humaneval_x(tmp_path))
    by_id = {p.id: p for p in problems}
    assert set(by_id) == {"Python/0", "Python/2", "CPP/0", "Java/0", "JavaScript/0", "Go/0", "Rust/0"}
    assert {p.lang for p in problems} == {"python", "cpp", "java", "javascript", "go", "rust"}
    assert {p.id: p.entry_point for p in problems} == {
        "Python/0": "has_close_elements", "Python/2": "truncate_number", "CPP/0": "has_close_elements",
        "Java/0": "hasCloseElements", "JavaScript/0": "hasCloseElements", "Go/0": "HasCloseElements",
        "Rust/0": "has_close_elements"}
    assert by_id["Python/2"].number == 2 and all(p.has_solution for p in problems)
    assert "testify" in by_id["Go/0"].get("test_setup")
    js = load_benchmark("humaneval-x", tmp_path, ["js"])
    assert [p.id for p in js] == ["JavaScript/0"]


def test_humaneval_x_programs_need_no_test_runner():
    """Go and Rust tests written for `go test` / `cargo test` become programs with a main (Go's on a
    testing.T stand-in: testing.Main always ends in os.Exit); a JS console.assert (which only logs) throws."""
    probs = {r["task_id"].split("/")[0]: humaneval_x.from_record(_record(r))
             for rows in HUMANEVAL_X.values() for r in rows}
    go = probs["Go"].program()
    assert go.startswith("package main") and "psftRunTest(" in go and "github.com/stretchr" not in go.split(")")[0]
    assert "testing.Main(" not in go and '"testing"' not in go
    assert '"math"' in go  # used by the solution, so imported
    assert '"math"' not in probs["Go"].program("    return false\n}\n")  # unused imports break Go builds
    rust = probs["Rust"].program()
    assert "tests::test_has_close_elements();" in rust and "use rand::Rng;" not in rust
    assert "console.assert(" not in probs["JavaScript"].program()


def _record(row: dict):
    from evals.benchmarks.source import Record
    return Record(row, "fixture:1")


def _run_all(executor, cases):
    """[(problem, completion or None, should_pass)] -> failures as strings (skips unavailable runtimes)."""
    from evals.execution import Program, Status
    results = executor.map([Program(p.lang, p.program(c), id=p.id, proof=p.proof) for p, c, _ in cases])
    bad = []
    for (p, c, should_pass), r in zip(cases, results):
        if r.status is Status.UNAVAILABLE:
            continue
        if r.passed != should_pass:
            bad.append(f"{p.id} {p.lang} {'reference' if c is None else 'completion'}: {r.status} {r.detail}\n"
                       f"{r.stderr[-800:]}")
    return bad, results


FAST = ["python", "js"]
SLOW = ["cpp", "java", "go", "rust"]


@pytest.mark.parametrize("code", FAST + [pytest.param(c, marks=pytest.mark.slow) for c in SLOW])
def test_humaneval_x_reference_passes_and_wrong_completion_fails(tmp_path, executor, code):
    problems = load_benchmark("humaneval-x", write_humaneval_x(tmp_path), [code])
    zero = [p for p in problems if p.number == 0]
    cases = [(p, None, True) for p in problems] + [(p, HUMANEVAL_X_WRONG[code], False) for p in zero]
    bad, results = _run_all(executor, cases)
    assert not bad, "\n".join(bad)
    if all(r.status.value == "unavailable" for r in results):
        pytest.skip(f"{code} runtime unavailable here: {results[0].detail}")


def test_hub_id_goes_through_datasets_only_when_the_path_does_not_exist(tmp_path, monkeypatch):
    calls = []
    rows = {"THUDM/humaneval-x": HUMANEVAL_X["js"], "nuprl/MultiPL-E": MULTIPL_E[1:2]}

    def load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return rows[name]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    problems = load_benchmark("humaneval-x", "THUDM/humaneval-x", ["javascript"])
    assert calls == [("THUDM/humaneval-x", "js", "test")]
    assert [p.id for p in problems] == ["JavaScript/0"]
    calls.clear()
    load_benchmark("multipl-e", "nuprl/MultiPL-E", ["js"])
    assert calls == [("nuprl/MultiPL-E", "humaneval-js", "test")]
    monkeypatch.chdir(tmp_path)   # an existing folder of that name wins over the hub
    write_humaneval_x(tmp_path / "THUDM" / "humaneval-x")
    calls.clear()
    assert len(load_benchmark("humaneval-x", "THUDM/humaneval-x")) == 7 and calls == []


def test_benchmark_modules_import_neither_datasets_nor_torch():
    import subprocess
    code = ("import sys, evals, evals.benchmarks, evals.benchmarks.check, evals.scoring\n"
            "from evals.benchmarks import mxeval, humaneval_x, multipl_e\n"
            "from app.commands import check_bench\n"
            "bad = [m for m in ('datasets', 'torch', 'numpy', 'evals.execution.executor') if m in sys.modules]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- MultiPL-E (fixtures)

def test_multipl_e_loads_records_without_solutions(tmp_path):
    problems = load_benchmark("multipl-e", write_multipl_e(tmp_path))
    assert {p.lang for p in problems} == {"python", "javascript", "ruby", "lua", "java", "go", "swift"}
    assert not any(p.has_solution for p in problems)
    swift = [p for p in problems if p.lang == "swift"]
    assert swift and "swift" in swift[0].unavailable
    py = sorted((p for p in problems if p.lang == "python"), key=lambda p: p.number)
    assert [(p.number, p.entry_point) for p in py] == [(0, "has_close_elements"), (2, "truncate_number")]
    assert py[0].stop_tokens == ("\ndef", "\n#", "\nif", "\nclass")
    assert py[0].program("X") == seal("python", py[0].prompt + "X", "\n" + py[0].tests)  # sealed where the completion ends
    aligned = parallel_set(problems, ["py", "js", "rb"])
    assert list(aligned) == [0]


def test_multipl_e_json_array_file_loads_like_jsonl(tmp_path):
    (tmp_path / "humaneval-py.json").write_text(json.dumps([r for r in MULTIPL_E if r["language"] == "py"]))
    assert [p.id for p in load_benchmark("multipl-e", tmp_path / "humaneval-py.json")] == [
        "HumanEval_0_has_close_elements", "HumanEval_2_truncate_number"]


ME_FAST = ["py", "js", "rb", "lua"]
ME_SLOW = ["java", "go_test.go"]


@pytest.mark.parametrize("code", ME_FAST + [pytest.param(c, marks=pytest.mark.slow) for c in ME_SLOW])
def test_multipl_e_right_completion_passes_and_wrong_fails(tmp_path, executor, code):
    problems = [multipl_e.from_record(_record(r)) for r in MULTIPL_E
                if r["language"] == code and r["name"].startswith("HumanEval_0_")]
    (p,) = problems
    bad, _ = _run_all(executor, [(p, MULTIPL_E_RIGHT[code], True), (p, MULTIPL_E_WRONG[code], False)])
    assert not bad, "\n".join(bad)


def test_mxeval_record_without_language_uses_the_task_prefix():
    p = mxeval.from_record(_record({"task_id": "MBRBP/7", "prompt": "def f\n", "entry_point": "f",
                                    "test": "\nraise 'x' unless f == 1\n", "canonical_solution": "  1\nend\n"}))
    assert (p.lang, p.number, p.description) == ("ruby", 7, "")
    assert p.program() == seal("ruby", "def f\n  1\nend\n", "\nraise 'x' unless f == 1\n")
