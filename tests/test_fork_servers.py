"""Perl, PHP and Ruby run in fork servers: a program must behave as under `perl FILE` / `php FILE` / `ruby FILE`."""
from __future__ import annotations

import re

import pytest

from evals.execution import Program, Status
from evals.languages import get_language

CASES = {
    "perl": [
        ('print "hi\\n";', Status.PASSED, 0, "hi\n", ""),
        ('print STDERR "e\\n"; exit 3;', Status.RUNTIME_ERROR, 3, "", "e\n"),
        ('die "boom";', Status.RUNTIME_ERROR, 255, "", "boom at ./main.pl line 1.\n"),
        ("sub f {", Status.SYNTAX_ERROR, 255, "", None),
        ('use Data::Compare; print Compare([1, 2], [1, 2]), "\\n";', Status.PASSED, 0, "1\n", ""),
        ('print "$0 ", scalar(@ARGV), " ", (-e "main.pl" ? "here" : "lost"), "\\n";', Status.PASSED, 0,
         "main.pl 0 here\n", ""),
    ],
    "php": [
        ('<?php echo "hi\\n";', Status.PASSED, 0, "hi\n", ""),
        ('<?php fwrite(STDERR, "e\\n"); exit(3);', Status.RUNTIME_ERROR, 3, "", "e\n"),
        ('<?php throw new Exception("Test failed");', Status.FAILED, 255, "", None),
        ("<?php function f( {", Status.SYNTAX_ERROR, 255, "", None),
        ('<?php echo count(array_filter(array_keys(get_defined_vars()), fn($k) => str_starts_with($k, "__psft"))) ? "leak" : "clean", " ", basename(getcwd()) === basename(getenv("HOME")) ? "home" : "elsewhere", "\\n";',
         Status.PASSED, 0, "clean home\n", ""),
    ],
    "ruby": [
        ('puts "hi"', Status.PASSED, 0, "hi\n", ""),
        ('$stderr.puts "e"; exit 3', Status.RUNTIME_ERROR, 3, "", "e\n"),
        ('def check(x) = raise("test case 1 did not pass")\ncheck(1)', Status.FAILED, 1, "",
         "main.rb:1:in `check': test case 1 did not pass (RuntimeError)\n\tfrom main.rb:2:in `<main>'\n"),
        ("def f(", Status.SYNTAX_ERROR, 1, "", "main.rb:1: syntax error, unexpected end-of-input, expecting ')'\n"
         "def f(\n      ^\n"),
        ('at_exit { puts "bye" }; raise ArgumentError', Status.RUNTIME_ERROR, 1, "bye\n",
         "main.rb:1:in `<main>': ArgumentError (ArgumentError)\n"),
        ('puts [$0, __FILE__, ARGV.size, File.exist?("main.rb"), Dir.pwd == ENV["HOME"]].inspect', Status.PASSED, 0,
         '["main.rb", "main.rb", 0, true, true]\n', ""),
        ('p defined?(Set); p [1, 1].to_set.size', Status.PASSED, 0, '"constant"\n1\n', ""),  # -rset: fresh process
        ('system("echo", "child"); print STDIN.read.inspect', Status.PASSED, 0, 'child\n""', ""),
    ],
}
# Where a server's output differs from a fresh interpreter's, and why it is left so.
KNOWN_DIFFERENCES = {("perl", 'die "boom";'): "the server runs `do './main.pl'` (`.` is not in @INC), so messages "
                                               "name ./main.pl where `perl main.pl` says main.pl"}


def test_plain_and_forked_runs_agree_on_these_cases():
    """The expectations above are what a fresh interpreter gives (a server must match them, not define them)."""
    from evals.execution import Executor
    with Executor(workers=1, warm=False) as cold:
        for lang, cases in CASES.items():
            if get_language(lang).missing():
                continue
            for (src, status, code, out, err), r in zip(cases, cold.map([Program(lang, c[0]) for c in cases])):
                assert (r.status, r.exit_code, r.stdout) == (status, code, out), (lang, src, r)
                if err is not None and (lang, src) not in KNOWN_DIFFERENCES:
                    assert r.stderr == err, (lang, src, r.stderr)


