"""TypeScript: type-checked and compiled by `tsc`, run on Node.js (warm runner keeps the compiler
loaded and the standard library parsed)."""
from .base import Language

LANG = Language(
    name="typescript", ext="ts", aliases=("ts",),
    build=("tsc", "--target", "es2021", "--module", "commonjs", "--lib", "es2021",
           "--types", "node", "--typeRoots", "{node_types}", "--skipLibCheck", "{src}"),
    run=("node", "--max-old-space-size={mem_mb}", "{stem}.js"), version=("tsc", "--version"),
    debian=("node-typescript", "nodejs"), mode="node", rlimit_as=False,
    env=(("NODE_PATH", "/usr/share/nodejs:/usr/lib/nodejs"),),
    syntax_patterns=(r"(?m)^SyntaxError\b", r"error TS\d+"),
    failure_patterns=(r"AssertionError", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"JavaScript heap out of memory", r"Allocation failed"),
    fast_flags_note="warm compiler (lib parsed once) + warm runner",
)
