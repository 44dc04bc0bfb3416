"""Scores from verdicts: the pass@k estimator, the Wilson interval of one proportion, and bootstrap
confidence intervals over problems.

`bootstrap` needs numpy and is imported on use; `from evals.scoring import pass_at_k, wilson_interval`
stays stdlib-only.
"""
from .passk import mean_pass_at_k, pass_at_k
from .wilson import wilson_interval

__all__ = ["bootstrap_ci", "mean_pass_at_k", "paired_bootstrap_diff", "pass_at_k", "pass_at_k_table",
           "wilson_interval"]


def __getattr__(name):
    if name in ("bootstrap_ci", "paired_bootstrap_diff", "pass_at_k_table", "PairedDiff"):
        from . import bootstrap
        return getattr(bootstrap, name)
    raise AttributeError(name)
