"""Compiled languages at interpreter speed, without a verdict a program could change: the C++ precompiled
headers and Go's prebuilt standard library (evals/execution/prebuilt.py), the Java compile server
(evals/execution/servers/JavacServer.java), and the benchmarks' own test libraries (Boost, OpenSSL's MD5,
js-md5).

Attack tests have the shape of tests/test_sandbox_integrity.py: the attack runs, then a wrong program and a
right program on the same worker are failed and passed."""
from __future__ import annotations

import os
import subprocess

import pytest

from evals.execution import Executor, Limits, Program, Status, prebuilt
from evals.execution.sandbox import bwrap_path
from evals.languages import cpp, get_language

from .test_proof_compiled import PROGRAMS, RIGHT, WRONG
from .test_sandbox_integrity import _descendants

pytestmark = pytest.mark.skipif(bwrap_path() is None, reason="bubblewrap is not installed")
LIMITS = Limits(timeout_s=10.0, memory_mb=1024)
MBXP_HEAD = "#include <bits/stdc++.h>\nusing namespace std;\n\n\n/**\n * > add(1, 2)\n */\nint add(int a, int b) {\n"
HEX_HEAD = ("#include<stdlib.h>\n#include<algorithm>\n#include<climits>\n#include<cstring>\n#include<iostream>\n"
            "#include<cassert>\n\n#include<stdio.h>\n#include<math.h>\n#include<vector>\nusing namespace std;\n"
            "#include<string>\n")


def _need(*langs):
    missing = [la for la in langs if get_language(la).missing()]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")


def _sealed(lang: str, completion: str) -> Program:
    code, tests = PROGRAMS[lang]
    return Program(lang, get_language(lang).seal(code + completion, tests), proof=True)


def _wrong_then_right(ex: Executor, *langs: str) -> None:
    for lang in langs:
        rw, rr = ex.map([_sealed(lang, WRONG[lang]), _sealed(lang, RIGHT[lang])])
        assert rw.status is Status.FAILED, (lang, "wrong", rw)
        assert rr.status is Status.PASSED, (lang, "right", rr)


# ---- which programs get a precompiled header ---------------------------------------------------------

def test_a_precompiled_header_is_chosen_only_when_the_leading_includes_name_all_its_headers():
    assert cpp.pch_set(MBXP_HEAD) == "stdcxx"
    assert cpp.pch_set(cpp.seal(MBXP_HEAD + "return a + b;\n}\n", "int main() { return 0; }\n")) == "stdcxx"
    assert cpp.pch_set("// a comment\n/* and\n another */\n#include <bits/stdc++.h>\nint x;\n") == "stdcxx"
    assert cpp.pch_set(HEX_HEAD + "int f() {\n") == "humaneval-x"
    # a macro ahead of the include could change what the header means: no PCH
    assert cpp.pch_set("#define int long long\n#include <bits/stdc++.h>\n") is None
    assert cpp.pch_set("#include <vector>\n#include <string>\nint main() {}\n") is None  # would add names
    assert cpp.pch_set("int x;\n#include <bits/stdc++.h>\n") is None
    assert cpp.leading_includes(HEX_HEAD + "#include<map>\nint y;\n#include<set>\n")[-1] == "map"


