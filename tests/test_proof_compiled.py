"""The completion proof of the compiled languages (C++, Java, Go, Rust): a sealed program passes only when
its tests ran to their end. Each attack below passes by exit status alone (run unsealed), and fails sealed:
early exits (in the solution, in a static initializer, in Go's `init`), exit hooks (`atexit`, terminate
handlers, shutdown hooks) and reads of the proof file from code that runs before `main`. After an attack,
the same worker still fails a wrong program and passes a right one. C++, Java and Go run through the
sandboxed executor; Rust (no compiler the sandbox can see) runs with rustc directly, as the supervisor
would run it."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from evals.benchmarks import load_benchmark
from evals.execution import Executor, Program, Status
from evals.languages import get_language
from evals.languages.base import PROOF_FILE

from .conftest import SHARED_DATA, needs_shared_data

# ---------------------------------------------------------------- programs: add(a, b), two test cases

CPP_CODE = "#include <bits/stdc++.h>\nusing namespace std;\n\nint add(int a, int b) {\n"
CPP_TESTS = ("\nint main(int argc, char* argv[]) {\n"
             "    if (add(2, 3) != 5) throw runtime_error(\"Exception -- test case 0 did not pass.\");\n"
             "    if (add(1, 1) != 2) throw runtime_error(\"Exception -- test case 1 did not pass.\");\n"
             "    return 0;\n}\n")
JAVA_CODE = "import java.util.*;\n\nclass Add {\n    public static int add(int a, int b) {\n"
JAVA_TESTS = ("\n\nclass Main {\n    public static void main(String[] args) throws Exception {\n"
              "        if (Add.add(2, 3) != 5) throw new java.lang.Exception(\"Exception -- test case 0 did not pass.\");\n"
              "        if (Add.add(1, 1) != 2) throw new java.lang.Exception(\"Exception -- test case 1 did not pass.\");\n"
              "    }\n}\n")
GO_CODE = 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nvar _ = fmt.Sprint\nvar _ = os.Args\n\nfunc add(a int, b int) int {\n'
GO_TESTS = ('\nfunc main() {\n\tif add(2, 3) != 5 {\n\t\tpanic("Exception --- test case 0 failed to pass")\n\t}\n'
            '\tif add(1, 1) != 2 {\n\t\tpanic("Exception --- test case 1 failed to pass")\n\t}\n}\n')

PROGRAMS = {"cpp": (CPP_CODE, CPP_TESTS), "java": (JAVA_CODE, JAVA_TESTS), "go": (GO_CODE, GO_TESTS)}
RIGHT = {"cpp": "    return a + b;\n}\n", "java": "        return a + b;\n    }\n}\n", "go": "\treturn a + b\n}\n"}
WRONG = {"cpp": "    return a - b;\n}\n", "java": "        return a - b;\n    }\n}\n", "go": "\treturn a - b\n}\n"}

# (language, what the attack does, completion). Each one exits 0 without its tests having passed.
ATTACKS = [
    ("cpp", "exit_in_solution", "    std::exit(0);\n}\n"),
    ("cpp", "quick_exit_in_solution", "    std::quick_exit(0);\n}\n"),
    ("cpp", "exit_in_static_initializer", "    return a - b;\n}\nstatic int early = (std::exit(0), 0);\n"),
    ("cpp", "exit_in_constructor_attribute",
     "    return a - b;\n}\n__attribute__((constructor)) static void early() { std::exit(0); }\n"),
    ("cpp", "atexit_hook_turns_a_failure_into_exit_0", "    atexit([] { std::_Exit(0); });\n    std::exit(1);\n}\n"),
    ("cpp", "terminate_handler_exits_0_after_a_failed_test",
     "    std::set_terminate([] { std::exit(0); });\n    return a - b;\n}\n"),
    ("cpp", "static_initializer_reads_the_proof_file",
     "    return a - b;\n}\nstatic int leak = [] {\n    std::ifstream f(\".psft_proof\");\n    std::string t;\n"
     "    f >> t;\n    std::cout << \"\\n\" << t << \"\\n\" << std::flush;\n    std::exit(0);\n    return 0;\n}();\n"),
    ("cpp", "own_preinit_entry_reads_the_proof_file",
     "    return a - b;\n}\nstatic void leak(int, char **, char **) {\n    char t[64] = {0};\n"
     "    FILE *f = fopen(\".psft_proof\", \"r\");\n    if (f) { fread(t, 1, 32, f); fclose(f); }\n"
     "    printf(\"\\n%s\\n\", t);\n    fflush(stdout);\n    std::_Exit(0);\n}\n"
     "__attribute__((section(\".preinit_array\"), used)) static void (*leak_entry)(int, char **, char **) = leak;\n"),
    ("java", "system_exit_in_solution", "        System.exit(0);\n        return 0;\n    }\n}\n"),
    ("java", "halt_in_solution", "        Runtime.getRuntime().halt(0);\n        return 0;\n    }\n}\n"),
    ("java", "shutdown_hook_turns_a_failure_into_exit_0",
     "        Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0)));\n"
     "        return a - b;\n    }\n}\n"),
    ("java", "uncaught_exception_handler_exits_0",
     "        Thread.setDefaultUncaughtExceptionHandler((t, e) -> System.exit(0));\n        return a - b;\n    }\n}\n"),
    ("java", "static_initializer_exits",
     "        return a - b;\n    }\n    static { System.exit(0); }\n}\n"),
    ("java", "static_initializer_reads_the_proof_file",
     "        return a - b;\n    }\n    static {\n        try {\n"
     "            System.out.println(\"\\n\" + new String(java.nio.file.Files.readAllBytes("
     "java.nio.file.Paths.get(\".psft_proof\"))));\n        } catch (Exception e) {\n        }\n"
     "        System.exit(0);\n    }\n}\n"),
    ("go", "os_exit_in_solution", "\tos.Exit(0)\n\treturn 0\n}\n"),
    ("go", "os_exit_in_init", "\treturn a - b\n}\n\nfunc init() {\n\tos.Exit(0)\n}\n"),
    ("go", "package_var_initializer_reads_the_proof_file",
     "\treturn a - b\n}\n\nvar leak = func() int {\n\tb, _ := os.ReadFile(\".psft_proof\")\n"
     "\tfmt.Printf(\"\\n%s\\n\", b)\n\tos.Exit(0)\n\treturn 0\n}()\n"),
    ("go", "recovered_panic_then_exit_0",
     "\tdefer func() {\n\t\tif recover() != nil {\n\t\t\tos.Exit(0)\n\t\t}\n\t}()\n\tpanic(\"no answer\")\n}\n"),
    ("go", "calls_the_seals_printer_before_exiting",
     "\tpsftProofEnd()\n\tos.Exit(0)\n\treturn 0\n}\n"),
    ("go", "runs_main_again_from_a_goroutine_then_exits",
     "\tdone := make(chan bool)\n\tgo func() { psftProofEnd(); done <- true }()\n\t<-done\n\tos.Exit(0)\n\treturn 0\n}\n"),
]


def _sealed(lang: str, completion: str) -> str:
    code, tests = PROGRAMS[lang]
    return get_language(lang).seal(code + completion, tests)


@pytest.fixture(scope="module")
def one_worker():
    """An executor with a single worker, so the programs after an attack run where the attack ran."""
    with Executor(workers=1) as ex:
        yield ex


@pytest.mark.parametrize("lang,attack,completion", ATTACKS, ids=[f"{la}-{a}" for la, a, _ in ATTACKS])
def test_an_attack_that_passes_by_exit_status_fails_sealed_and_the_worker_judges_on(one_worker, lang, attack,
                                                                                     completion):
    if lang != "go" or "psftProofEnd" not in completion:  # the seal's own names exist only in a sealed program
        code, tests = PROGRAMS[lang]
        unsealed = one_worker.run(Program(lang, code + completion + tests))
        assert unsealed.passed, f"not an attack on exit status: {unsealed.status} {unsealed.stderr[-400:]}"
    sealed = one_worker.run(Program(lang, _sealed(lang, completion), proof=True))
    assert not sealed.passed and sealed.status is not Status.SANDBOX_ERROR, (sealed.status, sealed.detail)
    wrong, right = one_worker.map([Program(lang, _sealed(lang, WRONG[lang]), proof=True),
                                   Program(lang, _sealed(lang, RIGHT[lang]), proof=True)])
    assert wrong.status is Status.FAILED or wrong.status is Status.RUNTIME_ERROR, (wrong.status, wrong.detail)
    assert right.passed, (right.status, right.detail, right.stderr[-600:])


@pytest.mark.parametrize("lang", sorted(PROGRAMS))
def test_a_sealed_program_runs_as_before_when_no_proof_is_asked(one_worker, lang):
    right, wrong = one_worker.map([Program(lang, _sealed(lang, RIGHT[lang])),
                                   Program(lang, _sealed(lang, WRONG[lang]))])
    assert right.passed and right.stdout.strip() == "", (right.status, right.stdout)
    assert not wrong.passed


@pytest.mark.parametrize("lang", sorted(PROGRAMS))
def test_the_proof_token_is_not_left_in_the_judged_stdout_and_program_output_is_kept(one_worker, lang):
    printing = {"cpp": '    std::cout << "sum" << std::endl;\n    printf("printf line\\n");\n    return a + b;\n}\n',
                "java": '        System.out.println("sum");\n        System.out.print("printf line\\n");\n'
                        "        return a + b;\n    }\n}\n",
                "go": '\tfmt.Println("sum")\n\tfmt.Print("printf line\\n")\n\treturn a + b\n}\n'}[lang]
    r = one_worker.run(Program(lang, _sealed(lang, printing), proof=True))
    assert r.passed, (r.status, r.detail, r.stderr[-400:])
    lines = [ln for ln in r.stdout.splitlines() if ln]
    assert lines[:2] == ["sum", "printf line"] and len(lines) == 4, r.stdout


def test_tests_that_end_by_falling_off_main_or_returning_nonzero_are_judged_as_before(one_worker):
    no_return = "\nint main() {\n    assert(add(2, 3) == 5);\n}\n"
    returns_1 = "\nint main() {\n    if (add(2, 3) != 5) return 1;\n    return 0;\n}\n"
    seal = get_language("cpp").seal
    progs = [Program("cpp", seal(CPP_CODE + "#include <cassert>\n" + RIGHT["cpp"], no_return), proof=True),
             Program("cpp", seal(CPP_CODE + RIGHT["cpp"], returns_1), proof=True),
             Program("cpp", seal(CPP_CODE + WRONG["cpp"], returns_1), proof=True)]
    falls_off, right, wrong = one_worker.map(progs)
    assert falls_off.passed and right.passed, (falls_off.detail, right.detail)
    assert not wrong.passed and wrong.exit_code == 1


def test_a_cpp_completion_that_calls_main_again_passes_only_by_passing_the_tests(one_worker):
    # The nested main runs the whole tests; a wrong answer there fails, however the outer call ends.
    def again(answer: str) -> str:
        return ("    int again(int, int);\n    return again(a, b);\n}\nint main(int, char **);\n"
                "int again(int a, int b) {\n    static int depth = 0;\n"
                f"    if (depth++ == 0) {{ main(0, nullptr); std::exit(0); }}\n    return {answer};\n}}\n")
    cheat, honest = again("a - b"), again("a + b")
    cheat_r, honest_r = one_worker.map([Program("cpp", _sealed("cpp", cheat), proof=True),
                                        Program("cpp", _sealed("cpp", honest), proof=True)])
    assert not cheat_r.passed
    assert honest_r.passed, (honest_r.status, honest_r.detail, honest_r.stderr[-400:])


# ---------------------------------------------------------------- Rust, with rustc directly

def _rustc() -> str | None:
    return shutil.which("rustc") or next((str(p) for p in [Path.home() / ".cargo" / "bin" / "rustc"] if p.exists()),
                                         None)


RUST_CODE = "fn add(a: i32, b: i32) -> i32 {\n"
RUST_TESTS = "\nfn main() {\n    assert_eq!(add(2, 3), 5);\n    assert_eq!(add(1, 1), 2);\n}\n"
RUST_ATTACKS = {
    "process_exit_in_solution": "    std::process::exit(0);\n}\n",
    "panic_hook_exits_0": "    std::panic::set_hook(Box::new(|_| std::process::exit(0)));\n    a - b\n}\n",
    "init_array_constructor_exits": ("    a - b\n}\n#[used]\n#[link_section = \".init_array\"]\n"
                                     "static EARLY: extern \"C\" fn() = early;\nextern \"C\" fn early() { std::process::exit(0); }\n"),
    "init_array_constructor_reads_the_proof_file": (
        "    a - b\n}\n#[used]\n#[link_section = \".init_array\"]\nstatic EARLY: extern \"C\" fn() = early;\n"
        "extern \"C\" fn early() {\n    let t = std::fs::read_to_string(\".psft_proof\").unwrap_or_default();\n"
        "    println!(\"\\n{}\", t);\n    std::process::exit(0);\n}\n"),
}


def _run_rust(tmp_path: Path, source: str, name: str, proof: bool = True) -> tuple[int | None, bool]:
    """(exit status, whether the token was printed), with the proof file written after the build as the
    supervisor does (None, False when the build fails)."""
    rustc = _rustc()
    work = tmp_path / name
    work.mkdir()
    (work / "main.rs").write_text(source)
    token = secrets.token_hex(16)
    build = [rustc, *get_language("rust").build[1:-1], "main.rs"]
    b = subprocess.run(build, cwd=work, capture_output=True, text=True, timeout=300, check=False)
    if b.returncode != 0:
        return None, False
    if proof:
        (work / PROOF_FILE).write_text(token)
    r = subprocess.run(["./main"], cwd=work, capture_output=True, text=True, timeout=60, check=False,
                       env={"PATH": os.environ.get("PATH", "")})
    return r.returncode, token in r.stdout


needs_rustc = pytest.mark.skipif(_rustc() is None, reason="no rustc found")


@needs_rustc
def test_rust_sealed_right_program_proves_and_wrong_one_does_not(tmp_path):
    seal = get_language("rust").seal
    assert _run_rust(tmp_path, seal(RUST_CODE + "    a + b\n}\n", RUST_TESTS), "right") == (0, True)
    code, proved = _run_rust(tmp_path, seal(RUST_CODE + "    a - b\n}\n", RUST_TESTS), "wrong")
    assert code != 0 and not proved
    assert _run_rust(tmp_path, seal(RUST_CODE + "    a + b\n}\n", RUST_TESTS), "unasked", proof=False) == (0, False)


@needs_rustc
@pytest.mark.parametrize("attack", sorted(RUST_ATTACKS))
def test_rust_attacks_that_pass_by_exit_status_do_not_prove(tmp_path, attack):
    completion = RUST_ATTACKS[attack]
    assert _run_rust(tmp_path, RUST_CODE + completion + RUST_TESTS, "plain", proof=False)[0] == 0
    assert _run_rust(tmp_path, get_language("rust").seal(RUST_CODE + completion, RUST_TESTS), "sealed")[1] is False


# ---------------------------------------------------------------- benchmark references, sealed

@pytest.mark.data
@needs_shared_data
@pytest.mark.parametrize("lang", ["cpp", "java"])
def test_mbxp_references_pass_sealed_with_a_proof_asked(executor, lang):
    problems = [p for p in load_benchmark("mbxp", SHARED_DATA / "mbxp", [lang]) if p.has_solution][:6]
    assert all(p.proof for p in problems)
    results = executor.map([Program(p.lang, p.program(), id=p.id, proof=p.proof) for p in problems])
    assert [r.status for r in results] == [Status.PASSED] * len(problems), \
        [(p.id, r.status, r.detail) for p, r in zip(problems, results) if not r.passed]


@pytest.mark.data
@needs_shared_data
def test_multi_humaneval_go_program_passes_sealed_only_with_a_right_completion(executor):
    p = next(p for p in load_benchmark("multi-humaneval", SHARED_DATA / "multilingual_humaneval", ["go"])
             if p.entry_point == "intersperse")
    right = ("\tresult := []int{}\n\tfor i, n := range numbers {\n\t\tif i > 0 {\n\t\t\tresult = append(result, delimeter)\n"
             "\t\t}\n\t\tresult = append(result, n)\n\t}\n\treturn result\n}\n")
    wrong = "\treturn numbers\n}\n"
    r_right, r_wrong = executor.map([Program("go", p.program(right), proof=p.proof),
                                     Program("go", p.program(wrong), proof=p.proof)])
    assert r_right.passed, (r_right.status, r_right.detail, r_right.stderr[-600:])
    assert not r_wrong.passed


@needs_rustc
def test_rust_include_str_of_the_proof_file_at_build_time_does_not_prove(tmp_path):
    completion = ("    a - b\n}\n#[used]\n#[link_section = \".init_array\"]\nstatic EARLY: extern \"C\" fn() = early;\n"
                  "extern \"C\" fn early() {\n    println!(\"\\n{}\", include_str!(\".psft_proof\"));\n"
                  "    std::process::exit(0);\n}\n")
    assert _run_rust(tmp_path, get_language("rust").seal(RUST_CODE + completion, RUST_TESTS), "sealed")[1] is False


def test_the_proof_file_is_not_there_while_the_program_is_built(one_worker):
    """A compiler reads what is in the directory: the token is written after the build, before the run."""
    include = ('    return a - b;\n}\nstatic const char *leak =\n#include ".psft_proof"\n;\n'
               "static int early = (printf(\"\\n%s\\n\", leak), fflush(stdout), std::_Exit(0), 0);\n")
    r = one_worker.run(Program("cpp", _sealed("cpp", include), proof=True))
    assert r.status is Status.SYNTAX_ERROR and ".psft_proof" in r.stderr, (r.status, r.stderr[-300:])
    wrong, right = one_worker.map([Program("cpp", _sealed("cpp", WRONG["cpp"]), proof=True),
                                   Program("cpp", _sealed("cpp", RIGHT["cpp"]), proof=True)])
    assert (wrong.status, right.status) == (Status.FAILED, Status.PASSED), (wrong, right)
