"""The language registry: one table from name (and alias) to `Language`.

>>> from evals.languages import get_language
>>> get_language("js").name
'javascript'
"""
from __future__ import annotations

from . import cpp, go, java, javascript, lua, perl, php, python, ruby, rust, typescript
from .base import Language

LANGUAGES: dict[str, Language] = {m.LANG.name: m.LANG for m in (
    python, javascript, typescript, ruby, php, lua, perl, go, cpp, java, rust)}

_ALIASES = {a: lang.name for lang in LANGUAGES.values() for a in lang.aliases}


class UnknownLanguage(ValueError):
    pass


def get_language(name: str) -> Language:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in LANGUAGES:
        raise UnknownLanguage(f"unknown language {name!r}; known: {', '.join(LANGUAGES)}")
    return LANGUAGES[key]


def sealable(name: str) -> bool:
    """Whether programs of `name` built by our harnesses are sealed (`Language.seal`), and so must be run
    with `Program(..., proof=True)`; False for a language we have no runner for."""
    try:
        return get_language(name).seal is not None
    except UnknownLanguage:
        return False


__all__ = ["LANGUAGES", "Language", "UnknownLanguage", "get_language", "sealable"]
