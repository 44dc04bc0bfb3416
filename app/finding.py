"""What a run shows, in one short paragraph and one forest plot, generated from its own numbers: the
confirmatory contrasts the recipe declared before the run (transfer.json's "_family", Holm-adjusted)
with their intervals and verdicts first; then, labelled exploratory, each arm's RL gain in the source
language and on the family's targets, and whether any layer retrieves translations above the
bag-of-tokens baseline. Every number is in points (pass@1 and gains × 100) and is read from
transfer.json or probes/metrics.json; nothing is estimated here. The report opens with it.

    f = run_finding(open_run("artifacts/runs/toy"))
    f.sentences        # ["Declared before the run: ...", "parallel − multi: +2.0 points [0.3, 3.8], ..."]
    f.rows             # forest-plot rows {"label", "value", "low", "high", "group", "strong"}
Not for: the statistics themselves (`train.transfer`, `probe.stats`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .charts import number
from .rundata import Run
from .tables import arms, p_text

GROUP_WORDS = {"zero_shot": "zero-shot targets", "seen": "seen targets", "targets": "targets"}


@dataclass
class Finding:
    sentences: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)       # forest plot rows (points)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def points(x) -> str:
    """0.0203 -> "+2.0" (signed points); "–" when missing."""
    v = number(x)
    return "–" if v is None else f"{100 * v:+.1f}"


def interval(ci) -> str:
    """[0.003, 0.038] -> "[0.3, 3.8]" (points)."""
    if not ci or len(ci) != 2 or number(ci[0]) is None or number(ci[1]) is None:
        return ""
    return f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def verdict(member: dict) -> str:
    """A declared contrast's verdict under Holm: which arm transfers more, or no detectable difference."""
    a, _, b = str(member.get("contrast", "")).partition(" - ")
    if member.get("significant"):
        return f"{a} > {b}" if (number(member.get("diff")) or 0) > 0 else f"{a} < {b}"
    return "no detectable difference"


def _unit_sentence(transfer: dict, members: list[dict]) -> str:
    units = {m.get("interval_unit") for m in members} - {None}
    seeds = transfer.get("seeds")
    if units == {"tasks"}:
        return ("The intervals resample the tasks only (one training run): the spread between training seeds "
                "is not in them.")
    if units:
        n = f" ({len(seeds)} seeds)" if isinstance(seeds, list) and seeds else ""
        return f"The intervals cover {' / '.join(sorted(units))}{n}."
    return ""


def confirmatory(transfer: dict) -> tuple[list[str], list[dict]]:
    family = transfer.get("_family") or {}
    members = family.get("members") or []
    if not family:
        return (["This run declares no confirmatory contrasts (the recipe's [analysis]): every comparison below "
                 "is exploratory."], [])
    info = transfer.get("_languages") or {}
    group = family.get("group", "targets")
    langs = info.get(group) if isinstance(info.get(group), list) else None
    where = GROUP_WORDS.get(group, str(group)) + (f" ({', '.join(langs)})" if langs else "")
    n = len(members) + len(family.get("missing") or [])
    sentences = [f"Declared before the run: the RL gain of one arm minus another's on the {where}, after RL, "
                 f"Holm-adjusted over {n} contrast{'s' if n != 1 else ''}."]
    rows = []
    parts = []
    for m in members:
        c = str(m["contrast"]).replace(" - ", " − ")
        parts.append(f"{c}: {points(m.get('diff'))} points{interval(m.get('ci95'))}, Holm p = "
                     f"{p_text(m, 'p_holm')}: {verdict(m)}")
        v, ci = number(m.get("diff")), m.get("ci95") or [None, None]
        if v is not None:
            rows.append({"label": f"{c} ({GROUP_WORDS.get(group, group)})", "value": 100 * v,
                         "low": None if number(ci[0]) is None else 100 * ci[0],
                         "high": None if number(ci[1]) is None else 100 * ci[1],
                         "group": "confirmatory (Holm)", "strong": True})
    for c in family.get("missing") or []:
        parts.append(f"{c.replace(' - ', ' − ')}: not run (an arm is missing)")
    if parts:
        sentences.append("; ".join(parts) + ".")
    unit = _unit_sentence(transfer, members)
    if unit:
        sentences.append(unit)
    return sentences, rows


