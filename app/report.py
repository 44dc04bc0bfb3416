"""The checkpoint-comparison report: one self-contained HTML file (plotly's JavaScript embedded once, no
script from the network) with the pass@1 table and its CIs, the transfer tables (the confirmatory
contrasts declared in the recipe, with Holm's p-values, then the exploratory RL gains per language and
per group of languages, seen and zero-shot, and the arms' differences), alignment curves per
layer (retrieval top-1, cross-language CKA, silhouette) per checkpoint, language × language CKA
heatmaps, the probe stage's hypothesis tests, and the config. `vs` adds a second run (another seed or
recipe) beside the first: both tables, their difference, overlaid curves and the config differences.

    write_report(Path("artifacts/runs/toy"))                       # -> artifacts/runs/toy/report.html
    write_report(run_a, vs=run_b)                                  # -> <run_a>/report-vs-<b>.html
Not for: computing any statistic (it only shows what the run folder holds).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from . import charts
from .rundata import Run, layer_label, open_run
from .runfs import write_text
from .tables import (
    alignment_transfer_frame,
    compare_frame,
    family_frame,
    family_title,
    groups_note,
    interval_unit,
    pass_frame,
    pass_values,
    tests_frame,
    transfer_frame,
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.8em; }
table.df { border-collapse: collapse; font-size: .88em; margin: .6em 0; }
table.df th, table.df td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
table.df th { background: #f4f4f4; } .note { color: #666; font-size: .9em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: .5em; }
pre { background: #f7f7f7; padding: .8em; overflow: auto; font-size: .82em; max-height: 32em; }
.missing { background: #fff8e1; border: 1px solid #f0d98c; padding: .8em; }
"""


def _table(df: pd.DataFrame, empty: str = "nothing yet") -> str:
    if df is None or df.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    return df.to_html(classes="df", border=0, escape=True, na_rep="–")


def _fig(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


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


def _config_diff(a: dict, b: dict) -> pd.DataFrame:
    fa, fb = _flatten(a), _flatten(b)
    keys = [k for k in dict.fromkeys([*fa, *fb]) if fa.get(k) != fb.get(k)]
    return pd.DataFrame({"first run": [json.dumps(fa.get(k)) for k in keys],
                         "second run": [json.dumps(fb.get(k)) for k in keys]}, index=keys)


def _pass_section(runs: list[Run]) -> str:
    langs = list(dict.fromkeys(lang for r in runs for lang in r.langs))
    parts = ['<h2 id="pass">pass@1 per language</h2>',
             '<p class="note">Percent, with the 95% bootstrap CI over tasks in brackets.</p>']
    for r in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(r.name)}</h3>")
        parts.append(_table(pass_frame(r.scores, langs) if r.scores else None, "no scores yet (evaluation not run)"))
    if len(runs) == 2 and runs[0].scores and runs[1].scores:
        a, b = pass_values(runs[0].scores, langs), pass_values(runs[1].scores, langs)
        diff = (100 * (b - a)).round(1)
        parts.append(f"<h3>difference ({html.escape(runs[1].name)} − {html.escape(runs[0].name)}, points)</h3>")
        parts.append(_table(diff.dropna(how="all")))
    if any(r.scores for r in runs):
        parts.append(_fig(charts.pass_bars([r for r in runs if r.scores], langs)))
    return "\n".join(parts)


def _transfer_section(runs: list[Run]) -> str:
    parts = ['<h2 id="transfer">Transfer: RL gain per language</h2>',
             '<p class="note">gain = pass@1(rl-&lt;arm&gt;) − pass@1(sft-&lt;arm&gt;) in points, 95% CI paired over '
             'tasks (over seeds and tasks when seeds are pooled). Group columns average their languages.</p>']
    for r in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(r.name)}</h3>")
        if not r.transfer:
            parts.append(_table(None, "no transfer table yet"))
            continue
        family = r.transfer.get("_family") or {}
        fam = family_frame(family)
        if not fam.empty:
            parts.append(f"<h4>{html.escape(family_title(family))}</h4>" + _table(fam))
        parts.append('<h4>RL gain per arm (exploratory: no correction)</h4>'
                     f'<p class="note">{html.escape(groups_note(r.transfer))} '
                     f'Interval unit: {html.escape(interval_unit(r.transfer))}.</p>')
        parts.append(_table(transfer_frame(r.transfer)))
        comp = compare_frame(r.transfer)
        if not comp.empty:
            parts.append("<h4>Arms compared (difference of gains, paired; exploratory, unadjusted p, except the "
                         "cells marked confirmatory)</h4>" + _table(comp))
    return "\n".join(parts)


