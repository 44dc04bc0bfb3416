"""Compatibility names for code written against the bench pipeline before the task sources: the bench
study is now `app/sources/bench.py` run by `app/pipeline.py`. Import from there; this module only keeps
`ensure_model` and `MODELS` importable under their old path until their callers move."""
from .sources.bench import MODELS, ensure_model

__all__ = ["MODELS", "ensure_model"]
