"""Multiplicity: Holm's step-down adjustment over a declared family of contrasts, and the marking of that
family's cells, one implementation for every table that has a confirmatory family (the transfer tables,
the pooled study, the interventions, the probes' tests).

Holm (1979) controls the family-wise error rate under any dependence between the tests and is uniformly
more powerful than Bonferroni; it is a few lines, so it is written here rather than pulled from
statsmodels (not otherwise a dependency). Not for: the p-values themselves (the tables' own tests).
"""
from __future__ import annotations

from collections.abc import Sequence


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1) over the p-values that are not
    None; a None stays None and does not count towards the family's size."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    order = sorted(idx, key=lambda i: p_values[i])
    out: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(order)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def mark_confirmatory(members: Sequence[tuple[str, dict]], alpha: float) -> list[tuple[str, dict]]:
    """Adjust the family `members` ((name, cell) pairs; each cell has "p_value" and, when its p-value is
    the resampling bound 1/B, "p_bound") with Holm, and mark each cell in place: "role": "confirmatory",
    "p_holm", "p_holm_bound" (a bound p-value makes every Holm value it can reach a bound too) and
    "significant" (p_holm < alpha). Cells without a p-value are left out. Returns the members kept."""
    kept = [(name, cell) for name, cell in members if cell.get("p_value") is not None]
    for (_, cell), p in zip(kept, holm([cell["p_value"] for _, cell in kept])):
        bound = any(m.get("p_bound") and m["p_value"] <= cell["p_value"] for _, m in kept)
        cell.update(role="confirmatory", p_holm=p, p_holm_bound=bound, significant=bool(p < alpha))
    return kept
