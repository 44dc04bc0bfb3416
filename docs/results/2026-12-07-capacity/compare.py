"""Cross-configuration contrasts of centred top-1 retrieval (mean over the 30 ordered language pairs),
paired over the probe set's tasks (the same world, tasks, languages and row order in every run: checked).
Reads RUN/probes/<ckpt>/rows.jsonl and acts.mean.safetensors. Arguments: RUN_A:CKPT:HOOK,RUN_B:CKPT:HOOK ...;
prints B - A with the sign-flip permutation p and the bootstrap CI over tasks (probe.stats.paired_permutation)."""
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from probe import stats
from probe.metrics import make_grid
from probe.normalize import normalize
from probe.retrieval import retrieval_scores


def per_task_top1(run, ckpt, hook):
    rows = [json.loads(x) for x in (Path(run) / "probes" / ckpt / "rows.jsonl").read_text().splitlines()]
    X = load_file(str(Path(run) / "probes" / ckpt / "acts.mean.safetensors"))[hook]
    grid = make_grid(rows)
    Xn = normalize(X, [r["lang"] for r in rows], "centered")
    per_lang = [Xn[grid.index[i]] for i in range(len(grid.langs))]
    hits = [retrieval_scores(per_lang[a], per_lang[b])["top1"]
            for a in range(len(per_lang)) for b in range(len(per_lang)) if a != b]
    return [(r["task_id"], r["lang"]) for r in rows], np.mean(hits, axis=0)

def main(pairs):
    # each: "RUN_A:CKPT:HOOK,RUN_B:CKPT:HOOK"
    for spec in pairs:
        (ra, ca, ha), (rb, cb, hb) = (x.split(":") for x in spec.split(","))
        ka, va = per_task_top1(ra, ca, ha)
        kb, vb = per_task_top1(rb, cb, hb)
        assert ka == kb, "different probe rows"
        res = stats.paired_permutation(vb, va, n_perm=10000, seed=0, n_boot=1000)
        print(f"{Path(rb).name}:{cb}:{hb} ({vb.mean():.3f}) - {Path(ra).name}:{ca}:{ha} ({va.mean():.3f}) = "
              f"{res['effect']:+.3f} [{res['ci95'][0]:+.3f}, {res['ci95'][1]:+.3f}] p={res['p_value']:.4f} n={res['n']}")

if __name__ == "__main__":
    main(sys.argv[1:])
