"""Per-run table from RUN/probes/metrics.json: centred (and raw) top-1 retrieval, mean over ordered language
pairs, value [95% CI] and excess over the bag-of-tokens baseline [paired 95% CI], per checkpoint and layer."""
import json
import sys
from pathlib import Path


def short(h):
    return "embed" if h == "hook_embed" else "block " + h.split(".")[1]

for run in sys.argv[1:]:
    m = json.load(open(Path(run) / "probes" / "metrics.json"))
    layers = m["meta"]["layers"]
    for norm in ("centered", "raw"):
        bag = m["baselines"]["bag_of_tokens"][norm]["retrieval_mean"]["top1"]
        print(f"\n`{Path(run).name}`, {norm}, top-1 (bag of tokens {bag['value']:.3f} "
              f"[{bag['ci95'][0]:.3f}, {bag['ci95'][1]:.3f}]):\n")
        print("| checkpoint | " + " | ".join(short(h) for h in layers) + " |")
        print("|---" * (len(layers) + 1) + "|")
        for ck, by in m["checkpoints"].items():
            cells = []
            for h in layers:
                c = by["mean"][norm][h]
                v, ex = c["retrieval_mean"]["top1"], c["excess_over_bag_of_tokens"]["retrieval_mean"]["top1"]
                cells.append(f"{v['value']:.3f} [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}]<br>excess {ex['value']:+.3f} "
                             f"[{ex['ci95'][0]:+.3f}, {ex['ci95'][1]:+.3f}]")
            print(f"| {ck} | " + " | ".join(cells) + " |")
    tests = [t for t in m.get("tests", []) if t["norm"] == "centered" and t["metric"] == "retrieval_top1"]
    for t in tests:
        print(f"test {t['name']} {short(t['layer'])}: {t['effect']:+.3f} [{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}] "
              f"p_adj={t['p_adjusted']:.3f} {t['verdict']}")
