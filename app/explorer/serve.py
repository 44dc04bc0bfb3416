"""Serve the explorer: import what its script needs first, then hand over to Streamlit's own command line
in the same process, so that the first visitor does not wait for imports (~3 s on shared cores, measured
here), and, while the server starts, load the run's default view into the explorer's caches (its
programs, the first map's vectors and projection: `warm`), so that the first visitor's script run only
draws. `python -m app.explorer.serve run SCRIPT [flags]` takes exactly `streamlit`'s arguments; `psft
app` builds them.
"""
from __future__ import annotations

import logging
import os
import sys
import threading


def preimport() -> None:
    """Everything the first page imports (measured with cProfile on a first script run: pandas' Styler and
    its jinja2 templates, train.transfer, evals.world: ~0.5 s there), and Python's own module-file index
    that Streamlit's first element builds through `inspect.stack()` (~0.4 s)."""
    import inspect

    import pandas as pd

    import app.explorer.details  # noqa: F401
    import app.explorer.interventions  # noqa: F401
    import app.explorer.map_view  # noqa: F401
    import app.explorer.panels  # noqa: F401
    import evals.world  # noqa: F401
    import train.transfer  # noqa: F401
    pd.DataFrame({"a": [1.0]}).style.format("{:.1f}").to_html()
    inspect.stack()
    # Streamlit's first element of the process checks, through inspect.stack() in the script's thread
    # (0.18 s there on shared cores, reading the source of every frame), whether it runs in a REPL, to
    # warn that a script should be started with `streamlit run`; served here it always is.
    from streamlit import delta_generator
    if hasattr(delta_generator, "_use_warning_has_been_displayed"):
        delta_generator._use_warning_has_been_displayed = True


def warm(root: str | None) -> None:
    """Fill the caches the Map page's default view reads (the sidebar's defaults: sft-parallel or the first
    probed checkpoint, its first pooling, centered, the last layer, PCA), for the run `psft app` was given.
    Anything wrong with the run is left for the page to report."""
    if not root:
        return
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching"):
        logging.getLogger(name).setLevel(logging.ERROR)     # no script runs here: Streamlit would say so
    try:
        from . import loaders as data
        run = data.get_run(root)
        ckpts = run.probe_ckpts
        if not ckpts:
            return
        ckpt = "sft-parallel" if "sft-parallel" in ckpts else ckpts[0]
        version = data.stamp(root)
        pooling = data.poolings(root, ckpt, version)[0]
        layers = data.layers(root, ckpt, pooling, version)
        data.run_folders()
        data.programs(root, ckpt, version)
        data.aligned_map(root, ckpt, pooling, layers[-1], "centered", "PCA", (ckpts[0], layers[-1]))
        data.rl_arms(run)
    except Exception as e:  # noqa: BLE001 - the page shows the error to the visitor
        print(f"explorer: not preloaded ({type(e).__name__}: {e})", file=sys.stderr)


def main() -> int:
    from streamlit.web import cli

    preimport()
    threading.Thread(target=warm, args=(os.environ.get("PSFT_RUN"),), daemon=True, name="psft-warm").start()
    sys.argv = ["streamlit", *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
