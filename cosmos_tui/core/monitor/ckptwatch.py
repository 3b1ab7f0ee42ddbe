"""Noticing checkpoints as they land, cheaply.

:func:`~cosmos_tui.core.checkpoints.scan.scan_checkpoints` walks every step folder; this watcher
calls it only when something can have changed: the checkpoints folder's mtime (a step folder or
``.pt`` file appeared or went, or the pointer was replaced), the pointer file's mtime, while any
checkpoint is still incomplete (its parts get ``.metadata`` inside a subfolder, which does not touch
the parent's mtime), and every ``full_rescan_s`` as a safety net.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import CheckpointInfo, is_being_written, scan_checkpoints

POINTER = "latest_checkpoint.txt"


@dataclass(frozen=True)
class CheckpointState:
    """The checkpoints of one job at one poll."""

    checkpoints: tuple[CheckpointInfo, ...] = ()
    """All checkpoints, by iteration."""
    new: tuple[CheckpointInfo, ...] = ()
    """Checkpoints that became complete since the previous poll."""
    saving: CheckpointInfo | None = None
    """An incomplete checkpoint that is still being written."""
    latest: CheckpointInfo | None = None
    """The newest complete checkpoint."""
    rescanned: bool = False
    """Whether this poll walked the folder."""


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class CheckpointWatcher:
    """Polls one ``checkpoints`` folder. Checkpoints present at the first poll are not "new"."""

    def __init__(
        self,
        checkpoints_dir: Path,
        *,
        full_rescan_s: float = 30.0,
        clock=time.monotonic,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        self.checkpoints_dir = Path(checkpoints_dir)
        self.keep = keep
        """Which checkpoints (by name) to report: a run's own, when given."""
        self.full_rescan_s = full_rescan_s
        self._clock = clock
        self._stamp: tuple[int | None, int | None] | None = None
        self._scanned_at: float | None = None
        self._complete: set[tuple[int, str]] | None = None
        self._last = CheckpointState()

    def poll(self) -> CheckpointState:
        """Rescan if anything may have changed; otherwise return the previous state."""
        now = self._clock()
        stamp = (_mtime(self.checkpoints_dir), _mtime(self.checkpoints_dir / POINTER))
        pending = any(not c.complete for c in self._last.checkpoints)
        stale = self._scanned_at is None or now - self._scanned_at >= self.full_rescan_s
        if stamp == self._stamp and not pending and not stale:
            return CheckpointState(self._last.checkpoints, (), self._last.saving, self._last.latest, False)
        self._stamp, self._scanned_at = stamp, now
        found = tuple(
            c for c in scan_checkpoints(self.checkpoints_dir) if self.keep is None or self.keep(c.path.name)
        )
        complete = {(c.iteration, c.layout) for c in found if c.complete}
        new = (
            ()
            if self._complete is None
            else tuple(c for c in found if c.complete and (c.iteration, c.layout) not in self._complete)
        )
        self._complete = complete
        wall = time.time()
        saving = next((c for c in reversed(found) if is_being_written(c, now=wall)), None)
        done = [c for c in found if c.complete]
        self._last = CheckpointState(found, new, saving, done[-1] if done else None, True)
        return self._last