@pytest.mark.skipif(get_language("cpp").missing(), reason="g++ is not installed")
def test_the_build_uses_the_precompiled_header(tmp_path):
    (tmp_path / "main.cpp").write_text(MBXP_HEAD + "return a + b;\n}\nint main() { return add(1, 2) == 3 ? 0 : 1; }\n")
    argv = cpp.build_adapt(get_language("cpp").argv(get_language("cpp").build, 512), MBXP_HEAD)
    assert "-include" in argv, "no precompiled header could be built here"
    r = subprocess.run([*argv, "-H", "-Winvalid-pch"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"! {argv[argv.index('-include') + 1]}.gch" in r.stderr  # -H marks a used PCH with "!"
    assert "invalid" not in r.stderr


GO_MANY_PACKAGES = """package main

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type ints []int

func (h ints) Len() int            { return len(h) }
func (h ints) Less(i, j int) bool  { return h[i] < h[j] }
func (h ints) Swap(i, j int)       { h[i], h[j] = h[j], h[i] }
func (h *ints) Push(x interface{}) { *h = append(*h, x.(int)) }
func (h *ints) Pop() interface{}   { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

func main() {
	h := &ints{5, 2, 8}
	heap.Init(h)
	b, _ := json.Marshal(map[string]float64{"r": math.Sqrt(2)})
	xs := strings.Fields("b a c")
	sort.Strings(xs)
	fmt.Println(heap.Pop(h), regexp.MustCompile("a+b").MatchString("aab"), string(b), xs, strconv.Itoa(7), time.Duration(3))
	var m map[string]int
	m["x"] = 1
}
"""


def test_a_go_build_gives_the_binary_the_toolchains_own_library_gives(tmp_path):
    """The prebuilt library (no DWARF), `-dwarf=false` and the tools' GC settings change no byte of the
    binary: it is the one `compile` + `link -s -w` make against the toolchain's own standard library."""
    from evals.languages import go
    _need("go")
    lang = get_language("go")
    env = dict(os.environ, GO111MODULE="off", CGO_ENABLED="0", GOFLAGS="", GOCACHE=str(tmp_path / "cache"))
    std = prebuilt.go_std()
    assert std is not None, "no prebuilt Go library here"
    work = tmp_path / "w"  # one folder for both builds: the binary names its source by its path
    work.mkdir()
    for source in (GO_MANY_PACKAGES, lang.seal(PROGRAMS["go"][0] + RIGHT["go"], PROGRAMS["go"][1])):
        (work / "main.go").write_text(source)
        imports = subprocess.run(["go", "list", "-f", '{{join .Imports " "}}', "main.go"], cwd=work, env=env,
                                 capture_output=True, text=True, check=True).stdout.split()
        listed = subprocess.run(["go", "list", "-export", "-deps", "-f",
                                 "{{if .Export}}packagefile {{.ImportPath}}={{.Export}}{{end}}", *imports],
                                cwd=work, env=env, capture_output=True, text=True, check=True).stdout
        (tmp_path / "importcfg").write_text(listed)
        for argv in ([std["compile"], "-o", "main.a", "-p", "main", "-complete", "-pack", "-importcfg",
                      str(tmp_path / "importcfg"), "main.go"],
                     [std["link"], "-s", "-w", "-buildmode=exe", "-importcfg", str(tmp_path / "importcfg"),
                      "-o", "main", "main.a"]):
            subprocess.run(argv, cwd=work, check=True, timeout=120)
        reference = (work / "main").read_bytes()
        (work / "main").unlink()
        argv = go.build_adapt(lang.argv(lang.build, 512), source)
        assert argv[0] == "/bin/sh", argv
        r = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert (work / "main").read_bytes() == reference
        assert sorted(os.listdir(work)) == ["main", "main.go"]


# ---- artefacts and helpers no program can change --------------------------------------------------

WRITE_PREBUILT = r'''
import glob, os
hit = []
for path in glob.glob(@ROOT@ + "/**", recursive=True) + glob.glob("/usr/lib/go*/pkg/**/*.a", recursive=True)[:5]:
    for mode in ("r+b", "ab"):
        try:
            with open(path, mode) as f:
                f.write(b"planted")
            hit.append(path)
        except OSError:
            pass
    try:
        os.chmod(path, 0o777)
        hit.append("chmod " + path)
    except OSError:
        pass
for d in [@ROOT@] + glob.glob(@ROOT@ + "/*/"):
    try:
        open(os.path.join(d, "planted.h.gch"), "wb").close()
        hit.append("create in " + d)
    except OSError:
        pass
    try:
        os.rename(d, d.rstrip("/") + ".moved")
        hit.append("rename " + d)
    except OSError:
        pass
print("HIT", hit)
'''


def test_a_program_cannot_write_the_precompiled_headers_or_the_go_library():
    _need("python", "cpp", "go")
    with Executor(workers=1, limits=LIMITS) as ex:
        ex.map([_sealed("cpp", RIGHT["cpp"]), _sealed("go", RIGHT["go"])])  # the artefacts exist now
        root = str(prebuilt.root())
        assert any(n.startswith("cpp-pch-") for n in os.listdir(root)) and any(
            n.startswith("go-std-") for n in os.listdir(root))
        with open(prebuilt.go_std()["importcfg_link"]) as cfg:  # every archive a link reads is tried below
            assert all(line.split("=", 1)[1].startswith(root + os.sep) for line in cfg), "Go library elsewhere"
        r = ex.run(Program("python", WRITE_PREBUILT.replace("@ROOT@", repr(root))))
        assert r.status is Status.PASSED, r
        assert r.stdout.split("HIT", 1)[1].strip() == "[]", r.stdout
        _wrong_then_right(ex, "cpp", "go")


STOP_OR_KILL_EVERYONE = r'''
import os, signal
for p in os.listdir("/proc"):
    if p.isdigit() and int(p) not in (1, os.getpid()):
        try:
            os.kill(int(p), signal.@SIG@)
        except OSError:
            pass
print("done")
'''
JAVA_LEAVES_A_THREAD = ("        Thread t = new Thread(() -> { while (true) { } });\n        t.start();\n"
                        "        return a + b;\n    }\n}\n")
JAVA_EXITS = "        System.exit(0);\n        return 0;\n    }\n}\n"
JAVA_HOOK = ("        Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(0)));\n"
             "        return a - b;\n    }\n}\n")


@pytest.mark.parametrize("attack", ["exit", "thread_left_running", "shutdown_hook", "kill_the_helpers",
                                    "stop_the_helpers"])
def test_a_java_program_cannot_end_stop_or_poison_the_compile_server(attack):
    _need("java", "python", "javascript")
    with Executor(workers=1, limits=Limits(timeout_s=4.0, memory_mb=1024)) as ex:
        ex.map([_sealed("java", RIGHT["java"]), Program("javascript", "1;\n")])  # the server and the runner
        if attack == "exit":
            assert ex.run(_sealed("java", JAVA_EXITS)).status is Status.FAILED
        elif attack == "thread_left_running":
            assert ex.run(_sealed("java", JAVA_LEAVES_A_THREAD)).status is Status.TIMEOUT
        elif attack == "shutdown_hook":
            assert ex.run(_sealed("java", JAVA_HOOK)).status is Status.FAILED
        else:
            sig = "SIGKILL" if attack == "kill_the_helpers" else "SIGSTOP"
            r = ex.run(Program("python", STOP_OR_KILL_EVERYONE.replace("@SIG@", sig)))
            assert r.status is Status.PASSED, r
        _wrong_then_right(ex, "java")
        js = ex.map([Program("javascript", "if (1 + 1 !== 3) throw new Error('AssertionError: no');\n"),
                     Program("javascript", "if (1 + 1 !== 2) throw new Error('AssertionError: no');\n")])
        assert [r.status for r in js] == [Status.FAILED, Status.PASSED], js


FORGED_BUILDS = "done\t0\t0\t\n" * 3 + "crash\t0\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="writing into another process's pipe needs root (the test plays "
                                              "an attacker that already got past the sandbox)")
def test_forged_lines_on_the_compile_servers_channel_are_never_verdicts():
    _need("java")
    with Executor(workers=1, limits=LIMITS) as ex:
        ex.run(_sealed("java", RIGHT["java"]))
        worker = list(ex._free.queue)[0]
        found = [p for p, c in _descendants(worker.proc.pid).items() if "JavacServer" in c]
        assert found, "no compile server running"
        with open(f"/proc/{found[0]}/fd/1", "w") as pipe:
            pipe.write(FORGED_BUILDS)
        # a program that does not compile must not be built by a forged "done ... 0"
        broken = ex.run(_sealed("java", "        return a +;\n    }\n}\n"))
        assert broken.status is Status.SYNTAX_ERROR, broken
        _wrong_then_right(ex, "java")
        assert [p for p, c in _descendants(worker.proc.pid).items() if "JavacServer" in c] != found


def test_a_java_build_from_the_compile_server_reads_as_javac_s():
    _need("java")
    broken = _sealed("java", "        return a +;\n    }\n}\n")
    with Executor(workers=1, limits=LIMITS) as warm, Executor(workers=1, limits=LIMITS, warm=False) as cold:
        w, c = warm.run(broken), cold.run(broken)
    assert w.status is c.status is Status.SYNTAX_ERROR
    assert w.detail == c.detail and w.detail.startswith("Main.java:"), (w.detail, c.detail)
    assert w.stderr == c.stderr


# ---- the benchmarks' own test libraries --------------------------------------------------------------

CPP_LIBS = HEX_HEAD + r'''#include<boost/any.hpp>
#include<list>
#include<openssl/md5.h>
typedef std::list<boost::any> list_any;
vector<int> only_ints(list_any values) {
    vector<int> out;
    for (auto &v : values) if (v.type() == typeid(int)) out.push_back(boost::any_cast<int>(v));
    return out;
}
string md5_hex(string text) {
    unsigned char digest[MD5_DIGEST_LENGTH];
    MD5((const unsigned char *)text.c_str(), text.size(), digest);
    char out[2 * MD5_DIGEST_LENGTH + 1];
    for (int i = 0; i < MD5_DIGEST_LENGTH; i++) sprintf(out + 2 * i, "%02x", digest[i]);
    return string(out);
}
'''
CPP_LIBS_TESTS = ('\n#undef NDEBUG\n#include<assert.h>\nint main() {\n'
                  '    assert(only_ints({boost::any(1), boost::any(string("a")), boost::any(3)}) == vector<int>({1, 3}));\n'
                  '    assert(md5_hex("Hello world") == "@MD5@");\n}\n')
MD5_HELLO = "3e25960a79dbc69b674cd4ec67a72c62"


def test_the_benchmarks_test_libraries_link_and_a_wrong_answer_still_fails():
    """HumanEval-X's C++ tests use Boost.Any and OpenSSL's MD5 (`-lcrypto`), one of its JavaScript tests
    js-md5."""
    _need("cpp", "javascript")
    js = ("const md5 = require('js-md5');\nconst assert = require('assert');\n"
          "assert.deepEqual(md5('Hello world'), '@MD5@');\n")
    seal_cpp, seal_js = get_language("cpp").seal, get_language("javascript").seal
    progs = [Program("cpp", seal_cpp(CPP_LIBS, CPP_LIBS_TESTS.replace("@MD5@", m)), proof=True)
             for m in (MD5_HELLO, "0" * 32)]
    progs += [Program("javascript", seal_js(js.replace("@MD5@", m), ""), proof=True) for m in (MD5_HELLO, "0" * 32)]
    with Executor(workers=2, limits=LIMITS) as ex:
        rs = ex.map(progs)
    assert [r.status for r in rs] == [Status.PASSED, Status.FAILED, Status.PASSED, Status.FAILED], \
        [(r.status, r.detail) for r in rs]
