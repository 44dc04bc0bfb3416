"""The checkpoint-comparison report: one self-contained HTML file (plotly's JavaScript embedded once, no
script from the network). It opens with the finding (`app.finding`: the confirmatory contrasts declared
in the recipe, with their intervals and Holm verdicts, in one paragraph and one forest plot), then the
details: pass@1 and its CIs, the transfer tables (confirmatory, then the exploratory RL gains per
language and per group of languages, seen and zero-shot, and the arms' differences), every further
benchmark of a bench run (Multi-HumanEval), alignment curves per layer with their intervals beside the
bag-of-tokens baseline and the lexical control, language × language CKA heatmaps on a scale fitting
their values and a difference map, the alignment-vs-transfer statistics with the probe set's overlap
with the evaluation, the probe stage's hypothesis tests, and the config. Pass@1 and gains are in points
everywhere. `vs` adds a second run (another seed or recipe) beside the first, under user labels:
differences of pass@1 and of RL gains with intervals paired over tasks (`app.comparison`), curve
differences with intervals, and the config differences.

    write_report(Path("artifacts/runs/toy"))                       # -> artifacts/runs/toy/report.html
    write_report(run_a, vs=run_b, labels=("seed 0", "seed 1"))     # -> <run_a>/report-vs-<b>.html
Not for: computing any statistic of one run (it shows what the run folder holds).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from . import charts, comparison, tables
from .finding import run_finding
from .rundata import Run, layer_label, open_run
from .runfs import write_text
from .tables import (
    GROUP_LABELS,
    alignment_transfer_frame,
    compare_frame,
    family_frame,
    family_title,
    groups_note,
    interval_unit,
    pass_frame,
    pct,
    tests_frame,
    transfer_frame,
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1240px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.8em; }
.tablewrap { max-width: 100%; overflow-x: auto; }
table.df { border-collapse: collapse; font-size: .86em; margin: .6em 0; }
table.df th, table.df td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; vertical-align: top; }
table.df td { white-space: normal; min-width: 4.5em; } table.df th { background: #f4f4f4; white-space: nowrap; }
table.df td.key { text-align: left; font-weight: 600; white-space: nowrap; background: #fafafa; }
table.df .ci { display: block; color: #666; font-size: .88em; white-space: nowrap; }
table.df .p { display: block; color: #444; font-size: .85em; }
.note { color: #666; font-size: .9em; }
.finding { background: #f3f7fc; border-left: 4px solid #1f4e99; padding: .6em 1em; font-size: 1.02em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: .5em; }
pre { background: #f7f7f7; padding: .8em; overflow: auto; font-size: .82em; max-height: 32em; }
.missing { background: #fff8e1; border: 1px solid #f0d98c; padding: .8em; }
"""
_CI = re.compile(r"^(.*?)\s(\[[^\]]*\])(.*)$")


def _cell(value) -> str:
    """A table cell: its interval ("[lo, hi]") and p-values on lines of their own, so tables stay narrow."""
    text = "–" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    m = _CI.match(text)
    if not m:
        return html.escape(text)
    rest = m.group(3).strip()
    out = f'{html.escape(m.group(1))}<span class="ci">{html.escape(m.group(2))}</span>'
    if rest:
        out += "".join(f'<span class="p">{html.escape(x.strip())}</span>' for x in rest.split("·") if x.strip())
    return out


def html_table(df: pd.DataFrame | None, empty: str = "nothing yet") -> str:
    """A DataFrame as one header row and one row per index entry (a named index becomes the first column,
    a plain 0..n-1 index is left out), intervals wrapped under their values, in a scrolling box."""
    if df is None or df.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    keyed = not isinstance(df.index, pd.RangeIndex)
    head = ([html.escape(str(df.index.name or ""))] if keyed else []) + [html.escape(str(c)) for c in df.columns]
    rows = []
    for key, values in zip(df.index, df.to_numpy()):
        cells = ([f'<td class="key">{html.escape(str(key))}</td>'] if keyed else [])
        cells += [f"<td>{_cell(v)}</td>" for v in values]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="tablewrap"><table class="df"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def _fig(fig: go.Figure, div_id: str | None = None) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _default(options: list[str], preferred: tuple[str, ...]) -> str | None:
    for p in preferred:
        if p in options:
            return p
    return options[0] if options else None


