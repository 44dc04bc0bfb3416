"""What an eraser did to a representation of the parallel probe set (rows: `probe.programs.ProgramRow`s,
language-major, the same tasks in every language): cross-language retrieval (`probe.retrieval`, mean top-1
over ordered language pairs, raw and centred), debiased linear CKA between languages (`probe.cka`), and a
grouped linear probe of the language (`probe.clustering.decode_language`). Erasing the language should
raise retrieval and leave the probe at chance. Not for: fitting or applying erasers (`erasure.py`).
"""
from __future__ import annotations


def cross_language_retrieval(X, rows) -> dict:
    """Mean top-1 retrieval over ordered language pairs (row i of one language = task i of another), raw and
    with each language's mean removed."""
    import numpy as np

    from ..normalize import normalize
    from ..retrieval import retrieval_scores
    langs = list(dict.fromkeys(r.lang for r in rows))
    row_langs = [r.lang for r in rows]
    out = {}
    for norm in ("raw", "centered"):
        Z = normalize(X, row_langs, norm)
        by = {la: Z[[i for i, r in enumerate(rows) if r.lang == la]] for la in langs}
        vals = [float(retrieval_scores(by[a], by[b], ks=(1,))["top1"].mean()) for a in langs for b in langs if a != b]
        out[norm] = float(np.mean(vals)) if vals else None
    out["chance"] = 1.0 / max(1, len(rows) // max(1, len(langs)))
    return out


def cross_language_cka(X, rows) -> float | None:
    """Mean debiased linear CKA over pairs of languages (rows of two languages = the same tasks)."""
    import numpy as np

    from ..cka import cka_matrices
    langs = list(dict.fromkeys(r.lang for r in rows))
    reps = [X[[i for i, r in enumerate(rows) if r.lang == la]] for la in langs]
    if len(reps) < 2 or len(reps[0]) < 4:
        return None
    M = cka_matrices(reps, debiased=True)["debiased"]
    vals = [M[i, j] for i in range(len(reps)) for j in range(i + 1, len(reps)) if np.isfinite(M[i, j])]
    return float(np.mean(vals)) if vals else None


def language_probe_accuracy(X, rows) -> float | None:
    from ..clustering import decode_language
    hit = decode_language(X, [r.lang for r in rows], [r.task_id for r in rows])
    return None if hit is None else float(hit.mean())