@pytest.mark.parametrize("lang", list(CASES))
def test_program_semantics_in_the_fork_server(lang, executor):
    if get_language(lang).missing():
        pytest.skip(f"{lang} not installed")
    results = executor.map([Program(lang, src) for src, *_ in CASES[lang]])
    for (src, status, code, out, err), r in zip(CASES[lang], results):
        assert (r.status, r.exit_code, r.stdout) == (status, code, out), (src, r)
        if err is not None:
            assert r.stderr == err, (src, r.stderr)


@pytest.mark.parametrize("lang", list(CASES))
def test_a_program_that_kills_its_server_does_not_break_the_next(lang, executor):
    if get_language(lang).missing():
        pytest.skip(f"{lang} not installed")
    kill = {"perl": "kill 'KILL', getppid(); sleep 5;", "php": "<?php posix_kill(posix_getppid(), 9); sleep(5);",
            "ruby": "Process.kill(:KILL, Process.ppid); sleep 5"}
    hello = {"perl": 'print "ok\\n";', "php": '<?php echo "ok\\n";', "ruby": 'puts "ok"'}
    r = executor.run(Program(lang, kill[lang]))
    assert r.status is Status.RUNTIME_ERROR and r.duration_s < 4
    assert executor.run(Program(lang, hello[lang])).stdout == "ok\n"


def test_ruby_runs_in_its_server_unless_a_program_needs_other_flags(executor):
    if get_language("ruby").missing():
        pytest.skip("ruby not installed")
    parent = 'print File.read("/proc/#{Process.ppid}/cmdline").include?("ruby_server.rb")'
    plain, with_set = executor.map([Program("ruby", parent), Program("ruby", parent + "; Set.new")])
    assert (plain.stdout, with_set.stdout) == ("true", "false"), (plain, with_set)  # `Set` gets `-rset`: a fresh ruby


# The Python fork server (the supervisor forks itself) against `python3 -I -S main.py`: what the interpreter
# does after the main module (non-daemon threads joined, then atexit callbacks, then flushing) and how it
# reports an uncaught exception (sys.excepthook, which a program may replace).
PYTHON_CASES = [
    'import atexit\natexit.register(print, "bye")\nprint("hi")\n',
    'import sys\nsys.excepthook = lambda t, e, tb: print("hooked", t.__name__, e, file=sys.stderr)\nraise ValueError("x")\n',
    'import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print("late"))).start()\nprint("main")\n',
    'import atexit, threading, time\natexit.register(print, "exit")\n'
    'threading.Thread(target=lambda: (time.sleep(0.1), print("thread"))).start()\n',
    'def f():\n    raise KeyError(1)\n\n\nf()\n',
    'raise SystemExit("bye")\n',
    'import sys\nprint("out")\nsys.exit(3)\n',
    'import atexit\natexit.register(lambda: 1 / 0)\nprint("a")\n',
]


def test_python_fork_server_finishes_programs_as_python3_does(executor, tmp_path):
    import subprocess

    from evals.execution.sandbox import which
    results = executor.map([Program("python", src) for src in PYTHON_CASES])
    for src, r in zip(PYTHON_CASES, results):
        (tmp_path / "main.py").write_text(src)
        fresh = subprocess.run([which("python3"), "-I", "-S", "main.py"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=30)
        def same(text, folder):  # the program's folder and object addresses differ from run to run
            return re.sub(r"0x[0-9a-f]+", "0x", text.replace(folder, ""))
        here = same(re.sub(r"/tmp/run/p\d+/", "", r.stderr), "\0")
        assert (r.exit_code, r.stdout, here) == (fresh.returncode, fresh.stdout, same(fresh.stderr, f"{tmp_path}/")), src
