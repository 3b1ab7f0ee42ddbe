"""`cosmos-tui models`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "models", "Model catalog: list models and show what each needs.")
