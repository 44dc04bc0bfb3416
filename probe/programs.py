"""The parallel program set that `probe` captures: the same tasks written in several languages.

Two sources, one row type:
- the synthetic world (`world_programs`): by default each task's function as code only, the signature
  line and the reference body, with no tag line, description comment or preamble;
- MBXP-style benchmarks (`benchmark_programs`): prompt + reference solution with every comment and
  docstring stripped (`strip_comments`), restricted to problems whose references pass when a set of
  passing ids is given (`passing_references` runs them).

What is pooled decides what is measured: MBXP programs carry the same English description in every
language, and retrieval on text that includes it measures the description, not the function. So
`text="code"` is the default, `text="body"` drops the signature too (function names are derived from
the task in every language: a lexical cue shared by translations), and `text="description"` (the full
document, description included) is only a labelled control. Rows come language-major: every task in
the first language, then the next.
Not for: running a model (`capture.py`) or deciding where rows are written (`app/`).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

TEXTS = ("code", "body", "description")


@dataclass(frozen=True)
class ProgramRow:
    task_id: str
    lang: str
    code: str


def _check_text(text: str) -> None:
    if text not in TEXTS:
        raise ValueError(f"unknown text variant {text!r}; known: {', '.join(TEXTS)}")


# ---- comments --------------------------------------------------------------------------------------

# Pygments lexer names for our language names (most are the same). Pygments is a well-kept lexer for
# every language we run; a regex would mistake `#` or `//` inside strings for comments.
_LEXER = {"cpp": "cpp", "typescript": "typescript", "javascript": "javascript", "python": "python",
          "ruby": "ruby", "php": "php", "lua": "lua", "perl": "perl", "go": "go", "java": "java",
          "rust": "rust"}


def _tokens(lang: str, code: str):
    from pygments.lexers import get_lexer_by_name
    name = _LEXER.get(lang)
    if name is None:
        raise ValueError(f"no comment stripper for language {lang!r}")
    lexer = get_lexer_by_name(name, startinline=True) if name == "php" else get_lexer_by_name(name)
    lexer.stripnl = False
    return list(lexer.get_tokens(code))


def _tidy(text: str) -> str:
    lines = (line.rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line.strip()) + "\n"


def strip_comments(lang: str, code: str, description: str = "") -> str:
    """`code` without comments and docstrings, blank lines and trailing spaces (indentation kept).

    Preprocessor lines (`#include`), which Pygments files under Comment, are code and stay. With a
    `description`, string literals that quote it are dropped too: machine-made references sometimes
    carry a Python-style docstring in a language where it is just a string (Ruby's \"\"\"...\"\"\")."""
    from pygments.token import Comment, String, Text, Whitespace

    toks = _tokens(lang, code)
    if description:
        toks = _drop_strings_quoting(toks, description, String, (Text, Whitespace))
    kept = []
    for tok, value in toks:
        comment = tok in Comment and tok not in Comment.Preproc and tok not in Comment.PreprocFile
        if comment or tok in String.Doc:
            # a single-line comment's token may carry its newline: keep the line break
            kept.append("\n" * value.count("\n"))
        else:
            kept.append(value)
    return _tidy("".join(kept))


def _drop_strings_quoting(toks: list, description: str, String, blank) -> list:
    """Remove runs of string tokens (blanks between them allowed) whose text contains the start of
    `description` (its first six words, whitespace-normalised)."""
    probe = " ".join(description.split()[:6])
    if not probe:
        return toks
    out: list = []
    i = 0
    while i < len(toks):
        if toks[i][0] not in String:
            out.append(toks[i])
            i += 1
            continue
        j = i
        while j < len(toks) and (toks[j][0] in String or (any(toks[j][0] in b for b in blank)
                                                          and not toks[j][1].strip())):
            j += 1
        run = toks[i:j]
        while run and run[-1][0] not in String:   # give trailing blanks back
            j -= 1
            run = run[:-1]
        text = " ".join("".join(v for _, v in run).split())
        if probe in text:
            out.append((blank[0], "\n" * "".join(v for _, v in run).count("\n")))
        else:
            out.extend(run)
        i = j
    return out


# ---- the world -------------------------------------------------------------------------------------

def world_code(task, lang: str, text: str = "code") -> str:
    """One world task in one language: the function (signature + reference body) for "code", the
    body alone for "body" (no function name: names are derived from the task, a shared lexical cue),
    the full document (tag line, description comment, signature, body) for "description"."""
    _check_text(text)
    if text == "description":
        return task.document(lang)
    if text == "body":
        return _tidy(task.solution(lang))
    return task.signature_line(lang) + task.solution(lang)


def world_programs(world, split: str, langs: Sequence[str], n_tasks: int = 0, text: str = "code",
                   prefer: Collection[str] = ()) -> list[ProgramRow]:
    """The first `n_tasks` tasks of `split` (all when 0) in every language of `langs`, language-major.
    Tasks whose ids are in `prefer` (e.g. the evaluated ones, so that probes and test verdicts meet)
    come first, each group in the split's order."""
    from evals.world import LANGS
    bad = [x for x in langs if x not in LANGS]
    if bad:
        raise ValueError(f"unknown world language(s) {', '.join(bad)}; known: {', '.join(LANGS)}")
    tasks = world.split(split)
    if prefer:
        prefer = set(prefer)
        tasks = [t for t in tasks if t.id in prefer] + [t for t in tasks if t.id not in prefer]
    if n_tasks:
        tasks = tasks[:n_tasks]
    return [ProgramRow(t.id, lang, world_code(t, lang, text)) for lang in langs for t in tasks]


# ---- benchmarks (MBXP and friends) -----------------------------------------------------------------

def benchmark_code(problem, text: str = "code") -> str:
    """Prompt + reference solution, comments and docstrings stripped, for "code"; the solution alone,
    stripped, for "body"; both as written for "description"."""
    _check_text(text)
    if text == "body":
        return strip_comments(problem.lang, problem.solution, problem.description)
    full = problem.prompt + problem.solution
    return full if text == "description" else strip_comments(problem.lang, full, problem.description)


def passing_references(problems: Iterable, executor, limits=None, progress: bool = False) -> set[tuple[str, str]]:
    """{(lang, id)} of the problems whose reference solution passes its own tests (runs them)."""
    from evals.benchmarks.check import run_solutions
    results = run_solutions(problems, executor, limits=limits, progress=progress)
    return {key for key, r in results.items() if r.passed}


def passing_from_report(report: dict, problems: Iterable) -> set[tuple[str, str]]:
    """{(lang, id)} that passed according to a `psft check-bench --json` report (reuse its results)."""
    out = set()
    for p in problems:
        row = report.get(p.lang)
        if row and "unavailable" not in row and row.get("checked", 0) and p.id not in set(row.get("failed", ())):
            out.add((p.lang, p.id))
    return out


def benchmark_programs(problems: Iterable, langs: Sequence[str], n_tasks: int = 0, text: str = "code",
                       passing: set[tuple[str, str]] | None = None) -> list[ProgramRow]:
    """Problems aligned across `langs` by number (each with a reference solution, and in `passing` when
    given), the first `n_tasks` numbers (all when 0), language-major. Task id: "<bench>/<number>"."""
    from evals.benchmarks import parallel_set
    problems = [p for p in problems if passing is None or (p.lang, p.id) in passing]
    aligned = parallel_set(problems, langs, require_solution=True)
    numbers = list(aligned)[:n_tasks] if n_tasks else list(aligned)
    order = list(langs)
    return [ProgramRow(f"{aligned[n][lang].benchmark}/{n}", lang, benchmark_code(aligned[n][lang], text))
            for lang in order for n in numbers]
