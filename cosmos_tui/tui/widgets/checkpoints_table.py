"""The checkpoints of a run: iteration, age, size, complete (✓, or … while being written), latest,
pinned."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from cosmos_tui.tui.state import CheckpointRow
from cosmos_tui.tui.widgets.format import age, size

COLUMNS = (("iter", 6), ("saved", 9), ("size", 9), ("ok", 2), ("", 10))
"""Label and fixed width of each column: widths that follow the content made the columns jump
as ages grew, and left the header drawn at the widths of before the rows arrived."""


class CheckpointsTable(DataTable):
    """A table rebuilt only when the checkpoints change."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._shown: tuple[CheckpointRow, ...] | None = None
        self._now_bucket = -1

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width)

    def show(self, rows: tuple[CheckpointRow, ...], now: float) -> None:
        """Render ``rows`` (ages relative to ``now``)."""
        bucket = int(now // 10)
        if rows == self._shown and bucket == self._now_bucket:
            return
        self._shown, self._now_bucket = rows, bucket
        self.clear()
        for c in rows:
            latest = Text("latest", style="bold green") if c.is_latest else Text("")
            if c.pinned:
                latest.append(" pin", style="cyan")
            self.add_row(
                str(c.iteration),
                age(c.mtime, now),
                size(c.size_bytes),
                Text("✓", style="green") if c.complete else Text("…", style="yellow"),
                latest,
                key=str(c.iteration),
            )
