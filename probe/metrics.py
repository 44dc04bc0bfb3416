"""Every alignment metric of a probe, from pooled activations to the `metrics.json` object.

Input: the rows (task id and language of each program, the same order for every checkpoint) and
activations `acts[ckpt][pooling][hook]` ([n_rows, d]). Output: a JSON-ready dict laid out as the
docs/probing.md says (per checkpoint, pooling, normalisation and layer: retrieval for every
ordered language pair, parallel-pair cosine, silhouettes, NMI, probe accuracies, language x language
CKA; layer x layer and checkpoint x checkpoint CKA; permutation tests between checkpoints; alignment vs
transfer). Model-free baselines of the same rows (`baselines.py`) are measured the same way, and every
layer's metrics are also given as their excess over each baseline, with paired bootstrap CIs. Language
metrics (silhouette, NMI and probe by language) under `centered` are those of `raw`: removing each
language's mean would make them circular. Pure computation: no files (`app/probing.py` reads and
writes them).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from evals.scoring.multiplicity import holm

from . import clustering, stats
from .cka import cka_matrices
from .config import ProbeConfig
from .normalize import normalize
from .retrieval import retrieval_scores
from .similarity import parallel_cosine

# Checkpoint pairs compared by permutation tests (A more aligned than B?), when both were probed: the
# parallel arm against mono and multi, and the align arm against multi (the same generation data: did its
# contrastive loss align what it was trained to?).
TEST_PAIRS = (("sft-parallel", "sft-mono"), ("sft-parallel", "sft-multi"), ("rl-parallel", "rl-mono"),
              ("rl-parallel", "rl-multi"), ("sft-align", "sft-multi"), ("rl-align", "rl-multi"))
RETRIEVAL = (("top1", "top1"), ("top5", "top5"), ("mrr", "rr"))   # (reported name, per-query key)


@dataclass
class Grid:
    """The parallel set as a grid: `index[l, t]` is the row of task t in language l."""
    task_ids: list[str]
    langs: list[str]
    index: np.ndarray

    @property
    def row_task(self) -> np.ndarray:
        out = np.empty(self.index.size, dtype=np.int64)
        out[self.index] = np.arange(len(self.task_ids))[None, :]
        return out

    @property
    def row_lang(self) -> np.ndarray:
        out = np.empty(self.index.size, dtype=np.int64)
        out[self.index] = np.arange(len(self.langs))[:, None]
        return out


def make_grid(rows: Sequence) -> Grid:
    """Rows (dicts or objects with task_id and lang) -> Grid; every task must be in every language."""
    get = (lambda r, k: r[k]) if rows and isinstance(rows[0], dict) else getattr
    task_ids: list[str] = []
    langs: list[str] = []
    pos: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        t, lang = get(r, "task_id"), get(r, "lang")
        if t not in task_ids:
            task_ids.append(t)
        if lang not in langs:
            langs.append(lang)
        if (t, lang) in pos:
            raise ValueError(f"two rows for task {t} in {lang}")
        pos[(t, lang)] = i
    missing = [(t, lang) for lang in langs for t in task_ids if (t, lang) not in pos]
    if missing:
        raise ValueError(f"the program set is not parallel: {len(missing)} (task, language) missing, "
                         f"e.g. {missing[0]}")
    index = np.array([[pos[(t, lang)] for t in task_ids] for lang in langs], dtype=np.int64)
    return Grid(task_ids, langs, index)


# Metrics that depend on language identity: under a normalisation that removes each language's mean
# (`centered`) they would be circular, so there they are read from `raw` (and say so: "from_norm").
LANG_METRICS = ("silhouette_lang", "nmi_lang", "probe_lang_acc")
LANG_FROM_RAW = ("centered",)
# Metrics given as an excess over each baseline: (reported path, key of per_task["paired"]).
EXCESS = tuple((("retrieval_mean", name), f"retrieval_{name}") for name, _ in RETRIEVAL) + tuple(
    ((m,), m) for m in ("parallel_cosine", "silhouette_task", "silhouette_lang", "nmi_task", "nmi_lang",
                        "probe_task_acc", "probe_lang_acc"))


def language_metrics(X: np.ndarray, grid: Grid, cfg: ProbeConfig) -> tuple[dict, dict]:
    """Silhouette by language, k-means NMI against language and the language probe of one
    representation; and their paired data ({name: ("tasks", per-task values) | ("draws", samples)})."""
    n_tasks, row_task, row_lang = len(grid.task_ids), grid.row_task, grid.row_lang
    boot = dict(n_boot=cfg.n_boot, seed=cfg.seed)
    sil = clustering.silhouette_values(X, row_lang)
    sil = None if sil is None else stats.task_means(sil, row_task, n_tasks)
    clusters = clustering.kmeans_assign(X, len(grid.langs), seed=cfg.seed, n_init=cfg.kmeans_n_init)
    nmi, nmi_samples = stats.nmi_draws(row_lang, clusters, row_task, **boot)
    hit = clustering.decode_language(X, row_lang, row_task, folds=cfg.probe_folds, alpha=cfg.probe_alpha)
    hit = None if hit is None else stats.task_means(hit, row_task, n_tasks)
    out = {"silhouette_lang": stats.bootstrap_mean(sil, **boot),
           "nmi_lang": stats.with_ci(nmi) if nmi_samples is None else stats.with_ci(nmi, *stats._percentiles(nmi_samples)),
           "probe_lang_acc": stats.bootstrap_mean(hit, **boot)}
    paired = {"silhouette_lang": ("tasks", sil), "nmi_lang": ("draws", nmi_samples), "probe_lang_acc": ("tasks", hit)}
    return out, paired


def layer_metrics(X: np.ndarray, grid: Grid, cfg: ProbeConfig, language: tuple[dict, dict] | None = None
                  ) -> tuple[dict, dict]:
    """Metrics of one (already normalised) representation [n_rows, d]; and per-task arrays
    ("retrieval_top1", "retrieval_mrr", "parallel_cosine": means over language pairs; "pair_rr":
    {(A, B): reciprocal ranks}; "paired": what `excess` needs; "language": the language metrics) for the
    tests, alignment_transfer and the baselines. `language`: the language metrics to report instead of
    measuring them on X (`language_metrics` of the raw representation, under `centered`)."""
    n_tasks, langs = len(grid.task_ids), grid.langs
    per_lang = [X[grid.index[i]] for i in range(len(langs))]
    row_task = grid.row_task
    out: dict = {"retrieval": {}}
    boot = dict(n_boot=cfg.n_boot, seed=cfg.seed)

    sums = {key: np.zeros(n_tasks) for _, key in RETRIEVAL}
    pair_rr: dict[tuple[str, str], np.ndarray] = {}
    names, vectors = [], []
    for a, la in enumerate(langs):
        for b, lb in enumerate(langs):
            if a == b:
                continue
            sc = retrieval_scores(per_lang[a], per_lang[b])
            for name, key in RETRIEVAL:
                sums[key] += sc[key]
                names.append((f"{la}->{lb}", name))
                vectors.append(sc[key])
            pair_rr[(la, lb)] = sc["rr"]
    n_pairs = len(pair_rr)
    paired: dict = {f"retrieval_{name}": ("tasks", sums[key] / n_pairs if n_pairs else None) for name, key in RETRIEVAL}
    if n_pairs:
        for (pair, name), ci in zip(names, stats.bootstrap_means(np.stack(vectors), **boot)):
            out["retrieval"].setdefault(pair, {})[name] = ci
        means = stats.bootstrap_means(np.stack([sums[key] / n_pairs for _, key in RETRIEVAL]), **boot)
        out["retrieval_mean"] = {name: ci for (name, _), ci in zip(RETRIEVAL, means)}
    else:
        out["retrieval_mean"] = {name: stats.with_ci(None) for name, _ in RETRIEVAL}

    cos = None
    if len(langs) >= 2 and n_tasks >= 2:
        pairs = [(a, b) for a in range(len(langs)) for b in range(a + 1, len(langs))]
        cos = np.mean([parallel_cosine(per_lang[a], per_lang[b]) for a, b in pairs], axis=0)
    out["parallel_cosine"] = stats.bootstrap_mean(cos, **boot)
    paired["parallel_cosine"] = ("tasks", cos)

    if language is None:
        lang_out, lang_paired = language_metrics(X, grid, cfg)
    else:
        lang_out = {k: {**v, "from_norm": "raw"} for k, v in language[0].items()}
        lang_paired = language[1]
    sil = clustering.silhouette_values(X, row_task)
    sil = None if sil is None else stats.task_means(sil, row_task, n_tasks)
    out["silhouette_task"] = stats.bootstrap_mean(sil, **boot)
    out["silhouette_lang"] = lang_out["silhouette_lang"]
    paired["silhouette_task"] = ("tasks", sil)
    clusters = clustering.kmeans_assign(X, n_tasks, seed=cfg.seed, n_init=cfg.kmeans_n_init)
    nmi, nmi_samples = stats.nmi_draws(row_task, clusters, row_task, **boot)
    out["nmi_task"] = stats.with_ci(nmi) if nmi_samples is None else stats.with_ci(nmi, *stats._percentiles(nmi_samples))
    out["nmi_lang"] = lang_out["nmi_lang"]
    paired["nmi_task"] = ("draws", nmi_samples)
    hit = clustering.decode_task(X, row_task, grid.row_lang, alpha=cfg.probe_alpha)
    hit = None if hit is None else stats.task_means(hit, row_task, n_tasks)
    out["probe_task_acc"] = stats.bootstrap_mean(hit, **boot)
    out["probe_lang_acc"] = lang_out["probe_lang_acc"]
    paired["probe_task_acc"] = ("tasks", hit)
    paired.update(lang_paired)
    out["cka_lang"] = {"langs": list(langs), **_jsonable(cka_matrices(per_lang))}
    per_task = {"retrieval_top1": sums["top1"] / n_pairs if n_pairs else None,
                "retrieval_mrr": sums["rr"] / n_pairs if n_pairs else None,
                "parallel_cosine": cos, "pair_rr": pair_rr, "paired": paired,
                "language": (lang_out if language is None else language[0], lang_paired)}
    return out, per_task


def norm_metrics(X: np.ndarray, grid: Grid, row_lang_names: Sequence[str], cfg: ProbeConfig
                 ) -> dict[str, tuple[dict, dict]]:
    """`layer_metrics` of one representation [n_rows, d] under each of cfg.norms: {norm: (metrics,
    per_task)}. Under `centered` the language metrics are those of `raw` (measured once)."""
    out: dict[str, tuple[dict, dict]] = {}
    raw_language = None
    for norm in sorted(cfg.norms, key=lambda n: n != "raw"):           # raw first: its language metrics are reused
        Xn = normalize(X, row_lang_names, norm)
        if norm in LANG_FROM_RAW:
            if raw_language is None:
                raw_language = language_metrics(normalize(X, row_lang_names, "raw"), grid, cfg)
            out[norm] = layer_metrics(Xn, grid, cfg, language=raw_language)
        else:
            out[norm] = layer_metrics(Xn, grid, cfg)
            if norm == "raw":
                raw_language = out[norm][1]["language"]
    return {norm: out[norm] for norm in cfg.norms}


def excess(metrics: dict, per_task: dict, base: dict, base_per_task: dict, cfg: ProbeConfig) -> dict:
    """Each metric of EXCESS minus the baseline's, with a paired bootstrap CI over tasks; laid out
    like the layer's metrics ({"retrieval_mean": {"top1": {"value", "ci95"}, ...}, "parallel_cosine": ...})."""
    out: dict = {}
    for path, key in EXCESS:
        a, b = metrics, base
        for p in path:
            a, b = a[p], b[p]
        (kind, va), (_, vb) = per_task["paired"][key], base_per_task["paired"][key]
        res = stats.paired_excess(a["value"], b["value"], va, vb, n_boot=cfg.n_boot, seed=cfg.seed,
                                  draws=kind == "draws")
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = res
    return out


