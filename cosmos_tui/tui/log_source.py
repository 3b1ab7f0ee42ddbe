"""Following a console log from a stored byte offset, bounded in memory.

The first read shows only the last ``backlog_bytes`` of the file (a multi-GB log is never read
whole); later reads return what was appended since, at most ``max_batch_bytes`` at a time (when
the writer outruns the reader, the oldest part of the burst is skipped and counted). Lines are
parsed by ``core.monitor.logline``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cosmos_tui.core.monitor.logline import LogLine, parse_line


class LogFollower:
    """Incremental reader of one log file. Not thread-safe: one worker owns it."""

    def __init__(self, path: Path, *, backlog_bytes: int = 256 << 10, max_batch_bytes: int = 1 << 20):
        self.path = Path(path)
        self.backlog_bytes = backlog_bytes
        self.max_batch_bytes = max_batch_bytes
        self.offset: int | None = None
        self.skipped_bytes = 0
        """Bytes passed over because they arrived faster than the view could show them."""
        self._partial = b""

    def read_new(self) -> list[LogLine]:
        """Complete lines appended since the last call (a trailing partial line waits)."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return []
        if self.offset is None:
            self.offset = max(0, size - self.backlog_bytes)
            drop_first = self.offset > 0
        else:
            drop_first = False
            if size < self.offset:  # truncated or replaced: start over from its tail
                self.offset, self._partial = max(0, size - self.backlog_bytes), b""
                drop_first = self.offset > 0
            elif size - self.offset > self.max_batch_bytes:
                skip = size - self.offset - self.max_batch_bytes
                self.skipped_bytes += skip
                self.offset += skip
                self._partial = b""
                drop_first = True
        if size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        self.offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        lines = data[:cut].decode("utf-8", "replace").split("\n")[:-1]
        if drop_first and lines:
            lines = lines[1:]  # we started mid-line
        return [parse_line(line) for line in lines]
