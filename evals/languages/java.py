"""Java (OpenJDK): javac once, then a small, fast-starting JVM (serial GC, C1 only, CDS).

The seal (see PROOF in base.py): the tests' `Main` class is renamed and the seal's own `Main` runs it.
That `Main` has no static initializer and references nothing of the program until its `main` has read
and deleted the proof file, so no class of the program (whose initializers run lazily, at first use)
runs earlier; the token stays a local variable of that `main`, which nothing else can reach, and is
printed only when the tests' `main` has returned normally (`System.exit` or an exception skips it).

Faster builds (`build_server`): the build is offered to the worker's warm compile server
(`evals/execution/servers/JavacServer.java`: the JDK's compiler through `javax.tools`, started once per
worker, with the arguments `javac` gets here and its output as `javac` prints it), which takes a
program's build from ~2.4 s to ~0.1 s. Programs still run in a fresh `java` each: in one JVM, class
loaders do not isolate what a program can reach (`System.exit` and `Runtime.halt`, threads left running,
shutdown hooks, `System.setOut`, system properties, the default locale and time zone and every other
static state of the JDK's own classes), and the JDK has no supported way left to stop them (the security
manager is deprecated for removal), so a program could end or poison the JVM that judges the next one;
a fresh `java` starts in ~0.07 s. The server itself runs no code of any program.
"""
from __future__ import annotations

import re

from .base import PROOF_FILE, Language

_TESTS_CLASS = "PsftProofTestsMain"
_MAIN_CLASS = re.compile(r"^((?:public\s+|final\s+|abstract\s+)*)class\s+Main\b", re.MULTILINE)
_IMPORTS = re.compile(r"\A(?:\s+|//[^\n]*\n|/\*.*?\*/|(?:package|import)\s[^;]*;)*", re.DOTALL)

_EPILOGUE = """

public class Main {
    public static void main(String[] args) throws Throwable {
        byte[] psftToken = null;
        java.nio.file.Path psftPath = java.nio.file.Paths.get("%(file)s");
        if (java.nio.file.Files.exists(psftPath)) {
            psftToken = java.nio.file.Files.readAllBytes(psftPath);
            java.nio.file.Files.delete(psftPath);
        }
        %(tests)s.main(args);
        if (psftToken != null) {
            java.lang.System.out.flush();
            java.lang.System.err.flush();
            java.io.FileOutputStream psftOut = new java.io.FileOutputStream(java.io.FileDescriptor.out);
            byte[] psftLine = new byte[psftToken.length + 2];
            psftLine[0] = '\\n';
            java.lang.System.arraycopy(psftToken, 0, psftLine, 1, psftToken.length);
            psftLine[psftLine.length - 1] = '\\n';
            psftOut.write(psftLine);
            psftOut.flush();
        }
    }
}
"""


def seal(code: str, tests: str, prelude: str = "") -> str:
    """code's imports + prelude + the rest of code + tests (their `Main` renamed) + the proof's `Main`.
    Tests without a `class Main` are left as they are, and the proof's `Main` then fails to build."""
    if _MAIN_CLASS.search(tests):
        tests = _MAIN_CLASS.sub(lambda m: re.sub(r"public\s+", "", m.group(1)) + "class Main", tests)
        tests = re.sub(r"\bMain\b", _TESTS_CLASS, tests)
    head = _IMPORTS.match(code).end() if prelude else 0
    if prelude:
        p_head = _IMPORTS.match(prelude).end()
        code = code[:head] + "\n" + prelude[:p_head] + "\n" + prelude[p_head:] + "\n" + code[head:]
    sep = "" if not code or code.endswith("\n") or tests.startswith("\n") else "\n"
    return code + sep + tests + _EPILOGUE % {"file": PROOF_FILE, "tests": _TESTS_CLASS}


# The compile server (`build_server`): its source, class and JVM flags (one per worker: a small heap for
# the compiler; a compile that runs out of it falls back to `javac`), and the program it warms up on.
SERVER_SOURCE = "JavacServer.java"
SERVER_ARGV = ("java", "-Xmx384m", "-XX:+UseSerialGC", "-XX:CICompilerCount=2", "-Xshare:auto",
               "-cp", "{classes}", "JavacServer")
WARM_SOURCE = ("import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n"
               "        List<Integer> xs = new ArrayList<>(Arrays.asList(3, 1, 2));\n        Collections.sort(xs);\n"
               "        System.out.println(xs);\n    }\n}\n")


LANG = Language(
    name="java", ext="java", source_name="Main.java",
    build=("javac", "-encoding", "UTF-8", "-nowarn", "{src}"),
    run=("java", "-Xmx{mem_mb}m", "-Xss16m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
         "-cp", ".", "Main"),
    version=("java", "-version"), debian=("default-jdk-headless",), rlimit_as=False,
    failure_patterns=(r"java\.lang\.(Exception|AssertionError|RuntimeException)",),
    memory_patterns=(r"java\.lang\.OutOfMemoryError",),
    seal=seal, build_server=True, fast_flags_note="warm compile server (javax.tools); a fresh JVM per run",
)