def _flatten(d, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _config_diff(a: dict, b: dict, labels: list[str]) -> pd.DataFrame:
    fa, fb = _flatten(a), _flatten(b)
    keys = [k for k in dict.fromkeys([*fa, *fb]) if fa.get(k) != fb.get(k)]
    df = pd.DataFrame({labels[0]: [json.dumps(fa.get(k)) for k in keys],
                       labels[1]: [json.dumps(fb.get(k)) for k in keys]}, index=keys)
    df.index.name = "key"
    return df


def _label_of(runs: list[Run], labels: list[str], i: int) -> str:
    return labels[i] if i < len(labels) else runs[i].name


# ---- sections ----------------------------------------------------------------------------------

def _finding_section(run: Run) -> str:
    f = run_finding(run)
    parts = ['<h2 id="finding">What this run shows</h2>',
             f'<div class="finding" id="finding-text"><p>{html.escape(f.text)}</p></div>']
    if f.rows:
        parts.append(_fig(charts.forest(f.rows, title="Transfer after RL: declared contrasts and each arm's gain "
                                                      "(points, 95% CI)"), div_id="forest"))
        parts.append('<p class="note">Diamonds: the declared confirmatory contrasts (Holm). Grey: exploratory RL '
                     "gains, unadjusted. A difference of gains is paired over tasks.</p>")
    return "\n".join(parts)


def _pass_section(runs: list[Run], labels: list[str]) -> str:
    langs = list(dict.fromkeys(lang for r in runs for lang in r.langs))
    parts = ['<h2 id="pass">pass@1 per language</h2>',
             '<p class="note">Points (%), with the 95% interval below each value.</p>']
    for i, r in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(labels[i])}</h3>")
        parts.append(html_table(pass_frame(r.scores, langs) if r.scores else None, "no scores yet (evaluation not run)"))
    if len(runs) == 2 and runs[0].scores and runs[1].scores:
        diffs = comparison.pass_differences(runs[0], runs[1], langs)
        df = pd.DataFrame({lg: [_diff_text(diffs[c].get(lg)) for c in diffs] for lg in langs}, index=list(diffs))
        df.index.name = "checkpoint"
        parts.append(f"<h3>difference ({html.escape(labels[1])} − {html.escape(labels[0])}, points)</h3>"
                     '<p class="note">Per-task differences averaged, 95% interval from a bootstrap over the tasks '
                     "both runs evaluated (paired); n = tasks in common.</p>")
        parts.append(html_table(df.loc[[c for c in df.index if (df.loc[c] != "–").any()]]))
    if any(r.scores for r in runs):
        parts.append(_fig(charts.pass_bars([r for r in runs if r.scores], langs,
                                           labels=[labels[i] for i, r in enumerate(runs) if r.scores])))
    return "\n".join(parts)


def _diff_text(d: dict | None) -> str:
    if not d:
        return "–"
    return f"{pct(d['diff'], d['ci95'], signed=True)} · n={d['n']}"


def _transfer_tables(transfer: dict, langs: list[str] | None = None) -> list[str]:
    parts = []
    family = transfer.get("_family") or {}
    fam = family_frame(family)
    if not fam.empty:
        parts.append(f"<h4>{html.escape(family_title(family))}</h4>" + html_table(fam))
    parts.append('<h4>RL gain per arm (points; exploratory: no correction)</h4>'
                 f'<p class="note">{html.escape(groups_note(transfer))} '
                 f'Interval unit: {html.escape(interval_unit(transfer))}.</p>')
    parts.append(html_table(transfer_frame(transfer, langs)))
    comp = compare_frame(transfer)
    if not comp.empty:
        parts.append("<h4>Arms compared (difference of gains in points, paired; exploratory, unadjusted p, except "
                     "the cells marked confirmatory)</h4>" + html_table(comp))
    return parts