def exploratory_gains(transfer: dict, group: str) -> tuple[list[str], list[dict]]:
    """Each arm's RL gain in its own RL language and on `group` (exploratory, unadjusted)."""
    info = transfer.get("_languages") or {}
    source = info.get("source") or "python"
    rl_lang = info.get("rl_lang") or {}
    rows, source_parts = [], []
    for arm in arms(transfer):
        own = rl_lang.get(arm, source)
        for key, what in ((own, own), (group, GROUP_WORDS.get(group, group))):
            cell = transfer[arm].get(key)
            if not isinstance(cell, dict) or number(cell.get("gain")) is None:
                continue
            ci = cell.get("ci95") or [None, None]
            rows.append({"label": f"{arm}: RL gain, {what}", "value": 100 * cell["gain"],
                         "low": None if number(ci[0]) is None else 100 * ci[0],
                         "high": None if number(ci[1]) is None else 100 * ci[1],
                         "group": "exploratory (unadjusted)", "strong": False})
            if key == own and own == source:
                source_parts.append(f"{arm} {points(cell['gain'])}{interval(cell.get('ci95'))}")
    sentences = []
    if source_parts:
        sentences.append(f"Exploratory: RL changed {source} pass@1 by " + ", ".join(source_parts) + " points.")
    return sentences, rows


def probe_sentence(run: Run) -> list[str]:
    """How many (checkpoint, layer) retrieve translations above the bag-of-tokens baseline (excess CI above
    0), at the alignment statistics' pooling and normalisation, on the probe set and the lexical control."""
    metrics = run.metrics or {}
    if not metrics.get("checkpoints"):
        return []
    at = metrics.get("alignment_transfer") or {}
    pooling, norm = at.get("pooling") or "mean", at.get("norm") or "centered"
    parts = []
    for label, control in (("on the probe set", False), ("on the lexical control set", True)):
        block = run.control if control else metrics
        if not block.get("checkpoints"):
            continue
        above, total, best = 0, 0, None
        for c in block["checkpoints"]:
            for layer, m in run.layer_metrics(c, pooling, norm, control=control).items():
                top1 = number((m.get("retrieval_mean") or {}).get("top1"))
                ex = ((m.get("excess_over_bag_of_tokens") or {}).get("retrieval_mean") or {}).get("top1") or {}
                ci = ex.get("ci95") if isinstance(ex, dict) else None
                if top1 is None:
                    continue
                total += 1
                above += bool(ci and number(ci[0]) is not None and ci[0] > 0)
                if best is None or top1 > best[0]:
                    best = (top1, c, layer)
        bag = number((((block.get("baselines") or {}).get("bag_of_tokens") or {}).get(norm) or {})
                     .get("retrieval_mean", {}).get("top1"))
        if not total or best is None:
            continue
        if bag is None:
            if not control:
                return [f"Probes (exploratory): this run's metrics have no bag-of-tokens baseline, so no layer's "
                        f"retrieval can be read against one (best top-1: {best[1]}, layer {best[2]}: {best[0]:.3f})."]
            continue
        bag_text = f"baseline {bag:.3f}; "
        parts.append(f"{above} of {total} {label} ({bag_text}best {best[1]}, layer {best[2]}: {best[0]:.3f})")
    if not parts:
        return []
    return [f"Probes (exploratory; top-1 retrieval, {pooling} pooling, {norm}): (checkpoint, layer) pairs above "
            "the bag-of-tokens baseline (interval of the excess above 0): " + ", ".join(parts) + "."]


def run_finding(run: Run) -> Finding:
    transfer = run.transfer or {}
    if not transfer:
        return Finding(["No transfer table yet: the run has not evaluated its RL checkpoints."], [])
    sentences, rows = confirmatory(transfer)
    group = (transfer.get("_family") or {}).get("group") or "targets"
    more, more_rows = exploratory_gains(transfer, group)
    return Finding(sentences + more + probe_sentence(run), rows + more_rows)