def _alignment_section(runs: list[Run]) -> str:
    probed = [r for r in runs if r.metrics.get("checkpoints")]
    if not probed:
        return ('<h2 id="alignment">Alignment across languages</h2><div class="missing"><b>No probes yet.</b> '
                "This run has no <code>probes/metrics.json</code>: run <code>psft probe RUN</code> (or "
                "<code>psft run --resume</code>) to capture activations and compute the alignment metrics, "
                "then <code>psft report RUN</code> again.</div>")
    first = probed[0]
    poolings = list((first.metrics.get("meta") or {}).get("poolings") or first.poolings())
    pooling = _default(poolings, ("mean",))
    norm = _default(first.norms(), ("centered", "raw"))
    parts = ['<h2 id="alignment">Alignment across languages, per layer</h2>',
             f'<p class="note">Pooling <b>{html.escape(str(pooling))}</b>, normalisation <b>{html.escape(str(norm))}</b>'
             f"{' (dashed: ' + html.escape(probed[1].name) + ')' if len(probed) > 1 else ''}.</p>",
             '<div class="grid">']
    for curve in charts.REPORT_CURVES:
        parts.append(_fig(charts.layer_curves(probed, curve, pooling, norm)))
    parts.append("</div>")
    parts.append('<h2 id="cka">Language × language CKA (last layer)</h2>')
    for r in probed:
        if len(probed) > 1:
            parts.append(f"<h3>{html.escape(r.name)}</h3>")
        parts.append('<div class="grid">')
        for c in r.probe_ckpts or list(r.metrics.get("checkpoints") or {}):
            layers = list(r.layer_metrics(c, pooling, norm))
            if layers:
                parts.append(_fig(charts.cka_lang_heatmap(r, c, pooling, norm, layers[-1])))
        parts.append("</div>")
    return "\n".join(parts)


def _alignment_transfer_section(runs: list[Run]) -> str:
    probed = [r for r in runs if r.metrics.get("alignment_transfer")]
    if not probed:
        return ""
    parts = ['<h2 id="align-transfer">Alignment vs transfer</h2>']
    for r in probed:
        at = r.metrics["alignment_transfer"]
        what = ", ".join(f"{k} {html.escape(layer_label(str(at[k])) if k == 'layer' else str(at[k]))}"
                         for k in ("alignment", "layer", "pooling", "norm") if at.get(k))
        if len(probed) > 1:
            parts.append(f"<h3>{html.escape(r.name)}</h3>")
        parts.append(f'<p class="note">Does a language whose programs sit closer to their source-language '
                     f"translations gain more from RL in the source? {what}.</p>")
        parts.append(_table(alignment_transfer_frame(at), "no statistics"))
        pts = charts.alignment_transfer_points(at)
        if pts:
            parts.append(_fig(charts.points_figure(pts, "alignment", "gain", "alignment (probe stage)",
                                                   "RL gain (pass@1)")))
    return "\n".join(parts)


def _tests_section(runs: list[Run]) -> str:
    parts = ['<h2 id="tests">Hypothesis tests</h2>',
             '<p class="note">Effect sizes with 95% CIs, p-values and p-values adjusted for the number of tests, '
             "as computed by the probe stage.</p>"]
    for r in runs:
        if len(runs) > 1:
            parts.append(f"<h3>{html.escape(r.name)}</h3>")
        tests = r.metrics.get("tests") or []
        norm = _default(r.norms(), ("centered", "raw"))
        main = [t for t in tests if t.get("pooling") in (None, "mean") and t.get("norm") in (None, norm)]
        if main and len(main) < len(tests):
            parts.append(f'<p class="note">Mean pooling, {html.escape(str(norm))} vectors '
                         f"({len(main)} of {len(tests)} tests; all below).</p>")
            parts.append(_table(tests_frame(main)))
            parts.append(f"<details><summary>all {len(tests)} tests</summary>{_table(tests_frame(tests))}</details>")
        else:
            parts.append(_table(tests_frame(tests), "no tests yet (the probe stage has not run)"))
    return "\n".join(parts)


def _config_section(runs: list[Run]) -> str:
    parts = ['<h2 id="config">Config</h2>']
    if len(runs) == 2:
        parts.append("<h3>differences</h3>" + _table(_config_diff(runs[0].config, runs[1].config),
                                                        "the two configs are identical"))
    for r in runs:
        parts.append(f"<details><summary>{html.escape(r.name)}: config.json</summary>"
                     f"<pre>{html.escape(json.dumps(r.config, indent=2))}</pre></details>")
    return "\n".join(parts)


def build_report(run: Run, vs: Run | None = None) -> str:
    """The whole HTML document as a string."""
    runs = [run] + ([vs] if vs is not None else [])
    title = f"Parallel-SFT report: {run.name}" + (f" vs {vs.name}" if vs is not None else "")
    paths = " vs ".join(f"<code>{html.escape(str(r.root))}</code>" for r in runs)
    body = "\n".join([
        f"<h1>{html.escape(title)}</h1><p class='note'>{paths}</p>",
        '<p><a href="#pass">pass@1</a> · <a href="#transfer">transfer</a> · <a href="#alignment">alignment</a> · '
        '<a href="#cka">CKA</a> · <a href="#tests">tests</a> · <a href="#config">config</a></p>',
        _pass_section(runs), _transfer_section(runs), _alignment_section(runs), _alignment_transfer_section(runs),
        _tests_section(runs),
        _config_section(runs)])
    plotly_js = plotly.offline.get_plotlyjs()
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style>\n<script type='text/javascript'>{plotly_js}</script></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def default_output(run: Run, vs: Run | None = None) -> Path:
    if vs is None:
        return run.root / "report.html"
    return run.root / f"report-vs-{vs.name.replace('/', '-')}.html"


def write_report(root: Path, vs: Path | None = None, out: Path | None = None) -> Path:
    """Write the report of the run at `root` (compared with `vs`) atomically; returns its path."""
    run = open_run(root)
    other = open_run(vs) if vs is not None else None
    path = out or default_output(run, other)
    write_text(path, build_report(run, other))
    return path