def _transfer_section(runs: list[Run], labels: list[str]) -> str:
    parts = ['<h2 id="transfer">Transfer: RL gain per language</h2>',
             '<p class="note">gain = pass@1(rl-&lt;arm&gt;) − pass@1(sft-&lt;arm&gt;) in points, 95% CI paired over '
             'tasks (over seeds and tasks when seeds are pooled). Group columns average their languages.</p>']
    for i, r in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(labels[i])}</h3>")
        if not r.transfer:
            parts.append(html_table(None, "no transfer table yet"))
            continue
        parts += _transfer_tables(r.transfer)
    if len(runs) == 2 and runs[0].transfer and runs[1].transfer:
        langs = list(dict.fromkeys(lang for r in runs for lang in r.langs))
        diffs = comparison.gain_differences(runs[0], runs[1], langs)
        cols = [c for c in [*langs, "targets", "seen", "zero_shot"] if any(c in d for d in diffs.values())]
        df = pd.DataFrame({GROUP_LABELS.get(c, c): [_diff_text(diffs[a].get(c)) for a in diffs] for c in cols},
                          index=list(diffs))
        df.index.name = "arm"
        parts.append(f"<h3>difference of RL gains ({html.escape(labels[1])} − {html.escape(labels[0])}, points)</h3>"
                     '<p class="note">Per task: gain in the second run minus gain in the first (each rl − sft on that '
                     "task and language; a group averages its languages first), 95% bootstrap interval over the tasks "
                     "both runs evaluated; exploratory.</p>" + html_table(df))
    return "\n".join(parts)


def _benchmarks_section(runs: list[Run], labels: list[str]) -> str:
    """Every benchmark of a bench run beyond the one scores.json holds (e.g. Multi-HumanEval)."""
    parts = []
    for i, r in enumerate(runs):
        by_bench = r.scores_by_benchmark
        if len(by_bench) < 2:
            continue
        for bench, scores in by_bench.items():
            head = f"{bench}" + (f" · {labels[i]}" if len(runs) > 1 else "")
            parts.append(f"<h3>{html.escape(head)}</h3>")
            parts.append('<p class="note">pass@1 (points, 95% interval)</p>' + html_table(pass_frame(scores)))
            transfer = r.transfer_by_benchmark.get(bench)
            if transfer:
                parts += _transfer_tables(transfer)
    if not parts:
        return ""
    return '<h2 id="benchmarks">Every benchmark</h2>\n' + "\n".join(parts)


