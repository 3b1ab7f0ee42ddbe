"""Where cosmos-tui keeps its state, and where shipped data lives."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import reason

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
    return _ensure_dir(root)


def runs_root() -> Path:
    """The folder holding one directory per run."""
    return _ensure_dir(state_root() / "runs")


def samples_root() -> Path:
    """The folder holding one directory per samples job (``cosmos-tui samples``)."""
    return _ensure_dir(state_root() / "samples")


def screenshots_root() -> Path:
    """Where the TUI saves its screenshots (the command palette's Screenshot)."""
    return _ensure_dir(state_root() / "screenshots")


def _ensure_dir(path: Path) -> Path:
    """Create the state folder ``path`` if needed; a :class:`UserError` naming ``COSMOS_TUI_HOME``
    when a file stands in the way or the file system refuses (read-only, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            why = f"{blocker} is a file, not a folder"
        else:
            why = f"{path} cannot be created ({reason(e)})"
        raise UserError(
            f"the cosmos-tui state folder {why}; point {STATE_ENV} at a writable folder "
            f"(export {STATE_ENV}=~/.local/state/cosmos-tui) or fix that path"
        ) from None
    if not path.is_dir():
        raise UserError(f"the cosmos-tui state folder {path} is not a folder; point {STATE_ENV} at one")
    return path


def shipped_presets_dir() -> Path:
    """The folder of presets shipped with the package (``presets/`` in the repository)."""
    return Path(str(resources.files("cosmos_tui.presets")))
