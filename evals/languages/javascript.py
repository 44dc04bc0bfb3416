"""JavaScript on Node.js: pure-computation programs run in a warm Node process (a fresh `vm` context
each); anything that touches the outside world is re-run in a fresh `node` process."""
from .base import Language

LANG = Language(
    name="javascript", ext="js", aliases=("js", "node"),
    run=("node", "--max-old-space-size={mem_mb}", "{src}"), version=("node", "--version"),
    debian=("nodejs", "node-lodash"), mode="node", rlimit_as=False,
    env=(("NODE_PATH", "/usr/share/nodejs:/usr/lib/nodejs"),),
    syntax_patterns=(r"(?m)^SyntaxError\b",),
    failure_patterns=(r"AssertionError", r"(?m)^Error at \d+th assert", r"test case \d+ (failed|did not pass)"),
    memory_patterns=(r"JavaScript heap out of memory", r"Allocation failed"),
    fast_flags_note="warm runner: fresh vm context per program, process fallback",
)
