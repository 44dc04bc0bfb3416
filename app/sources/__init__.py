"""Task sources: where a study's base checkpoint, SFT pool, RL tasks and evaluation sets come from.

The pipeline (`app/pipeline.py`) builds one stage graph for every recipe; what differs between the
synthetic world and a pretrained model on real benchmarks is a `TaskSource`:

- `head_stages(ctx)`: the stages before SFT (world -> tokenizer -> pretrain, or model -> bench-data);
  `base_after` names the one that makes the base checkpoint, `pool_after` the one the SFT pool needs,
  `cheap_stages` those a `--stage` run does on the way when they are not done;
- `base_model(ctx)`, `tokenizer(ctx)`: the base checkpoint's path and the tokenizer SFT trains with;
- `sft_data(ctx)`: the SFT arms' datasets and their manifest; `align_pairs(ctx)`: the align arm's parallel
  pairs (seen only by its contrastive loss); `entropy_eval(ctx)`: the entropy probe set;
- `rl_tasks(ctx, lang)`, `rl_tokenizer(ctx)`: what GRPO trains on in `lang`;
- `eval_sets(ctx)` (`EvalSet`s, loaded once per run) and `eval_set_names()` (without loading them),
  `eval_tokenizer(ctx, path)`, `eval_dtype`; `scores_by_set`: whether evaluation files are keyed by set;
- `executed_langs()`: languages whose programs the run executes (preflight checks their runtimes);
- `default_probe(cls)`, `lexical_control`: the probe stage without a `[probe]` table, and whether the
  lexical control set exists for this source; `probe(ctx, cfg)`: the probe stage's work;
- `check_inputs()`: source-specific bad input found before the run folder is touched;
  `dry_run(errors, warnings)`: what `psft run --dry-run` checks beyond the graph.

`source_for(recipe)` picks the source of a loaded recipe (`io_bench.IOBenchSource` for a bench recipe with
`[io].layout`: a stdin/stdout dataset). Not for: the graph itself or where outputs
go (`app/pipeline.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvalSet:
    """One evaluation set: its name (the rows' `split` unless `splits` says otherwise), tasks and config."""
    name: str
    tasks: list
    config: object
    splits: dict[str, str] = field(default_factory=dict)   # task id -> the `split` its rows record

    def split_of(self, task_id: str) -> str:
        return self.splits.get(task_id, "") if self.splits else self.name


def source_for(recipe):
    """The task source of a loaded recipe: a bench recipe's stdin/stdout dataset or benchmarks and model, else
    the world."""
    if getattr(recipe, "kind", "") == "bench" and recipe.io.layout:
        from .io_bench import IOBenchSource
        return IOBenchSource(recipe)
    if getattr(recipe, "kind", "") == "bench":
        from .bench import BenchSource
        return BenchSource(recipe)
    from .world import WorldSource
    return WorldSource(recipe)
