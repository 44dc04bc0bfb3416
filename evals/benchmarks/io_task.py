"""A stdin/stdout problem with the task interface that training and evaluation use (as the world's `Task`
and `BenchTask`), in ANY language the executor has: the tests belong to no language, so a problem can be
trained or evaluated in a language none of its references is written in.

    prompt(lang)        `fmt.head(lang, statement + IO_NOTE)`: the statement in the model's chat template,
                        the assistant's answer begun (an opening fence); the completion is the whole program.
    solution(lang)      the first correct reference in `lang` + `fmt.suffix` (the closing fence); a
                        `ValueError` when the data has none in `lang` (pick tasks with `has_reference`).
    stop / truncate     the closing fence: the program is the completion up to the first "\\n```" line.
    judged(lang, c)     the executor `Program` (the program, run once per test input within the problem's
                        limits, `io_judge.io_program`) and the verdict function (`io_judge.OutputVerdict`:
                        the outputs compared on the host; no expected output enters the sandbox).
    document(lang)      the reference program alone (no chat template): for probes and token counts.

`fmt` is any object with `head(lang, description)` and `suffix` (`train.prompts.ChatPrompt`); the default
`PlainStatement` writes the statement as a comment-free text block. Not for: loading (`io_source.py`),
choosing problems (the callers).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from .io_judge import JudgeConfig, OutputVerdict, io_program
from .io_problem import IOProblem

IO_NOTE = "Read the input from standard input and print the answer to standard output."
_FENCE_END = re.compile(r"\n```")


@dataclass(frozen=True)
class PlainStatement:
    """The prompt without a chat template: the statement, then an opening fence."""

    suffix: str = "\n```"

    def head(self, lang: str, description: str) -> str:
        return f"{description}\n```{lang}\n"


@dataclass(frozen=True)
class IOBenchTask:
    problem: IOProblem = field(metadata={"help": "The stdin/stdout problem."})
    fmt: object = field(default=PlainStatement(), compare=False, metadata={"help": "How prompts are written."})
    judge: JudgeConfig = field(default_factory=JudgeConfig, metadata={"help": "Which tests, under which limits."})
    split: str = field(default="", metadata={"help": "Which part of the run it serves (sft_pool, rl, eval)."})

    @property
    def id(self) -> str:
        return self.problem.id

    @property
    def description(self) -> str:
        return self.problem.statement

    @property
    def langs(self) -> tuple[str, ...]:
        """Languages with a correct reference that can run here."""
        return tuple(dict.fromkeys(s.lang for s in self.problem.solutions if not s.unavailable))

    def has_reference(self, lang: str) -> bool:
        return lang in self.langs

    def reference(self, lang: str) -> str:
        for s in self.problem.solutions:
            if s.lang == lang and not s.unavailable:
                return s.code if s.code.endswith("\n") else s.code + "\n"
        raise ValueError(f"{self.id} has no {lang} reference (it has {', '.join(self.langs) or 'none'})")

    def prompt(self, lang: str) -> str:
        return self.fmt.head(lang, f"{self.problem.statement.strip()}\n\n{IO_NOTE}")

    def solution(self, lang: str) -> str:
        return self.reference(lang).rstrip("\n") + self.fmt.suffix

    def document(self, lang: str) -> str:
        return self.reference(lang)

    def stop(self, lang: str) -> tuple[str, ...]:
        return ("\n```",)

    def truncate(self, lang: str, text: str) -> str:
        """The program: `text` up to its closing fence (the fence excluded), or all of it."""
        m = _FENCE_END.search(text)
        return text[:m.start()] + "\n" if m else text

    def program(self, lang: str, completion: str) -> str:
        return self.truncate(lang, completion)

    def judged(self, lang: str, completion: str, id: str | None = None):
        """(the `Program` that runs the completion's program on every chosen test input, the function from
        its `Result` to an `IOVerdict`)."""
        program = io_program(self.problem, lang, self.program(lang, completion), self.judge)
        return dataclasses.replace(program, id=id or f"{self.id}/{lang}"), OutputVerdict(self.problem, lang, self.judge)
