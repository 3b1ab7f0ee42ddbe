"""Will the disk hold the checkpoints this run is going to write?

Average size of a checkpoint x the saves still to come (from ``trainer.max_iter``,
``checkpoint.save_iter`` and the current iteration; at most ``keep_last_n`` more when old ones are
pruned as the run goes) against the free space of the file system the checkpoints land on.
Called before launch (no checkpoints yet: pass ``checkpoint_bytes`` from an estimate) and live.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.units import human_bytes

WARN_FRACTION = 0.8
"""Warn once the forecast needs more than this share of the free space."""


@dataclass(frozen=True)
class DiskForecast:
    """The outcome of a forecast."""

    verdict: Literal["ok", "warn", "fail", "unknown"]
    message: str
    """One sentence for the person."""
    checkpoint_bytes: int
    """Average (or estimated) bytes per checkpoint."""
    saves_remaining: int
    needed_bytes: int
    free_bytes: int


def saves_remaining(current_iter: int, max_iter: int, save_iter: int) -> int:
    """How many saves are still to come: every ``save_iter`` iterations after ``current_iter``, plus the
    final save at ``max_iter`` when it is not on the grid."""
    if save_iter <= 0 or max_iter <= current_iter:
        return 0
    n = max_iter // save_iter - current_iter // save_iter
    if max_iter % save_iter:
        n += 1
    return max(n, 0)


def _nearest_existing(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def forecast_disk(
    checkpoints_dir: Path,
    *,
    max_iter: int,
    save_iter: int,
    current_iter: int = 0,
    checkpoints: list[CheckpointInfo] | None = None,
    checkpoint_bytes: int | None = None,
    keep_last_n: int | None = None,
    free_bytes: int | None = None,
) -> DiskForecast:
    """Forecast whether the checkpoints still to come fit on the disk.

    ``checkpoints``: those already saved (their complete ones give the average size);
    ``checkpoint_bytes``: an estimate when none exists yet; ``free_bytes``: override the measured
    free space (tests, or a quota the file system does not report).
    """
    done = [c for c in (checkpoints or []) if c.complete and c.size_bytes > 0]
    size = sum(c.size_bytes for c in done) // len(done) if done else (checkpoint_bytes or 0)
    if free_bytes is None:
        free_bytes = shutil.disk_usage(_nearest_existing(checkpoints_dir)).free
    remaining = saves_remaining(current_iter, max_iter, save_iter)
    count = remaining
    if keep_last_n and keep_last_n > 0 and len(done) + remaining > keep_last_n:
        # Old ones are pruned as the run goes: at most keep_last_n live, plus the one being saved.
        count = max(0, keep_last_n - len(done)) + 1
    needed = size * count
    if size == 0:
        return DiskForecast(
            "unknown",
            "No checkpoint size known yet; the forecast starts after the first save.",
            0,
            remaining,
            0,
            free_bytes,
        )
    each, total, free = human_bytes(size), human_bytes(needed), human_bytes(free_bytes)
    what = f"{count} more checkpoint(s) x {each} = {total}, {free} free"
    if needed > free_bytes:
        verdict, message = (
            "fail",
            f"The disk will fill: {what}; free space or set a lower --keep-last / checkpoint.keep_last_n.",
        )
    elif needed > WARN_FRACTION * free_bytes:
        verdict, message = "warn", f"The disk is nearly full for this run: {what}."
    else:
        verdict, message = "ok", f"Enough disk: {what}."
    return DiskForecast(verdict, message, size, remaining, needed, free_bytes)