def _alignment_section(runs: list[Run], labels: list[str]) -> str:
    probed = [(r, labels[i]) for i, r in enumerate(runs) if r.metrics.get("checkpoints")]
    if not probed:
        return ('<h2 id="alignment">Alignment across languages</h2><div class="missing"><b>No probes yet.</b> '
                "This run has no <code>probes/metrics.json</code>: run <code>psft probe RUN</code> (or "
                "<code>psft run --resume</code>) to capture activations and compute the alignment metrics, "
                "then <code>psft report RUN</code> again.</div>")
    first = probed[0][0]
    poolings = list((first.metrics.get("meta") or {}).get("poolings") or first.poolings())
    pooling = _default(poolings, ("mean",))
    norm = _default(first.norms(), ("centered", "raw"))
    control = any(r.control.get("checkpoints") for r, _ in probed)
    parts = ['<h2 id="alignment">Alignment across languages, per layer</h2>',
             f'<p class="note">Pooling <b>{html.escape(str(pooling))}</b>, normalisation <b>{html.escape(str(norm))}</b>'
             f"{' (second run dotted: ' + html.escape(probed[1][1]) + ')' if len(probed) > 1 else ''}. "
             "Error bars: 95% bootstrap intervals over tasks. Dotted grey line and band: the bag-of-tokens baseline "
             "(no model: each program's token counts, the same rows and normalisation)"
             + ("; dashed curves: each checkpoint on the lexical control set (identifiers renamed per language), "
                "with its own bag of tokens in lighter grey" if control else "") + ".</p>",
             '<div class="grid">']
    for curve in charts.REPORT_CURVES:
        parts.append(_fig(charts.layer_curves([r for r, _ in probed], curve, pooling, norm,
                                              labels=[lb for _, lb in probed])))
    parts.append("</div>")
    if len(probed) == 2:
        parts.append(_curve_differences(probed, pooling, norm))
    parts.append('<h2 id="cka">Language × language CKA (last layer)</h2>'
                 '<p class="note">Each map on a colour scale fitted to its values; the difference map is centred '
                 "on 0 (red: the first checkpoint more similar across languages).</p>")
    for r, label in probed:
        if len(probed) > 1:
            parts.append(f"<h3>{html.escape(label)}</h3>")
        parts.append('<div class="grid">')
        ckpts = r.probe_ckpts or list(r.metrics.get("checkpoints") or {})
        last = None
        for c in ckpts:
            layers = list(r.layer_metrics(c, pooling, norm))
            if layers:
                last = layers[-1]
                parts.append(_fig(charts.cka_lang_heatmap(r, c, pooling, norm, last)))
        pair = next(((a, b) for a, b in (("sft-parallel", "sft-mono"), ("rl-parallel", "rl-mono"))
                     if a in ckpts and b in ckpts), (ckpts[-1], ckpts[0]) if len(ckpts) > 1 else None)
        if pair and last is not None:
            diff = charts.cka_lang_difference(r, pair[0], pair[1], pooling, norm, last)
            if diff is not None:
                parts.append(_fig(diff))
        parts.append("</div>")
    return "\n".join(parts)


def _curve_differences(probed: list[tuple[Run, str]], pooling: str, norm: str) -> str:
    (a, la), (b, lb) = probed
    fig = go.Figure()
    layers: list[str] = []
    common = [c for c in (a.probe_ckpts or []) if c in (b.probe_ckpts or [])]
    for i, c in enumerate(common):
        d = comparison.curve_difference(a, b, c, "retrieval_top1", pooling, norm)
        if not d:
            continue
        xs = list(d)
        layers += [x for x in xs if x not in layers]
        fig.add_trace(go.Scatter(x=xs, y=[v[0] for v in d.values()], mode="lines+markers", name=c,
                                 line={"color": charts.PALETTE[i % len(charts.PALETTE)]},
                                 error_y={"type": "data", "symmetric": False,
                                          "array": [None if v[2] is None else v[2] - v[0] for v in d.values()],
                                          "arrayminus": [None if v[1] is None else v[0] - v[1] for v in d.values()]}))
    if not layers:
        return ""
    fig.add_hline(y=0, line={"color": "#444444", "width": 1})
    fig.update_layout(title=f"retrieval top-1: {lb} − {la}", height=360, yaxis_title="difference of top-1",
                      margin={"l": 50, "r": 10, "t": 40, "b": 45})
    charts.layer_axis(fig, layers)
    return ("<h3>Curve differences</h3>" + _fig(fig) +
            '<p class="note">Interval: the two runs\' own 95% intervals combined as independent (half-widths in '
            "quadrature): metrics.json keeps no per-task values to pair.</p>")


