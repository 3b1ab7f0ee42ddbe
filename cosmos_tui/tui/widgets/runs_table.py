"""The list of runs: status, the run, progress, loss, age, the watchdog's flags and its job; a
mark for comparison; a filter and a sort order (:func:`select_rows`, plain functions of the rows)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from cosmos_tui.core.display import printable
from cosmos_tui.core.runs.record import ACTIVE
from cosmos_tui.tui.state import RunRow
from cosmos_tui.tui.widgets.format import STATUS_STYLE, age, loss, progress

BADGE_STYLE = {"STALL": "bold yellow", "LOW-DISK": "yellow", "HOST-MEM": "yellow", "UNSTABLE": "yellow"}
"""Style of each watchdog badge (the rest are red)."""


def flags(row: RunRow) -> Text:
    """The watchdog's badges of a run (stall, NaN, unstable loss, OOM kill, low disk, crash)."""
    text = Text()
    for badge in row.badges:
        if text:
            text.append(" ")
        queued = row.status == "queued"  # its position and what it waits for, not alarms
        text.append(badge, style="cyan" if queued else BADGE_STYLE.get(badge, "bold red"))
    return text


SORTS = ("started", "status", "iteration")
"""The orders the runs list cycles through: newest first; live, then failed, stopped, finished;
furthest iteration first."""

_STATUS_RANK = {**{s: 0 for s in ACTIVE}, "failed": 1, "lost": 1, "unreadable": 1, "stopped": 2}
"""Where each status sorts (the rest, finished and created, last)."""


def matches(row: RunRow, query: str) -> bool:
    """Whether every blank-separated word of ``query`` is in the run's id, experiment, job, model or
    status (case-insensitive)."""
    hay = " ".join((row.id, row.experiment, row.job, row.model, row.status)).lower()
    return all(word in hay for word in query.lower().split())


def select_rows(rows: tuple[RunRow, ...], query: str = "", sort: str = "started") -> tuple[RunRow, ...]:
    """The rows that match ``query`` (:func:`matches`), in the ``sort`` order (:data:`SORTS`);
    ties keep the newest first."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    shown = [r for r in rows if matches(r, query)] if query.strip() else list(rows)
    shown.sort(key=lambda r: (r.started or 0.0, r.id), reverse=True)  # newest first, then stable
    if sort == "status":
        shown.sort(key=lambda r: _STATUS_RANK.get(r.status, 3))
    elif sort == "iteration":
        shown.sort(key=lambda r: -1 if r.iteration is None else r.iteration, reverse=True)
    return tuple(shown)


class RunsTable(DataTable):
    """Rows of :class:`RunRow`; space marks rows for comparing their loss curves."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.marked: set[str] = set()
        self.rows_shown: tuple[RunRow, ...] = ()

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        # The run id right after its status: at 80 columns it is shown whole (the columns after
        # it are the ones the edge cuts, and the table scrolls sideways to them).
        self.add_column("status", key="status")
        self.add_column("run", key="id")
        self.add_column("progress", key="progress")
        self.add_column("loss", key="loss")
        self.add_column("started", key="started")
        self.add_column("flags", key="flags")
        self.add_column("job", key="job")

    def show(self, rows: tuple[RunRow, ...], now: float) -> None:
        """Render ``rows``, keeping the cursor on the same run."""
        current = self.current_id
        self.rows_shown = rows
        self.clear()
        for r in rows:
            self.add_row(
                Text("●", style="cyan") if r.id in self.marked else "",
                Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                Text(printable(r.id)),
                progress(r.iteration, r.max_iter),
                loss(r.loss),
                age(r.started, now),
                flags(r),
                Text(printable(r.job)),
                key=r.id,
            )
        if current is not None and current in {r.id for r in rows}:
            self.move_cursor(row=self.get_row_index(current))

    @property
    def current_id(self) -> str | None:
        """The run under the cursor."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return key.value

    def toggle_mark(self) -> None:
        """Mark or unmark the run under the cursor for comparison."""
        run_id = self.current_id
        if run_id is None:
            return
        self.marked ^= {run_id}
        self.update_cell(run_id, "mark", Text("●", style="cyan") if run_id in self.marked else "")
