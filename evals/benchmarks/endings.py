"""Where a generated function ends: stop strings, truncation of a completion, and the blocks to close.

A benchmark prompt ends inside a function (after its signature; in Java inside its class too); the
completion is the rest: "\\n" + body + the function's closing line. A model keeps writing after that
(another method, a usage example, the end of a Markdown fence), so a completion is cut:
- at a closing code fence (```), in every language;
- Python: before the first non-blank line indented no deeper than the function's `def`;
- Ruby, Lua: after the first line `end` indented no deeper than the function's `def` / `function`;
- C-family (JavaScript, TypeScript, PHP, C++, Java, Go, Perl, Rust): after the first line starting with
  `}` indented no deeper than the line that opened the function's brace.
`Ending.of(lang, code)` reads that indentation from the prompt's code (comments skipped), and the
blocks the prompt opened around the function (Java's class): `close()` appends their closing braces
when the completion did not write them, so a reference that closes the class itself ("    }\\n}") and
a completion that stops at the method's end assemble the same program. `truncate` is idempotent and
keeps every MBXP reference that passes its tests passing (tests/test_bench_tasks.py).
Not for: assembling programs (`task.py`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = "```"
BRACE_LANGS = ("javascript", "typescript", "php", "cpp", "java", "go", "perl", "rust", "csharp", "scala",
               "swift", "kotlin")
KEYWORD_LANGS = ("ruby", "lua")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = {"perl": re.compile(r"#[^\n]*"), "php": re.compile(r"(//|#)[^\n]*")}
_SLASH_COMMENT = re.compile(r"//[^\n]*")
_STRING = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _code_only(lang: str, code: str) -> str:
    """The code without comments and string literals (which may hold braces), lines kept."""
    keep_lines = lambda m: "\n" * m.group(0).count("\n")  # noqa: E731
    code = _BLOCK_COMMENT.sub(keep_lines, code)
    code = _LINE_COMMENT.get(lang, _SLASH_COMMENT).sub("", code)
    return _STRING.sub('""', code)


@dataclass(frozen=True)
class Ending:
    lang: str
    indent: int = 0                 # indentation of the line that opened the function
    closers: tuple[int, ...] = ()   # indentations of the enclosing blocks still open, innermost first

    @classmethod
    def of(cls, lang: str, code: str) -> Ending:
        if lang in BRACE_LANGS:
            stack: list[int] = []
            for line in _code_only(lang, code).split("\n"):
                for ch in line:
                    if ch == "{":
                        stack.append(_indent(line))
                    elif ch == "}" and stack:
                        stack.pop()
            if not stack:
                return cls(lang)
            return cls(lang, stack[-1], tuple(reversed(stack[:-1])))
        keyword = r"def\b" if lang != "lua" else r"(local\s+)?function\b"
        defs = [_indent(line) for line in code.split("\n") if re.match(rf"[ \t]*{keyword}", line)]
        return cls(lang, defs[-1] if defs else 0)

    def stop_strings(self) -> tuple[str, ...]:
        """Strings at which generation may stop (the truncation rule decides where the function ended)."""
        pad = " " * self.indent
        if self.lang in BRACE_LANGS:
            return (f"\n{pad}}}", FENCE)
        if self.lang in KEYWORD_LANGS:
            return (f"\n{pad}end", FENCE)
        return (FENCE,)

    def truncate(self, text: str) -> str:
        """`text` cut after the function (see the module docstring); unchanged if it has not ended."""
        fence = text.find(FENCE)
        cut = text[:fence] if fence >= 0 else text
        lines = cut.split("\n")
        for i, line in enumerate(lines[1:], start=1):
            if not line.strip() or _indent(line) > self.indent:
                continue
            body = line.strip()
            if self.lang in BRACE_LANGS and body.startswith("}"):
                return "\n".join(lines[:i + 1]).rstrip() + "\n"
            if self.lang in KEYWORD_LANGS and re.match(r"end\b", body):
                return "\n".join(lines[:i + 1]).rstrip() + "\n"
            if self.lang not in BRACE_LANGS + KEYWORD_LANGS:   # Python and other indentation languages
                return "\n".join(lines[:i]).rstrip() + "\n"
        return cut.rstrip() + "\n" if fence >= 0 else cut

    def close(self, completion: str) -> str:
        """The truncated `completion` plus the closing lines of the enclosing blocks (the cut is always at the
        function's own closing line, so they are still open)."""
        if not self.closers:
            return completion
        return completion.rstrip("\n") + "".join(f"\n{' ' * i}}}" for i in self.closers) + "\n"