def _alignment_transfer_section(runs: list[Run], labels: list[str]) -> str:
    probed = [(r, labels[i]) for i, r in enumerate(runs) if r.metrics.get("alignment_transfer")]
    if not probed:
        return ""
    parts = ['<h2 id="align-transfer">Alignment vs transfer</h2>']
    for r, label in probed:
        at = r.metrics["alignment_transfer"]
        what = ", ".join(f"{k} {html.escape(layer_label(str(at[k])) if k == 'layer' else str(at[k]))}"
                         for k in ("alignment", "layer", "pooling", "norm") if at.get(k))
        if len(probed) > 1:
            parts.append(f"<h3>{html.escape(label)}</h3>")
        probed_n, with_verdict = r.verdict_coverage()
        overlap = (f"All {probed_n} probed programs have a test verdict." if probed_n and with_verdict == probed_n else
                   f"Only {with_verdict} of the {probed_n} probed programs have a test verdict (their task and "
                   "language were evaluated): the per-task statistics rest on those." if probed_n else "")
        parts.append(f'<p class="note">Does a language whose programs sit closer to their source-language '
                     f"translations gain more from RL in the source? {what}. {html.escape(overlap)} Per task, n "
                     "counts the (task, language) units the SFT checkpoint fails.</p>")
        parts.append(html_table(alignment_transfer_frame(at), "no statistics"))
        pts = charts.alignment_transfer_points(at)
        if pts:
            parts.append(_fig(charts.points_figure(pts, "alignment", "gain", "alignment (probe stage)",
                                                   "RL gain (points of pass@1)")))
    return "\n".join(parts)


def _tests_section(runs: list[Run], labels: list[str]) -> str:
    parts = ['<h2 id="tests">Hypothesis tests</h2>',
             '<p class="note">Effect sizes with 95% CIs, p-values and p-values adjusted for the number of tests, '
             "as computed by the probe stage.</p>"]
    for i, r in enumerate(runs):
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(labels[i])}</h3>")
        tests = r.metrics.get("tests") or []
        norm = _default(r.norms(), ("centered", "raw"))
        main = [t for t in tests if t.get("pooling") in (None, "mean") and t.get("norm") in (None, norm)]
        if main and len(main) < len(tests):
            parts.append(f'<p class="note">Mean pooling, {html.escape(str(norm))} vectors '
                         f"({len(main)} of {len(tests)} tests; all below).</p>")
            parts.append(html_table(tests_frame(main)))
            parts.append(f"<details><summary>all {len(tests)} tests</summary>{html_table(tests_frame(tests))}</details>")
        else:
            parts.append(html_table(tests_frame(tests), "no tests yet (the probe stage has not run)"))
    return "\n".join(parts)


KIND_TITLES = {"transplant": "Transplant: the RL update's direction added to the SFT checkpoint",
               "patch": "Patch: one checkpoint's residual stream in the other, both directions",
               "erase": "Erase: the language removed from the residual stream"}


_GAIN_NOTE = "Dotted grey line and band: the arm's RL gain (model − vs, both unedited) and its interval."
FIGURE_NOTES = {
    "transplant": "Diamonds: cells of the confirmatory family; circles: exploratory. Dashed: a random direction of "
                  "the same norm (control); dotted: each language's own Δ (the upper reference). " + _GAIN_NOTE
                  + " A transplant that carries the gain reaches that line.",
    "patch": "Diamonds: cells of the confirmatory family; circles: exploratory. " + _GAIN_NOTE + " Patching model "
             "into vs can reach that line at most; patching vs into model, its negative.",
    "erase": "Diamonds: cells of the confirmatory family; circles: exploratory. " + _GAIN_NOTE + " An erasure that "
             "removes what carries the gain brings model down by about that much.",
}


