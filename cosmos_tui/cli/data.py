"""`cosmos-tui data`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "data", "Datasets: validate a dataset against the loader, synthesize one.")
