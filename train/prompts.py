"""Chat-template prompts for benchmark problems (an `evals.benchmarks.task.PromptFormat`).

For an instruct model the prompt is the model's own chat template applied to one user message (the
problem's natural-language description and the language), with the assistant's answer already begun:
an opening Markdown fence and the problem's code (signature + docstring; the class line in Java). The
model continues the function body; a reference completion ends with the closing fence, after which
trl appends the tokenizer's EOS (`<|im_end|>` for SmolLM2):

    <|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    <|im_start|>user
    Write a function to count the number of elements in a list which are within a specific range.
    Write it in Python.<|im_end|>
    <|im_start|>assistant
    ```python
    def count_range_in_list(li, min, max):
        \"\"\" ...docstring from the benchmark... \"\"\"
    ----- the completion starts here: "\\n    ctr = 0 ..." then "\\n```" -----

The prompt ends on the code's last character (`:`, `{`, `)`), never on a newline, so prompt and
completion split on a token boundary (with ByteLevel BPE a prompt ending in a newline merges it
with the completion's indentation). A template that begins with the BOS token is
not doubled when the tokenizer adds BOS itself (Llama 3). Not for: the code's assembly and stop rules
(`evals.benchmarks.task`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FENCES = {"python": "python", "javascript": "javascript", "typescript": "typescript", "ruby": "ruby",
          "php": "php", "cpp": "cpp", "java": "java", "go": "go", "perl": "perl", "lua": "lua", "rust": "rust"}
NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "ruby": "Ruby", "php": "PHP",
         "cpp": "C++", "java": "Java", "go": "Go", "perl": "Perl", "lua": "Lua", "rust": "Rust"}
DEFAULT_INSTRUCTION = "{description}\nWrite it in {language}."


@dataclass(frozen=True)
class PromptConfig:
    instruction: str = field(default=DEFAULT_INSTRUCTION, metadata={
        "help": "The user message; {description} and {language} are filled in."})
    system: str = field(default="", metadata={
        "help": "A system message; '' keeps the chat template's default (SmolLM2 adds its own)."})
    fence: bool = field(default=True, metadata={
        "help": "Open a Markdown code fence before the code (and close it after reference completions)."})


@dataclass(frozen=True)
class ChatPrompt:
    """`prompt(problem, code)` through `tokenizer`'s chat template; `suffix` closes the fence."""

    tokenizer: Any = field(repr=False, compare=False)
    cfg: PromptConfig = PromptConfig()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def suffix(self) -> str:
        return "\n```" if self.cfg.fence else ""

    def head(self, lang: str, description: str) -> str:
        """Everything before the code: the chat turns and the assistant's opening fence."""
        key = (lang, description)
        if key not in self._cache:
            self._cache[key] = self._head(lang, description)
        return self._cache[key]

    def _head(self, lang: str, description: str) -> str:
        text = self.cfg.instruction.format(description=(description or "Complete the function.").strip(),
                                           language=NAMES.get(lang, lang))
        messages = ([{"role": "system", "content": self.cfg.system}] if self.cfg.system else []) + [
            {"role": "user", "content": text}]
        rendered = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        bos = self.tokenizer.bos_token
        if bos and rendered.startswith(bos) and self._adds_bos():
            rendered = rendered[len(bos):]
        return rendered + (f"```{FENCES.get(lang, lang)}\n" if self.cfg.fence else "")

    def _adds_bos(self) -> bool:
        if "adds_bos" not in self._cache:
            ids = self.tokenizer("x")["input_ids"]
            self._cache["adds_bos"] = bool(ids) and ids[0] == self.tokenizer.bos_token_id
        return self._cache["adds_bos"]

    def prompt(self, problem, code: str) -> str:
        return self.head(problem.lang, problem.description) + code


