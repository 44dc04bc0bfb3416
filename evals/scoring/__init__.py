"""Scores from verdicts: the pass@k estimator and bootstrap confidence intervals over problems.

`bootstrap` needs numpy and is imported on use; `from evals.scoring import pass_at_k` stays stdlib-only.
"""
from .passk import mean_pass_at_k, pass_at_k

__all__ = ["bootstrap_ci", "mean_pass_at_k", "paired_bootstrap_diff", "pass_at_k", "pass_at_k_table"]


def __getattr__(name):
    if name in ("bootstrap_ci", "paired_bootstrap_diff", "pass_at_k_table", "PairedDiff"):
        from . import bootstrap
        return getattr(bootstrap, name)
    raise AttributeError(name)
