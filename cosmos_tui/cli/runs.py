"""`cosmos-tui runs`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "runs", "Runs: list, show, follow logs, stop, resume, rerun, remove.")