def _interventions_section(run: Run) -> str:
    """Every interventions/<name>.json of the run, by kind: the finding of each file, the effect per layer
    (each arm, controls beside) with intervals, the confirmatory family, every contrast (exploratory),
    pass@1 per language, and the kind's own checks (Δ norms; the eraser's). Empty without interventions."""
    from . import intervention_results as ir
    results = run.interventions
    if not results:
        return ""
    parts = ['<h2 id="interventions">Interventions: causal tests (<code>psft intervene</code>)</h2>',
             '<p class="note">Each edit acts on the residual stream after one decoder layer (blocks.L.hook_resid_post) '
             "during greedy generation; pass@1 is scored as the checkpoints are. An effect is the edited checkpoint "
             "minus the same checkpoint unedited, per task, in points, with a 95% paired bootstrap interval. The "
             "confirmatory family (each main edit on its declared group, Holm) was declared before the run; every "
             "other cell is exploratory (unadjusted p).</p>"]
    for kind in ir.KINDS:
        mine = [(n, r) for n, r in results.items() if r.get("kind") == kind]
        if not mine:
            continue
        parts.append(f'<h3 id="interventions-{kind}">{html.escape(KIND_TITLES[kind])}</h3>')
        parts.append('<div class="finding">' + "".join(f"<p>{html.escape(ir.finding(r))}</p>" for _, r in mine)
                     + "</div>")
        group = ir.family_group(mine[0][1]) or "targets"
        same = [r for _, r in mine if ir.family_group(r) in (group, None)]
        parts.append(_fig(charts.intervention_effects(same, group), div_id=f"iv-effects-{kind}"))
        parts.append(f'<p class="note">{html.escape(FIGURE_NOTES[kind])}</p>')
        for name, r in mine:
            parts += _intervention_details(name, r)
    return "\n".join(parts)


def _intervention_details(name: str, r: dict) -> list[str]:
    from . import intervention_results as ir
    names = ir.checkpoint_names(r)
    groups = "; ".join(f"{g.replace('_', '-')}: {', '.join(v)}" for g, v in (r.get("groups") or {}).items())
    gen = r.get("generation") or {}
    parts = [f"<h4>{html.escape(name)} · arm {html.escape(ir.arm_of(r))}: model {html.escape(names['model'])}, "
             f"vs {html.escape(names['vs'])}</h4>",
             f'<p class="note">{html.escape(r.get("positions") or "")}. Groups: {html.escape(groups)}. '
             f"Greedy, at most {html.escape(str(gen.get('max_new_tokens', '–')))} new tokens, "
             f"{html.escape(str(gen.get('dtype', '–')))}. Interval unit: {html.escape(str(r.get('interval_unit')))} "
             f"({html.escape(r.get('interval_note') or '')}).</p>"]
    fam = (r.get("family") or {})
    parts.append(f"<h5>Confirmatory (declared before the run; Holm over {len(fam.get('members') or [])}, "
                 f"α={fam.get('alpha', 0.05)}, on the {html.escape(str(fam.get('group', '')).replace('_', '-'))} "
                 "targets)</h5>" + html_table(tables.intervention_family_frame(r), "no confirmatory contrast"))
    parts.append("<h5>Effect per layer, every language and group (edited − the same checkpoint unedited, points; "
                 "exploratory, unadjusted p, except the cells marked confirmatory)</h5>"
                 + html_table(tables.intervention_effect_frame(r)))
    if r["conditions"].get("vs") and r["conditions"].get("model"):
        parts.append("<details><summary>against the other checkpoint (edited − the other one unedited: how much "
                     "of the gap remains; exploratory)</summary>"
                     + html_table(tables.intervention_effect_frame(r, against="other"))
                     + "</details>")
    parts.append("<h5>pass@1 per language (points, Wilson 95% interval)</h5>" + html_table(tables.intervention_pass_frame(r)))
    if r.get("delta"):
        parts.append("<h5>Δ: the mean residual update, per language it was computed on</h5>"
                     + html_table(tables.delta_frame(r)))
    if r.get("erasure"):
        parts.append("<h5>What the eraser did on the probe set (before → after)</h5>"
                     f'<p class="note">{html.escape(_erasure_note(r))}</p>' + html_table(tables.erasure_frame(r)))
    return parts


