"""One run's tables as Markdown, for results pages and notes (`psft report RUN --markdown`): pass@1 with
its intervals, the confirmatory contrasts (Holm), the RL gains (exploratory), the arms compared, and
cross-language retrieval by layer against the bag-of-tokens baseline, on the probe set and on the lexical
control set, and each intervention's finding and tables. The cells are the report's and explorer's (`app.tables`); the probe table is
`app.study.probes_markdown` of this one run. Pooled seeds have their own tables (`app.study.markdown`).
Not for: computing anything, or HTML (`report.py`).
"""
from __future__ import annotations

import pandas as pd

from .rundata import Run
from .tables import compare_frame, family_frame, family_title, groups_note, interval_unit, pass_frame, transfer_frame


def frame_markdown(df: pd.DataFrame) -> str:
    """A DataFrame as a pipe table, its index as the first column ("|" inside cells escaped)."""
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")
    head = [df.index.name or ""] + [cell(c) for c in df.columns]
    rows = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    rows += ["| " + " | ".join([cell(i)] + [cell(v) for v in r]) + " |" for i, r in zip(df.index, df.to_numpy())]
    return "\n".join(rows)


def run_markdown(run: Run) -> str:
    """Every table of the run that exists, each under a line that says what its numbers are."""
    out: list[str] = [f"Run `{run.name}`."]
    if run.scores:
        methods = {c.get("ci_method") for per in run.scores.values() for c in per.values() if isinstance(c, dict)}
        how = {frozenset({"wilson"}): "95% Wilson intervals", frozenset({"bootstrap"}): "95% bootstrap intervals over tasks"
               }.get(frozenset(methods), "95% intervals")
        n = next(iter(next(iter(run.scores.values())).values())).get("n")
        out += ["", f"pass@1 (%), {n} tasks per language, {how}:", "", frame_markdown(pass_frame(run.scores, run.langs))]
    transfer = run.transfer
    if transfer:
        family = transfer.get("_family") or {}
        fam = family_frame(family)
        if not fam.empty:
            out += ["", family_title(family) + ":", "", frame_markdown(fam)]
        out += ["", "RL gain in points [95% CI] (exploratory: no correction). " + groups_note(transfer)
                + f" Interval unit: {interval_unit(transfer)}.", "", frame_markdown(transfer_frame(transfer, run.langs))]
        comp = compare_frame(transfer)
        if not comp.empty:
            out += ["", "Arms compared (difference of RL gains, paired over tasks; exploratory, unadjusted p, except "
                    "the cells marked confirmatory):", "", frame_markdown(comp)]
    if run.metrics.get("checkpoints"):
        from .study import pooled_probes, probes_markdown
        probes = pooled_probes([run])
        if probes:
            out += ["", probes_markdown(probes).rstrip("\n")]
    for name in run.intervention_names:
        out += interventions_markdown(run.intervention(name))
    return "\n".join(out) + "\n"


def interventions_markdown(result: dict) -> list[str]:
    """One `interventions/<name>.json` as the report shows it: its finding, the declared family (Holm), each
    edit's effect per language and group, and pass@1 per condition (lines, to join)."""
    from .intervention_results import finding
    from .tables import intervention_effect_frame, intervention_family_frame, intervention_pass_frame
    out = ["", f"Intervention `{result.get('name')}`. {finding(result)}"]
    fam = intervention_family_frame(result)
    if not fam.empty:
        out += ["", "Confirmatory family (declared before the run; Holm):", "", frame_markdown(fam)]
    eff = intervention_effect_frame(result)
    if not eff.empty:
        out += ["", "Each edit against its unedited checkpoint, points [95% CI] (exploratory except the cells marked "
                "confirmatory):", "", frame_markdown(eff)]
    out += ["", "Greedy pass@1 (%) per condition [95% Wilson interval]:", "", frame_markdown(intervention_pass_frame(result))]
    return out
