"""`cosmos-tui demo`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "demo", "Run the embedded demo: synthetic dataset, builtin engine, 2 CPU ranks.")
