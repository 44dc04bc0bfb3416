"""The six languages of the world and the default language-resource mix.

Not for: how each language is written (see `render.py`) or run (see `evals.languages`).
"""
from __future__ import annotations

LANGS: tuple[str, ...] = ("python", "javascript", "ruby", "php", "lua", "perl")

# Share of each language in the non-parallel pretraining corpus: a high-resource language (Python),
# two mid-resource ones and three low-resource ones.
DEFAULT_LANG_MIX: dict[str, float] = {
    "python": 0.40, "javascript": 0.25, "ruby": 0.15, "php": 0.10, "lua": 0.05, "perl": 0.05,
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown world language {lang!r}; known: {', '.join(LANGS)}")
    return lang
