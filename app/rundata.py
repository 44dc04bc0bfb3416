"""Reading a finished (or half-finished) run folder for the report and the explorer: the recipe, scores,
transfer table, evaluation rows, what `psft probe` wrote (rows, activations, metrics) and what `psft
intervene` wrote (`interventions/<name>.json`; their rows only when asked for).

Every reader tolerates what is absent (a run without probes, a checkpoint not evaluated yet) and
returns empty values; `open_run` refuses only a path that is not a run at all. Activations are read
with safetensors (memory-mapped, one layer at a time). Not for: writing anything (`runfs.py`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .runfs import read_json

# Display order of the checkpoints a study writes; others (e.g. oracle-<lang>) follow in name order.
CKPT_ORDER = ("base", "sft-mono", "sft-multi", "sft-parallel", "rl-mono", "rl-multi", "rl-parallel")
LANG_ORDER = ("python", "javascript", "ruby", "php", "lua", "perl")


class NotARun(ValueError):
    """The path is not a run folder; `str(e)` says why."""


def ckpt_sort_key(name: str):
    return (CKPT_ORDER.index(name), "") if name in CKPT_ORDER else (len(CKPT_ORDER), name)


def lang_sort_key(name: str):
    return (LANG_ORDER.index(name), "") if name in LANG_ORDER else (len(LANG_ORDER), name)


def layer_label(tensor_name: str) -> str:
    """`hook_embed` -> "embed", `blocks.3.hook_resid_post` -> "3" (metrics.json's layer keys)."""
    if tensor_name == "hook_embed":
        return "embed"
    m = re.fullmatch(r"blocks\.(\d+)\.hook_resid_post", tensor_name)
    return m.group(1) if m else tensor_name


def tensor_name(label: str) -> str:
    if label == "embed":
        return "hook_embed"
    return f"blocks.{label}.hook_resid_post" if str(label).isdigit() else str(label)


def _layer_order(label: str):
    return -1 if label == "embed" else int(label) if label.isdigit() else 10**6


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@dataclass
class Run:
    root: Path
    config: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        r = self.root
        return f"{r.parent.name}/{r.name}" if r.name.startswith("seed-") else r.name

    @cached_property
    def scores(self) -> dict:
        return read_json(self.root / "scores.json", {}) or {}

    @cached_property
    def transfer(self) -> dict:
        return read_json(self.root / "transfer.json", {}) or {}

    @cached_property
    def scores_by_benchmark(self) -> dict:
        """{benchmark: {ckpt: {lang: cell}}} of a bench run that evaluated several benchmarks (e.g. MBXP and
        Multi-HumanEval; scores.json holds the first), or {}."""
        return read_json(self.root / "scores_by_benchmark.json", {}) or {}

    @cached_property
    def transfer_by_benchmark(self) -> dict:
        """{benchmark: transfer table} beside scores_by_benchmark.json, or {}."""
        return read_json(self.root / "transfer_by_benchmark.json", {}) or {}

    def verdict_coverage(self) -> tuple[int, int]:
        """(probed programs, those with a test verdict: their task and language evaluated in some sft-* or
        rl-* checkpoint's evals/<ckpt>.jsonl), on the first probed checkpoint's rows; (0, 0) without probes."""
        if not self.probe_ckpts:
            return 0, 0
        rows = self.rows(self.probe_ckpts[0])
        evaluated: set[tuple[str, str]] = set()
        for c in self.ckpts:
            if c.startswith(("sft-", "rl-")):
                evaluated |= {(r.get("task_id"), r.get("lang")) for r in self.eval_rows(c)}
        return len(rows), sum((r.get("task_id"), r.get("lang")) in evaluated for r in rows)

    @property
    def intervention_names(self) -> list[str]:
        """Names of the interventions run on this run (`interventions/<name>.json`), by kind (transplant,
        patch, erase) then name; [] when none. Lists the folder each time (a file written while the
        explorer runs appears); reads no file."""
        d = self.root / "interventions"
        if not d.is_dir():
            return []
        names = [p.name[:-5] for p in d.glob("*.json") if not p.name.startswith(".")]
        kinds = ("transplant", "patch", "erase")
        return sorted(names, key=lambda n: (next((i for i, k in enumerate(kinds) if n.startswith(k)), len(kinds)), n))

    def intervention(self, name: str) -> dict:
        """interventions/<name>.json, or {} when it is absent or not an intervention's result."""
        data = read_json(self.root / "interventions" / f"{name}.json", {})
        return data if isinstance(data, dict) and isinstance(data.get("conditions"), dict) else {}

    @cached_property
    def interventions(self) -> dict[str, dict]:
        """{name: its JSON} of every intervention result of the run, in `intervention_names` order."""
        return {n: d for n in self.intervention_names if (d := self.intervention(n))}

    def intervention_rows(self, name: str) -> list[dict]:
        """interventions/<name>.rows.jsonl: one row per condition, task and language (completion, status,
        passed); [] when absent (e.g. a file pooled over seeds: each seed keeps its own rows)."""
        return read_jsonl(self.root / "interventions" / f"{name}.rows.jsonl")

    @cached_property
    def metrics(self) -> dict:
        """probes/metrics.json, or {} when the probe stage has not run."""
        return read_json(self.root / "probes" / "metrics.json", {}) or {}

    @property
    def has_probes(self) -> bool:
        return bool(self.probe_ckpts)

    @cached_property
    def ckpts(self) -> list[str]:
        """Checkpoints with scores or probes, in study order."""
        names = set(self.scores) | set(self.probe_ckpts)
        ckpt_dir = self.root / "checkpoints"
        if ckpt_dir.is_dir():
            names |= {p.name for p in ckpt_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
        return sorted(names, key=ckpt_sort_key)

    @cached_property
    def probe_ckpts(self) -> list[str]:
        d = self.root / "probes"
        if not d.is_dir():
            return []
        return sorted((p.name for p in d.iterdir() if (p / "rows.jsonl").exists()), key=ckpt_sort_key)

    @cached_property
    def langs(self) -> list[str]:
        langs = set(self.metrics.get("meta", {}).get("langs") or [])
        for per_lang in self.scores.values():
            langs |= set(per_lang)
        return sorted(langs, key=lang_sort_key)

    def poolings(self, ckpt: str | None = None) -> list[str]:
        ckpt = ckpt or (self.probe_ckpts[0] if self.probe_ckpts else None)
        if ckpt is None:
            return []
        found = [p.name.split(".")[1] for p in (self.root / "probes" / ckpt).glob("acts.*.safetensors")]
        order = list(self.metrics.get("meta", {}).get("poolings") or ["mean", "last"])
        return sorted(found, key=lambda p: order.index(p) if p in order else len(order))

    def norms(self) -> list[str]:
        return list(self.metrics.get("meta", {}).get("norms") or ["raw", "centered", "standardized"])

    def act_path(self, ckpt: str, pooling: str) -> Path:
        return self.root / "probes" / ckpt / f"acts.{pooling}.safetensors"

    def layers(self, ckpt: str | None = None, pooling: str | None = None) -> list[str]:
        """Layer labels present in a checkpoint's activation file ("embed", "0", "1", ...)."""
        ckpt = ckpt or (self.probe_ckpts[0] if self.probe_ckpts else None)
        pools = self.poolings(ckpt) if ckpt else []
        if not pools:
            return [layer_label(str(x)) for x in self.metrics.get("meta", {}).get("layers") or []]
        from safetensors import safe_open
        with safe_open(str(self.act_path(ckpt, pooling or pools[0])), framework="numpy") as f:
            labels = [layer_label(k) for k in f.keys()]
        return sorted(labels, key=_layer_order)

    def rows(self, ckpt: str) -> list[dict]:
        return read_jsonl(self.root / "probes" / ckpt / "rows.jsonl")

    def acts(self, ckpt: str, pooling: str, layer: str):
        """float32 array [n_rows, d] of one layer."""
        from safetensors import safe_open
        with safe_open(str(self.act_path(ckpt, pooling)), framework="numpy") as f:
            return f.get_tensor(tensor_name(layer))

    def eval_rows(self, ckpt: str) -> list[dict]:
        return read_jsonl(self.root / "evals" / f"{ckpt}.jsonl")

    @property
    def control(self) -> dict:
        """metrics.json's "control" block (the lexical control set, laid out as the main block), or {}."""
        return self.metrics.get("control") or {}

    def layer_metrics(self, ckpt: str, pooling: str, norm: str, control: bool = False) -> dict[str, dict]:
        """{layer label: metrics} from metrics.json (empty when absent), in layer order; `control`: of the
        lexical control set."""
        block = self.control if control else self.metrics
        per = (((block.get("checkpoints") or {}).get(ckpt) or {}).get(pooling) or {}).get(norm) or {}
        out = {layer_label(str(k)): v for k, v in per.items()}
        return dict(sorted(out.items(), key=lambda kv: _layer_order(kv[0])))

    def cka_layers(self, ckpt: str) -> dict:
        """{"layers": [labels], "linear": [[..]], "debiased": [[..]]} of one checkpoint ({} when absent)."""
        m = dict((self.metrics.get("cka_layers") or {}).get(ckpt) or {})
        if m.get("layers"):
            m["layers"] = [layer_label(str(x)) for x in m["layers"]]
        return m

    def cka_ckpts(self, layer: str) -> dict:
        """{"ckpts": [...], "linear": [[..]], "debiased": [[..]]} at one layer ({} when absent)."""
        per = {layer_label(str(k)): v for k, v in (self.metrics.get("cka_ckpts") or {}).items()}
        return per.get(str(layer)) or {}


def open_run(path: str | Path) -> Run:
    """A run folder: one with config.json or scores.json. Raises NotARun naming the problem."""
    root = Path(path)
    if not root.exists():
        raise NotARun(f"{root}: no such run folder")
    if not root.is_dir():
        raise NotARun(f"{root}: not a folder")
    config = read_json(root / "config.json")
    if config is None and not (root / "scores.json").exists():
        raise NotARun(f"{root}: not a run folder (no config.json or scores.json; make one with `psft run`)")
    return Run(root=root, config=config or {})


def find_runs(base: Path = Path("artifacts") / "runs") -> list[Path]:
    """Run folders under `base` (also `<out>/seed-<s>/`), newest first."""
    if not base.is_dir():
        return []
    found = {p.parent for p in base.glob("*/config.json")} | {p.parent for p in base.glob("*/seed-*/config.json")}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
