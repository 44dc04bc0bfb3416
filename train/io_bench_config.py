"""`[io]` of a bench recipe: the study on a stdin/stdout dataset (code_contests or APPS/TACO layout) instead
of MBXP. With `layout` set, the run's task source is `app.sources.io_bench` (references checked in the
sandbox, SFT pool and RL problems from the data, evaluation in every language of `[eval].langs`, whether or
not the data has a reference in it). Every field is left out of the stage hashes at its default, so
recipes without `[io]` keep theirs. Loaded by `train.bench_recipe`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .config import require

LAYOUTS = ("code-contests", "apps")


@dataclass(frozen=True)
class IOBenchConfig:
    layout: str = field(default="", metadata={
        "hash": "if_set",
        "help": "'code-contests' (deepmind/code_contests' schema) or 'apps' (APPS / TACO: question, input_output, "
                "solutions); '' = not an I/O recipe (MBXP from [data])."})
    data: str = field(default="", metadata={
        "hash": "if_set",
        "help": "The dataset: a JSONL / JSON / Parquet file, a folder of them, or a hub id (needs `datasets` and "
                "network); '' = `[data].mbxp`, which `psft run --data` sets."})
    split: str = field(default="train", metadata={"hash": "if_set", "help": "Split of a hub id (files: ignored)."})
    eval_data: str = field(default="", metadata={
        "hash": "if_set",
        "help": "A separate evaluation dataset in the same layout (e.g. code_contests' test split); '' = the first "
                "`eval_problems` problems of `data`, never trained on."})
    eval_split: str = field(default="test", metadata={"hash": "if_set", "help": "Split of a hub id eval_data."})
    eval_problems: int = field(default=50, metadata={
        "hash": "if_set", "help": "Problems evaluated, the same in every language (0 = all of eval_data)."})
    sft_problems: int = field(default=200, metadata={
        "hash": "if_set",
        "help": "SFT pool: at most this many problems with a passing reference in every SFT arm language."})
    rl_problems: int = field(default=100, metadata={
        "hash": "if_set", "help": "RL problems: at most this many with a passing reference in [rl].lang."})
    tests: tuple[str, ...] = field(default=("public", "private", "generated"), metadata={
        "hash": "if_set", "help": "Test sets that judge (references, rewards, evaluation)."})
    max_tests: int = field(default=0, metadata={
        "hash": "if_set", "help": "Judge on at most this many tests per problem (0 = all): bounds RL's cost."})
    time_scale: float = field(default=1.0, metadata={
        "hash": "if_set", "help": "Multiplies each problem's time limit (contest limits are set for C++)."})

    def __post_init__(self):
        require(self, "layout", self.layout in ("", *LAYOUTS), f"must be '' or one of {', '.join(LAYOUTS)}")
        for name in ("eval_problems", "sft_problems", "rl_problems", "max_tests"):
            require(self, name, getattr(self, name) >= 0, "must be >= 0")
        require(self, "tests", bool(self.tests) and set(self.tests) <= {"public", "private", "generated"},
                "must name test sets among public, private, generated")
        require(self, "time_scale", self.time_scale > 0, "must be > 0")

    def judge_config(self):
        from evals.benchmarks.io_judge import JudgeConfig
        return JudgeConfig(tests=tuple(self.tests), time_scale=self.time_scale, max_tests=self.max_tests or None)
