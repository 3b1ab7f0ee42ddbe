"""The Textual app (placeholder until the TUI issue lands)."""

from __future__ import annotations


def run_app() -> None:
    from textual.app import App

    App().run()
