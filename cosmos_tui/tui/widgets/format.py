"""Formatting helpers shared by widgets: durations, ages, sizes, status styles."""

from __future__ import annotations

from cosmos_tui.core.units import human_bytes

STATUS_STYLE = {
    "queued": "cyan",
    "created": "dim",
    "starting": "cyan",
    "running": "bold green",
    "stopping": "yellow",
    "finished": "green",
    "stopped": "yellow",
    "failed": "bold red",
    "lost": "bold red",
}
"""Rich style of each run status."""


def duration(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def age(then: float | None, now: float) -> str:
    """How long ago ``then`` was, to the coarsest useful unit: ``42s ago``, ``15m ago``,
    ``1h02m ago``, ``3d04h ago`` (narrow enough for a table column at 80 columns)."""
    if then is None:
        return "–"
    s = int(max(0, now - then))
    if s < 60:
        text = f"{s}s"
    elif s < 3600:
        text = f"{s // 60}m"
    elif s < 86400:
        text = f"{s // 3600}h{s % 3600 // 60:02d}m"
    else:
        text = f"{s // 86400}d{s % 86400 // 3600:02d}h"
    return f"{text} ago"


def size(num_bytes: int | None) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 MiB`` (``–`` when unknown)."""
    return human_bytes(num_bytes, missing="–")


def progress(iteration: int | None, max_iter: int | None) -> str:
    """``120/500 (24%)``, ``120`` without a max, ``–`` before the first iteration."""
    if iteration is None:
        return "–"
    if max_iter:
        return f"{iteration}/{max_iter} ({100 * iteration // max_iter}%)"
    return str(iteration)


def loss(value: float | None) -> str:
    """A loss with four decimals, as the engines print it."""
    return "–" if value is None else f"{value:.4f}"