def _jsonable(mats: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: [[stats._num(x) for x in row] for row in M] for k, M in mats.items()}


def resolve_alignment_layer(spec: str, hooks: Sequence[str]) -> str:
    """'middle' | 'last' | 'embed' | block index | hook name -> one of the captured `hooks`."""
    from .capture import EMBED, hook_index
    hooks = list(hooks)
    if spec == "middle":
        return hooks[len(hooks) // 2]
    if spec == "last":
        return hooks[-1]
    if spec in ("embed", EMBED):
        name = EMBED
    else:
        try:
            i = int(spec)
        except ValueError:
            name = spec
        else:
            blocks = [h for h in hooks if h != EMBED]
            blocks.sort(key=hook_index)
            if not -len(blocks) <= i < len(blocks):
                raise ValueError(f"alignment layer {spec!r}: only {len(blocks)} blocks were captured") from None
            name = blocks[i]
    if name not in hooks:
        raise ValueError(f"alignment layer {spec!r} was not captured (captured: {', '.join(hooks)})")
    return name


def compute_metrics(rows: Sequence, acts: dict[str, dict[str, dict[str, np.ndarray]]], cfg: ProbeConfig,
                    meta: dict, transfer: dict | None = None,
                    outcomes: dict[str, dict[tuple[str, str], float]] | None = None,
                    log: Callable[[str], None] | None = None, baselines: dict[str, np.ndarray] | None = None) -> dict:
    """The whole metrics object. `acts[ckpt][pooling][hook]`; `transfer` is the run's transfer.json;
    `outcomes[ckpt][(task_id, lang)]` the mean `passed` of that checkpoint's evaluation rows;
    `baselines[name]`: a model-free representation [n_rows, d] of the same rows (e.g.
    `probe.baselines.bag_of_tokens`), measured like every layer under every normalisation into
    "baselines", and each layer's metrics also given as "excess_over_<name>"."""
    grid = make_grid(rows)
    ckpts = list(acts)
    first = acts[ckpts[0]]
    poolings = [p for p in cfg.poolings if p in first]
    hooks = list(first[poolings[0]])
    row_lang_names = [grid.langs[i] for i in grid.row_lang]
    result: dict = {"meta": {**meta, "langs": grid.langs, "layers": hooks, "poolings": poolings,
                             "norms": list(cfg.norms), "n_tasks": len(grid.task_ids), "seed": cfg.seed,
                             "ckpts": ckpts, "n_boot": cfg.n_boot, "retrieval_chance_top1": 1 / len(grid.task_ids)},
                    "checkpoints": {}}
    per_task: dict = {}
    # Small sets: one thread. OpenMP (k-means) and BLAS threads cost more than they save on a few hundred
    # rows, and far more on a loaded machine (a 30 x 30 k-NN search took 18 ms instead of 0.1).
    # threadpoolctl limits the libraries loaded when it is entered: load k-means first.
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits
    cka_pool = "mean" if "mean" in poolings else poolings[0]
    result["meta"]["cka_pooling"] = cka_pool
    with threadpool_limits(limits=1 if len(rows) <= 5000 else None):
        _fill_checkpoints(result, per_task, acts, ckpts, poolings, hooks, grid, row_lang_names, cfg, log)
        if baselines:
            result["baselines"] = {}
        for name, vectors in (baselines or {}).items():
            if len(vectors) != len(rows):
                raise ValueError(f"baseline {name}: {len(vectors)} vectors for {len(rows)} rows")
            measured = norm_metrics(np.asarray(vectors), grid, row_lang_names, cfg)
            result["baselines"][name] = {norm: m for norm, (m, _) in measured.items()}
            for (ckpt, pooling, norm, hook), pt in per_task.items():
                layer = result["checkpoints"][ckpt][pooling][norm][hook]
                layer[f"excess_over_{name}"] = excess(layer, pt, *measured[norm], cfg)
            if log:
                log(f"metrics baseline {name}")
        result["cka_layers"] = {c: {"layers": hooks, **_jsonable(cka_matrices([acts[c][cka_pool][h] for h in hooks]))}
                                for c in ckpts}
        result["cka_ckpts"] = {h: {"ckpts": ckpts, **_jsonable(cka_matrices([acts[c][cka_pool][h] for c in ckpts]))}
                               for h in hooks}
    result["tests"] = permutation_tests(per_task, ckpts, hooks, cfg)
    result["alignment_transfer"] = alignment_transfer(per_task, grid, ckpts, hooks, cfg, transfer, outcomes)
    return result


def _fill_checkpoints(result: dict, per_task: dict, acts: dict, ckpts, poolings, hooks, grid: Grid,
                      row_lang_names: list[str], cfg: ProbeConfig, log) -> None:
    for ckpt in ckpts:
        result["checkpoints"][ckpt] = {}
        for pooling in poolings:
            result["checkpoints"][ckpt][pooling] = {}
            by_norm: dict = {norm: {} for norm in cfg.norms}
            for hook in hooks:
                for norm, (m, pt) in norm_metrics(acts[ckpt][pooling][hook], grid, row_lang_names, cfg).items():
                    by_norm[norm][hook] = m
                    per_task[(ckpt, pooling, norm, hook)] = pt
            result["checkpoints"][ckpt][pooling] = by_norm
            if log:
                log(f"metrics {ckpt} {pooling}: {len(hooks)} layers x {len(cfg.norms)} norms")


def permutation_tests(per_task: dict, ckpts: Sequence[str], hooks: Sequence[str], cfg: ProbeConfig) -> list[dict]:
    """A vs B on each test metric, at each layer and normalisation, for the TEST_PAIRS present;
    p-values Holm-adjusted over the whole list ("p_adjusted"), verdicts at 0.05 on the adjusted value."""
    pooling = cfg.alignment_pooling
    tests = []
    for a, b in TEST_PAIRS:
        if a not in ckpts or b not in ckpts:
            continue
        for metric in cfg.test_metrics:
            for norm in cfg.norms:
                for hook in hooks:
                    va = per_task[(a, pooling, norm, hook)][metric]
                    vb = per_task[(b, pooling, norm, hook)][metric]
                    if va is None or vb is None:
                        res = {"effect": None, "ci95": None, "p_value": None, "n": 0}
                    else:
                        res = stats.paired_permutation(va, vb, n_perm=cfg.n_perm, seed=cfg.seed, n_boot=cfg.n_boot)
                    tests.append({"name": f"{a} vs {b}", "metric": metric, "layer": hook, "pooling": pooling,
                                  "norm": norm, "a": a, "b": b, **res})
    for t, p in zip(tests, holm([t["p_value"] for t in tests])):
        t["p_adjusted"] = p
        if p is None:
            t["verdict"] = "not computable"
        elif p < stats.ALPHA:
            t["verdict"] = f"{t['a']} > {t['b']}" if t["effect"] > 0 else f"{t['a']} < {t['b']}"
        else:
            t["verdict"] = "no detectable difference"
    return tests


def _alignment(pt: dict, src: str, lang: str) -> np.ndarray | None:
    """Per-task alignment of `lang` with `src`: reciprocal rank of the translation, both directions."""
    a, b = pt["pair_rr"].get((src, lang)), pt["pair_rr"].get((lang, src))
    return None if a is None or b is None else (a + b) / 2


def alignment_transfer(per_task: dict, grid: Grid, ckpts: Sequence[str], hooks: Sequence[str], cfg: ProbeConfig,
                       transfer: dict | None, outcomes: dict | None) -> dict:
    """Does alignment with the source language before RL go with transfer after it?

    per_language: for each arm, Spearman across target languages between the SFT checkpoint's alignment
    (MRR of translation retrieval with the source language, both directions) and the arm's RL gain in
    that language (transfer.json), with an exact permutation p-value and no CI at so few languages
    (`stats.spearman`). There is no pooled "all": the arms share the same languages, so their points are
    not independent. Each point carries its kind ("seen" or "zero_shot") when transfer.json says.
    per_task: among (task, target language) units the SFT checkpoint fails (mean pass < 0.5), do the
    ones RL fixed (RL checkpoint's mean pass >= 0.5) have higher alignment? Alignment is ranked within
    each language first, so that languages' different levels do not drive the test. Effect = AUC (0.5:
    no relation); its CI and p-value resample tasks (a task's units in every language move together)."""
    from scipy.stats import rankdata
    layer = resolve_alignment_layer(cfg.alignment_layer, hooks)
    src = cfg.source_lang
    out: dict = {"layer": layer, "pooling": cfg.alignment_pooling, "norm": cfg.alignment_norm,
                 "source_lang": src, "alignment": f"MRR of {src}<->lang translation retrieval",
                 "per_language": {}, "per_task": {}}
    targets = [lang for lang in grid.langs if lang != src]
    if src not in grid.langs or not targets:
        out["note"] = f"the probe set has no {src} or no other language"
        return out
    boot = dict(n_boot=cfg.n_boot, seed=cfg.seed)
    info = (transfer or {}).get("_languages") or {}
    zero_shot = set(info.get("zero_shot") or ())
    kind = (lambda lang: "zero_shot" if lang in zero_shot else "seen") if info.get("seen") is not None else None
    arms = [c.removeprefix("sft-") for c in ckpts if c.startswith("sft-")]
    for arm in arms:
        pt = per_task[(f"sft-{arm}", cfg.alignment_pooling, cfg.alignment_norm, layer)]
        if transfer and arm in transfer:
            points = []
            for lang in targets:
                gain = (transfer[arm].get(lang) or {}).get("gain")
                al = _alignment(pt, src, lang)
                if gain is not None and al is not None:
                    points.append({"lang": lang, "alignment": float(al.mean()), "gain": float(gain),
                                   **({"kind": kind(lang)} if kind else {})})
            x, y = [p["alignment"] for p in points], [p["gain"] for p in points]
            out["per_language"][arm] = {**stats.spearman(x, y, **boot), "points": points}
        rl = f"rl-{arm}"
        if outcomes and f"sft-{arm}" in outcomes and rl in outcomes:
            scores, fixed, tasks = [], [], []
            for lang in targets:
                al = _alignment(pt, src, lang)
                if al is None:
                    continue
                ranks = rankdata(al) / len(al)                              # within-language percentile
                for t, task_id in enumerate(grid.task_ids):
                    before = outcomes[f"sft-{arm}"].get((task_id, lang))
                    after = outcomes[rl].get((task_id, lang))
                    if before is None or after is None or before >= 0.5:
                        continue
                    scores.append(ranks[t])
                    fixed.append(after >= 0.5)
                    tasks.append(task_id)
            res = stats.rank_test(scores, fixed, clusters=tasks, **boot)
            out["per_task"][arm] = {"effect": res["auc"], "effect_name": "AUC", "ci95": res["ci95"],
                                    "p_value": res["p_value"], "n": res["n"], "n_fixed": res["n_positive"],
                                    "n_tasks": res["n_clusters"],
                                    **{k: res[k] for k in ("p_bound", "p_method", "ci_note") if k in res}}
    return out
