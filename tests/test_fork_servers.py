"""Perl and PHP run in fork servers: a program must behave as under `perl FILE` / `php FILE`."""
from __future__ import annotations

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
}


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
    kill = {"perl": "kill 'KILL', getppid(); sleep 5;", "php": "<?php posix_kill(posix_getppid(), 9); sleep(5);"}
    hello = {"perl": 'print "ok\\n";', "php": '<?php echo "ok\\n";'}
    r = executor.run(Program(lang, kill[lang]))
    assert r.status is Status.RUNTIME_ERROR and r.duration_s < 4
    assert executor.run(Program(lang, hello[lang])).stdout == "ok\n"
