"""The checkpoints of a run, newest first: iteration, age, size, complete (✓, or … while being
written), latest, pinned. The table scrolls; the row under the cursor stays under it when the table
is rebuilt (a new checkpoint, ages moving on), and Enter on a row opens that checkpoint's actions
(the dashboard handles ``DataTable.RowSelected``; the row key is the iteration)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from cosmos_tui.tui.state import CheckpointRow
from cosmos_tui.tui.widgets.format import age, size

COLUMNS = (("iter", 6), ("saved", 9), ("size", 9), ("ok", 2), ("", 10))
"""Label and fixed width of each column: widths that follow the content made the columns jump
as ages grew, and left the header drawn at the widths of before the rows arrived."""


class CheckpointsTable(DataTable):
    """A table rebuilt only when the checkpoints change (or their ages move on)."""

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
        selected = self.selected_iteration
        self.clear()
        for c in sorted(rows, key=lambda c: c.iteration, reverse=True):
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
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)), animate=False)

    @property
    def selected_iteration(self) -> int | None:
        """The iteration of the row under the cursor (``None``: no rows)."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key
        except CellDoesNotExist:
            return None
        return int(key.value) if key.value is not None else None
