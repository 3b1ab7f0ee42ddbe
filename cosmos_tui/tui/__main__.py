"""``python -m cosmos_tui.tui``: the TUI itself, without the CLI's "needs a terminal" check.

``cosmos-tui web`` runs this in each browser tab's app process, whose stdin and stdout are
textual-serve's pipes (Textual's web driver), not a terminal."""

from cosmos_tui.tui.app import run_app

run_app()
