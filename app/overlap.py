"""How much do translations share lexically, under each of the world's namings? A model-free measure of
the probe set: the bag-of-tokens baseline (`probe.baselines.bag_of_tokens_metrics`) and the Jaccard
overlap of translations' token-id sets and identifier sets, for `naming = "shared"` and `"per_language"`.

    python -m app.overlap [--recipe toy] [--run RUN] [--split test] [--n-tasks 300] [--text body] [--json OUT]

The tokenizer is the run's (`RUN/tokenizer`) with --run, else one trained as the pipeline's tokenizer
stage trains it (`train.tokenizer.build_tokenizer` on the recipe's world and `[tokenizer]` table: the
shared naming, as every run so far). Prints one line per naming and the JSON object.
Not for: probing a model (`app.probing`).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

from .runfs import write_json


def _identifiers(lang: str, code: str) -> set[str]:
    """Names in `code` outside string literals (PHP and Perl: the names after a sigil)."""
    code = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', " ", code)
    if lang in ("php", "perl"):
        return set(re.findall(r"(?<=[$@])[A-Za-z_]\w*", code))
    return set(re.findall(r"[A-Za-z_]\w*", code))


def _mean_pair_jaccard(sets_by_lang: dict[str, list[set]]) -> float:
    langs = list(sets_by_lang)
    vals = []
    for i, a in enumerate(langs):
        for b in langs[i + 1:]:
            for x, y in zip(sets_by_lang[a], sets_by_lang[b]):
                vals.append(len(x & y) / len(x | y) if x | y else 0.0)
    return sum(vals) / len(vals) if vals else float("nan")


def overlap(world_cfg, tokenizer, split: str = "test", n_tasks: int = 300, text: str = "body",
            langs=None, n_boot: int = 200, max_tokens: int = 512) -> dict:
    """{naming: {"bag_of_tokens": {norm: {"top1", "mrr", "parallel_cosine"}}, "token_jaccard",
    "identifier_jaccard", "n_tasks"}} for each naming of the world (the same tasks under both)."""
    from evals.world import LANGS, World
    from evals.world.render import NAMINGS
    from probe.baselines import bag_of_tokens_metrics, pooled_token_ids
    from probe.config import ProbeConfig
    from probe.programs import world_programs
    langs = list(langs or LANGS)
    cfg = ProbeConfig(poolings=("mean",), norms=("raw", "centered"), n_boot=n_boot, n_perm=0)
    out = {}
    for naming in NAMINGS:
        rows = world_programs(World(replace(world_cfg, naming=naming)), split, langs, n_tasks, text)
        texts = [r.code for r in rows]
        ids = pooled_token_ids(tokenizer, texts, max_tokens)
        m = bag_of_tokens_metrics(ids, [r.lang for r in rows], [r.task_id for r in rows], cfg)
        tok_sets = {lang: [set(i) for r, i in zip(rows, ids) if r.lang == lang] for lang in langs}
        name_sets = {lang: [_identifiers(lang, r.code) for r in rows if r.lang == lang] for lang in langs}
        out[naming] = {
            "n_tasks": len(rows) // len(langs),
            "bag_of_tokens": {norm: {"top1": v["retrieval_mean"]["top1"], "mrr": v["retrieval_mean"]["mrr"],
                                     "parallel_cosine": v["parallel_cosine"]} for norm, v in m.items()},
            "token_jaccard": _mean_pair_jaccard(tok_sets),
            "identifier_jaccard": _mean_pair_jaccard(name_sets),
            "tokens_per_program": sum(len(i) for i in ids) / len(ids),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.overlap", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="toy", help="recipe whose world and tokenizer settings are used (default toy)")
    p.add_argument("--run", type=Path, default=None, help="a run folder: its world config and its tokenizer")
    p.add_argument("--split", default="test")
    p.add_argument("--n-tasks", type=int, default=300)
    p.add_argument("--text", default="body", choices=("code", "body", "description"))
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)

    from train.recipe import load_recipe
    if args.run is not None:
        from transformers import AutoTokenizer

        from .probing import world_of
        world_cfg = world_of(args.run).config
        tok = AutoTokenizer.from_pretrained(args.run / "tokenizer")
        tokenizer_of = str(args.run / "tokenizer")
    else:
        from evals.world import World
        from train.tokenizer import build_tokenizer
        recipe = load_recipe(args.recipe)
        world_cfg = recipe.world
        tok = build_tokenizer(World(replace(world_cfg, naming="shared")), recipe.tokenizer)
        tokenizer_of = f"trained as the pipeline trains it: recipe {args.recipe}, shared naming"
    res = overlap(world_cfg, tok, args.split, args.n_tasks, args.text, n_boot=args.n_boot)
    for naming, r in res.items():
        b = r["bag_of_tokens"]
        print(f"{naming:>12}: bag-of-tokens top-1 raw {b['raw']['top1']['value']:.3f} "
              f"centered {b['centered']['top1']['value']:.3f} (chance {1 / r['n_tasks']:.3f}); "
              f"token-set Jaccard {r['token_jaccard']:.3f}; identifier Jaccard {r['identifier_jaccard']:.3f}",
              file=sys.stderr)
    doc = {"split": args.split, "text": args.text, "tokenizer": tokenizer_of, "world": world_cfg.__dict__,
           "namings": res}
    if args.json:
        write_json(args.json, doc)
    print(json.dumps(doc, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
