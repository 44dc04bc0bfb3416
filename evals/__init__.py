"""The ground floor: languages, sandboxed execution, benchmarks and scoring. Imports nothing else of
ours, and nothing heavy at import time (the executor loads on first use).

>>> from evals import pass_at_k
>>> round(pass_at_k(n=10, c=3, k=1), 6)
0.3
"""
from evals.scoring.passk import pass_at_k

__all__ = ["pass_at_k"]
