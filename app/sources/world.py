"""The synthetic world as a task source: world -> tokenizer -> pretrain make the base checkpoint; the
SFT arms draw from the world's train split, RL from its `rl` split (in any of its languages), and the
one evaluation set is the held-out splits (`test`, `heldout_comp`, `rl_test`; rows record which).

Stage functions here (`world_stage`, `tokenizer_stage`, `pretrain_stage`) take a `RunContext` whose
source is a `WorldSource`, like every stage of `app/pipeline.py`. Not for: the graph (`app/pipeline.py`).
"""
from __future__ import annotations

from functools import partial

from ..runfs import write_json
from ..stages import Stage
from . import EvalSet

HELD_OUT_SPLITS = ("test", "heldout_comp", "rl_test")


def world_stage(ctx) -> None:
    """data/world.json: the world's statistics and the task ids of every split."""
    from evals.world import SPLITS
    world = ctx.source.world
    write_json(ctx.root / "data" / "world.json", {
        "stats": world.stats(), "splits": {s: [t.id for t in world.split(s)] for s in SPLITS}})


def tokenizer_stage(ctx) -> None:
    """tokenizer/: a byte-level BPE trained on the world's programs."""
    from train.tokenizer import build_tokenizer
    tok = build_tokenizer(ctx.source.world, ctx.recipe.tokenizer)
    with ctx.output_dir(ctx.root / "tokenizer") as tmp:
        tok.save_pretrained(tmp)


def pretrain_stage(ctx) -> None:
    """checkpoints/base: the tiny Llama pretrained on non-parallel programs."""
    from train.pretrain import pretrain, pretrain_texts, valid_texts
    r, world = ctx.recipe, ctx.source.world
    tok = ctx.source.tokenizer(ctx)
    texts = pretrain_texts(world, r.pretrain, r.runtime.seed)
    with ctx.output_dir(ctx.checkpoint("base")) as tmp:
        pretrain(r.model, tok, texts, r.pretrain, out_dir=tmp, progress=ctx.progress, log=ctx.logger("pretrain"),
                 runtime=r.runtime, valid=valid_texts(world, r.pretrain))


class WorldSource:
    kind = "world"
    base_after = "pretrain"
    pool_after = "pretrain"
    scores_by_set = False
    eval_dtype = "float32"
    cheap_stages: tuple[str, ...] = ()
    lexical_control = True

    def __init__(self, recipe):
        self.recipe = recipe
        self._world = None
        self._mixtures = None

    @property
    def world(self):
        if self._world is None:
            from evals.world import World
            self._world = World(self.recipe.world)
        return self._world

    def head_stages(self, ctx) -> list[Stage]:
        h = self.recipe.stage_hashes()
        return [Stage("world", {"h": h["world"]}, partial(world_stage, ctx)),
                Stage("tokenizer", {"h": h["tokenizer"]}, partial(tokenizer_stage, ctx), after=["world"]),
                Stage("pretrain", {"h": h["pretrain"]}, partial(pretrain_stage, ctx), after=["tokenizer"])]

    def base_model(self, ctx) -> str:
        return str(ctx.checkpoint("base"))

    def tokenizer(self, ctx):
        """A fresh tokenizer from the run's tokenizer/ (each stage gets its own)."""
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(ctx.root / "tokenizer")

    def sft_data(self, ctx):
        if self._mixtures is None:
            from train.mixtures import build_arms
            self._mixtures = build_arms(self.world, self.tokenizer(ctx), self.recipe.sft, seed=self.recipe.runtime.seed)
        return self._mixtures

    def align_pairs(self, ctx) -> list[tuple[str, str]]:
        """The align arm's parallel pairs (texts of one task in two languages), seen only by its contrastive loss."""
        from train.mixtures import arm_align_pairs
        return arm_align_pairs(self.world, self.recipe.sft, seed=self.recipe.runtime.seed)

    def entropy_eval(self, ctx):
        from train.sft import entropy_set
        return entropy_set(self.world, self.recipe.sft.entropy_tasks)

    def rl_tasks(self, ctx, lang: str) -> list:
        return self.world.split("rl")

    def rl_tokenizer(self, ctx):
        return None   # each RL stage loads its starting checkpoint's own

    def eval_set_names(self) -> list[str]:
        return ["world"]

    def eval_sets(self, ctx) -> list[EvalSet]:
        tasks = [t for s in HELD_OUT_SPLITS for t in self.world.split(s)]
        return [EvalSet("world", tasks, self.recipe.eval, splits={t.id: t.split for t in tasks})]

    def eval_tokenizer(self, ctx, path: str):
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(path)

    def executed_langs(self) -> list[str]:
        from evals.world import LANGS
        r = self.recipe
        return [*(r.eval.langs or LANGS), r.rl.lang, *r.oracles]

    def default_probe(self, cls):
        """No [probe] table: the probe config's defaults with the lexical control set, on at most as many
        tasks as the evaluation uses (probing 200 tasks would dwarf a 10-task micro run)."""
        n_eval = self.recipe.eval.n_tasks or 0
        default = cls(lexical_control=True)
        return cls(n_tasks=min(default.n_tasks, n_eval), lexical_control=True) if 0 < n_eval < default.n_tasks \
            else default

    def probe(self, ctx, cfg) -> dict:
        from ..probing import probe_run
        return probe_run(ctx.root, cfg, progress=ctx.progress, log=ctx.logger("probe"))

    def check_inputs(self) -> None:
        pass

    def dry_run(self, errors: list, warnings: list) -> dict:
        return {"world": {"n_tasks": self.recipe.world.n_tasks, "seed": self.recipe.world.seed}}
