"""TypeScript: type-checked and compiled by `tsc`, run on Node.js (warm runner keeps the compiler
loaded and the standard library parsed)."""
from .base import Language
from .javascript import seal_source


def seal(code: str, tests: str, prelude: str = "") -> str:
    """A TypeScript program that prints its proof token only when its last test has passed (PROOF in
    base.py): the JavaScript prologue and epilogue, which type-check under the flags below unchanged
    (the prologue's body is a string for the Function constructor; `__psft_end` is read in an arrow, where
    a use before the declaration is allowed), and compile to themselves."""
    return seal_source(code, tests, prelude)


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
    seal=seal,
)
