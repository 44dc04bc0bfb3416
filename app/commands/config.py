"""`psft config RECIPE [--set KEY=VALUE ...]`: the recipe as a run would use it — every section and
field, overrides applied and precision resolved — as TOML with each field's help text above it. The
output is itself a recipe: `psft config toy --set rl.steps=30 > my.toml; psft run --recipe my.toml`.
A bad key or value is the same one-line error `psft run` gives. An `[interventions]` table is checked as
`psft run` checks it, and the fields it leaves out are shown commented out, at their defaults."""
from __future__ import annotations

import dataclasses
import json
import math
import textwrap


def add_parser(sub):
    p = sub.add_parser("config", help="print a recipe's resolved config with each field's help",
                       description=__doc__)
    p.add_argument("recipe", help="built-in recipe (micro, toy, study, study-forms, study-joined, mechanism, smol-micro, smol, io-smol, paper) or a .toml file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one recipe value (repeatable), as `psft run --set`")
    p.add_argument("--data", default=None, help="bench recipes: the MBXP data path, as `psft run --data`")
    p.add_argument("--no-help", action="store_true", help="values only, without the help comments")
    return p


def toml_value(v) -> str | None:
    """A TOML literal for a config value; None for a value TOML cannot hold (None)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return ("-" if v < 0 else "") + ("nan" if math.isnan(v) else "inf")
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        items = [toml_value(x) for x in v]
        return None if any(x is None for x in items) else "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        items = [(k, toml_value(x)) for k, x in v.items()]
        return "{" + ", ".join(f"{json.dumps(str(k))} = {x}" for k, x in items if x is not None) + "}"
    return json.dumps(str(v))


def _comment(text: str) -> list[str]:
    return ["# " + line for line in textwrap.wrap(text, 100)] if text else []


def render(recipe, probe_help: dict[str, str], with_help: bool = True, table_help: dict | None = None,
           defaults: dict | None = None) -> str:
    """The recipe as TOML: top-level keys, then one table per section, each field under its help
    (`table_help`: section -> field -> help of the tables `app` types, besides `[probe]`'s `probe_help`;
    `defaults`: section -> the fields the table leaves out, shown commented out at their default values)."""
    table_help = {"probe": probe_help, **(table_help or {})}
    top, tables = [], []
    for f in dataclasses.fields(recipe):
        value = getattr(recipe, f.name)
        if dataclasses.is_dataclass(value):
            lines = [f"[{f.name}]"] + (_comment(f.metadata.get("help", "")) if with_help else [])
            for g in dataclasses.fields(value):
                lines += _field(g.name, getattr(value, g.name), g.metadata.get("help", ""), with_help)
            tables.append(lines)
        elif isinstance(value, dict):
            if not value and f.name == "interventions":
                continue   # optional: no table, no stages
            helps = table_help.get(f.name, {})
            lines = [f"[{f.name}]"] + (_comment(f.metadata.get("help", "")) if with_help else [])
            for k, v in value.items():
                lines += _field(k, v, helps.get(k, ""), with_help)
            for k, v in (defaults or {}).get(f.name, {}).items():
                lines += [f"# {line}" for line in _field(k, v, helps.get(k, ""), with_help)]
            tables.append(lines)
        else:
            top += _field(f.name, value, f.metadata.get("help", ""), with_help)
    blocks = ["\n".join(top)] + ["\n".join(t) for t in tables]
    return "\n\n".join(blocks) + "\n"


def _field(name: str, value, help_text: str, with_help: bool) -> list[str]:
    lines = _comment(help_text) if with_help else []
    lit = toml_value(value)
    lines.append(f"{name} = {lit}" if lit is not None else f"# {name}: not set")
    return lines


def run(args) -> int:
    from app.cli import CliError
    from app.commands.run import overrides
    from train.bench_recipe import is_bench_recipe, load_bench_recipe
    from train.config import ConfigError, help_of
    from train.recipe import RecipeError, load_recipe
    bench = is_bench_recipe(args.recipe)
    if args.data and not bench:
        raise CliError("--data is for bench recipes (smol-micro, smol, paper)")
    try:
        recipe = (load_bench_recipe if bench else load_recipe)(args.recipe, overrides(args))
    except (RecipeError, ConfigError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from e
    try:
        from probe.config import ProbeConfig
        probe_help = help_of(ProbeConfig)
    except ImportError:
        probe_help = {}
    table_help, defaults = {}, {}
    if getattr(recipe, "interventions", None):   # checked, and every field shown under its help
        from app.preflight import BadInput, interventions_config
        from app.sources import source_for
        from probe.interventions.config import InterventionStageConfig
        try:
            cfg = interventions_config(recipe, source_for(recipe))
        except BadInput as e:
            raise CliError(str(e)) from None
        table_help["interventions"] = help_of(InterventionStageConfig)
        defaults["interventions"] = {k: v for k, v in cfg.to_dict().items() if k not in recipe.interventions}
    print(render(recipe, probe_help, with_help=not args.no_help, table_help=table_help, defaults=defaults), end="")
    return 0
