"""`cosmos-tui doctor`."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import not_built


def register(app: typer.Typer) -> None:
    not_built(app, "doctor", "Check this machine: Python, torch, GPUs, disk, upstream checkouts.")