def _erasure_note(r: dict) -> str:
    """Where retrieval did not rise, the eraser is not shown to remove language without removing content."""
    from .intervention_results import checkpoint_names
    names = checkpoint_names(r)
    failed = [f"{names.get(rec, rec)} at layer {fit[1:]}" for rec, per in (r.get("erasure") or {}).items()
              for fit, e in per.items() if not e.get("retrieval_rose")]
    head = ("An eraser counts as working when the language probe falls towards chance and cross-language "
            "retrieval (raw) rises at its layer. ")
    return head + ("Retrieval rose for every eraser." if not failed else
                   "Retrieval did not rise for: " + ", ".join(failed) + " (read their effects with care).")


def _config_section(runs: list[Run], labels: list[str]) -> str:
    parts = ['<h2 id="config">Config</h2>']
    if len(runs) == 2:
        parts.append("<h3>differences</h3>" + html_table(_config_diff(runs[0].config, runs[1].config, labels),
                                                            "the two configs are identical"))
    for i, r in enumerate(runs):
        parts.append(f"<details><summary>{html.escape(labels[i])}: config.json</summary>"
                     f"<pre>{html.escape(json.dumps(r.config, indent=2))}</pre></details>")
    return "\n".join(parts)


def run_labels(runs: list[Run], labels: list[str] | None = None) -> list[str]:
    """The names the report gives its runs: the user's labels, else the run names, made distinct ("toy" vs
    "toy" becomes "toy (1)" and "toy (2)")."""
    out = [str(x) for x in (labels or [])][:len(runs)] + [r.name for r in runs][len(labels or []):]
    if len(set(out)) < len(out):
        out = [f"{x} ({i + 1})" for i, x in enumerate(out)]
    return out


def build_report(run: Run, vs: Run | None = None, labels: list[str] | None = None) -> str:
    """The whole HTML document as a string."""
    runs = [run] + ([vs] if vs is not None else [])
    labels = run_labels(runs, labels)
    title = f"Parallel-SFT report: {labels[0]}" + (f" vs {labels[1]}" if vs is not None else "")
    paths = " vs ".join(f"<code>{html.escape(str(r.root))}</code>" for r in runs)
    bench = _benchmarks_section(runs, labels)
    interventions = _interventions_section(run)
    if interventions and vs is not None:
        interventions = interventions.replace("</h2>", f'</h2><p class="note">These are the first run\'s '
                                              f"({html.escape(labels[0])}) interventions; the second run's are in "
                                              "its own report.</p>", 1)
    nav = ['<a href="#finding">finding</a>', '<a href="#pass">pass@1</a>', '<a href="#transfer">transfer</a>',
           *(['<a href="#benchmarks">benchmarks</a>'] if bench else []), '<a href="#alignment">alignment</a>',
           '<a href="#cka">CKA</a>', '<a href="#tests">tests</a>',
           *(['<a href="#interventions">interventions</a>'] if interventions else []), '<a href="#config">config</a>']
    body = "\n".join([
        f"<h1>{html.escape(title)}</h1><p class='note'>{paths}</p>",
        "<p>" + " · ".join(nav) + "</p>",
        _finding_section(run),
        *( [f'<p class="note">The finding is the first run\'s ({html.escape(labels[0])}); the second run\'s is in '
             "its own report.</p>"] if vs is not None else []),
        _pass_section(runs, labels), _transfer_section(runs, labels), bench, _alignment_section(runs, labels),
        _alignment_transfer_section(runs, labels), _tests_section(runs, labels), interventions,
        _config_section(runs, labels)])
    plotly_js = plotly.offline.get_plotlyjs()
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style>\n<script type='text/javascript'>{plotly_js}</script></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def default_output(run: Run, vs: Run | None = None) -> Path:
    if vs is None:
        return run.root / "report.html"
    return run.root / f"report-vs-{vs.name.replace('/', '-')}.html"


def write_report(root: Path, vs: Path | None = None, out: Path | None = None, labels: list[str] | None = None) -> Path:
    """Write the report of the run at `root` (compared with `vs`, the runs named by `labels`) atomically;
    returns its path."""
    run = open_run(root)
    other = open_run(vs) if vs is not None else None
    path = out or default_output(run, other)
    write_text(path, build_report(run, other, labels))
    return path
