"""Serve the explorer: import what its script needs first, then hand over to Streamlit's own command line
in the same process, so that the first visitor does not wait for plotly, pandas and numpy to import
(~3 s on shared cores, measured here). `python -m app.explorer.serve run SCRIPT [flags]` takes
exactly `streamlit`'s arguments; `psft app` builds them."""
from __future__ import annotations

import sys


def main() -> int:
    from streamlit.web import cli

    import app.explorer.details  # noqa: F401
    import app.explorer.map_view  # noqa: F401
    import app.explorer.panels  # noqa: F401
    sys.argv = ["streamlit", *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
