"""`cosmos-tui gpus`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "gpus", "GPUs: utilisation, memory, temperature and which runs use them.")
