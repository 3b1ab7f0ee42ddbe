"""Where cosmos-tui keeps its state, and where shipped data lives."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

STATE_ENV = "COSMOS_TUI_HOME"


def state_root() -> Path:
    """The state root: ``$COSMOS_TUI_HOME``, else ``$XDG_STATE_HOME/cosmos-tui``, else
    ``~/.local/state/cosmos-tui``. Created on first use."""
    env = os.environ.get(STATE_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".local" / "state") / "cosmos-tui"
    root.mkdir(parents=True, exist_ok=True)
    return root


def runs_root() -> Path:
    """The folder holding one directory per run."""
    path = state_root() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shipped_presets_dir() -> Path:
    """The folder of presets shipped with the package (``presets/`` in the repository)."""
    return Path(str(resources.files("cosmos_tui.presets")))
