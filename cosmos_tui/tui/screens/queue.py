"""The Queue screen: entries waiting for their GPUs or slots, in the order they start; reorder
(shift+up/down), cancel (x), pause or resume the queue (p), and a sweep's loss curves overlaid
(o on an entry of a sweep). Everything goes through core's queue, as the ``queue`` commands do."""

from __future__ import annotations

import shlex
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui.messages import ActionFinished, LossSeriesLoaded, QueueUpdated
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.state import QueueItem
from cosmos_tui.tui.widgets.loss_chart import LossChart

EMPTY = (
    "[b]Nothing is queued.[/b]\n\n"
    "Queue a run with [b]cosmos-tui queue add PRESET --gpus 0-3[/b] (or --slots N on CPU),\n"
    "or a grid with [b]cosmos-tui sweep PRESET --grid optimizer.lr=1e-4,3e-4[/b].\n\n"
    "[dim]Press a to list entries that started, failed or were cancelled too.[/dim]"
)


class QueueScreen(Screen):
    """The run queue; escape goes back to the runs list."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("shift+up", "move(-1)", "Move up"),
        Binding("shift+down", "move(1)", "Move down"),
        Binding("x", "cancel", "Cancel entry"),
        Binding("p", "pause", "Pause/resume"),
        Binding("o", "overlay", "Sweep curves"),
        Binding("a", "all", "All entries", show=False),
        Binding("r", "refresh", "Refresh", show=False),
    ]
    """Keys of the Queue screen."""

    POLL_S = 2.0

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Event()
        self.items: tuple[QueueItem, ...] = ()
        self.paused = False
        self.loaded = False
        """Whether the first read of the queue arrived (tests wait on it)."""
        self.include_done = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="queue-body"):
            yield Static("", id="queue-state")
            yield Static("[dim]Reading the queue…[/dim]", id="queue-empty")
            yield DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
            yield LossChart(id="sweep-chart", empty="no point of this sweep has reported a loss yet")
        yield Static("$ cosmos-tui queue list", id="queue-hint", classes="cli-line", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = "queue"
        table = self.query_one("#queue-table", DataTable)
        for label in ("#", "entry", "state", "pri", "needs", "preset", "waits for / run"):
            table.add_column(label, key=label)
        table.display = False
        self.query_one("#sweep-chart").display = False
        self.poll_queue()

    @work(thread=True, exclusive=True, group="queue-poll", name="queue poller")
    def poll_queue(self) -> None:
        """Read the queue every few seconds (core reconciles entries left by a dead dispatcher)."""
        backend = self.app.backend  # type: ignore[attr-defined]

        def read() -> QueueUpdated:
            return QueueUpdated(
                tuple(backend.queue_items(include_done=self.include_done)), backend.queue_paused()
            )

        poll(read, self.post_message, self.POLL_S, wake=self._wake)

    def on_queue_updated(self, message: QueueUpdated) -> None:
        self.items, self.paused, self.loaded = message.items, message.paused, True
        table = self.query_one("#queue-table", DataTable)
        current = self.current_id
        table.clear()
        for q in self.items:
            table.add_row(
                str(q.position or ""),
                printable(q.id),
                q.state,
                str(q.priority),
                printable(q.needs),
                printable(q.what),
                printable(q.detail),
                key=q.id,
            )
        if current is not None and current in {q.id for q in self.items}:
            table.move_cursor(row=table.get_row_index(current))
        table.display = bool(self.items)
        self.query_one("#queue-empty", Static).display = not self.items
        self.query_one("#queue-empty", Static).update(EMPTY)
        waiting = sum(1 for q in self.items if q.position is not None)
        state = "[yellow]paused[/yellow]: nothing new starts (p resumes)" if self.paused else "running"
        self.query_one("#queue-state", Static).update(f"{waiting} waiting · queue {state}")
        self.sub_title = f"queue · {waiting} waiting"

    @property
    def current_id(self) -> str | None:
        """The entry under the cursor."""
        table = self.query_one("#queue-table", DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def _item(self, entry_id: str | None) -> QueueItem | None:
        return next((q for q in self.items if q.id == entry_id), None)

    @on(DataTable.RowHighlighted, "#queue-table")
    def _highlighted(self) -> None:
        entry = self.current_id
        self.query_one("#queue-hint", Static).update(
            f"$ cosmos-tui queue cancel {shlex.quote(printable(entry))}"
            if entry
            else "$ cosmos-tui queue list"
        )

    def action_refresh(self) -> None:
        self._wake.set()

    def action_all(self) -> None:
        self.include_done = not self.include_done
        self._wake.set()

    def action_move(self, step: int) -> None:
        """Move the entry under the cursor one place up (-1) or down (1) among the waiting."""
        waiting = [q for q in self.items if q.position is not None]
        ids = [q.id for q in waiting]
        entry = self.current_id
        if entry not in ids:
            return
        i = ids.index(entry)
        j = i + step
        if not 0 <= j < len(ids):
            return
        if step < 0:
            self.act("move", entry, ids[j])
        else:
            self.act("move", ids[j], entry)

    def action_cancel(self) -> None:
        entry = self.current_id
        if entry:
            self.act("cancel", entry)

    def action_pause(self) -> None:
        self.act("pause", "", on=not self.paused)

    @work(thread=True, group="queue-action", name="queue action")
    def act(self, action: str, entry: str, other: str = "", *, on: bool = False) -> None:
        """Reorder, cancel, pause or resume through core, off the event loop."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            if action == "move":
                text = backend.queue_move(entry, other)
            elif action == "cancel":
                text = backend.queue_cancel(entry)
            else:
                text = backend.queue_set_paused(on)
            msg = ActionFinished(action, text)
        except UserError as e:
            msg = ActionFinished(action, str(e), ok=False)
        self.post_message(msg)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.notify(markup_safe(message.message), severity="information" if message.ok else "error")
        self._wake.set()

    def action_overlay(self) -> None:
        """Overlay the loss curves of the highlighted entry's sweep (toggle)."""
        chart = self.query_one("#sweep-chart", LossChart)
        item = self._item(self.current_id)
        if chart.display or item is None or not item.sweep:
            chart.display = False
            if item is not None and not item.sweep:
                self.notify("this entry is not part of a sweep", severity="warning")
            return
        chart.display = True
        self.load_sweep(item.sweep)

    @work(thread=True, exclusive=True, group="sweep", name="sweep loader")
    def load_sweep(self, sweep_id: str) -> None:
        """Read every point's loss curve."""
        backend = self.app.backend  # type: ignore[attr-defined]
        self.post_message(LossSeriesLoaded(backend.sweep_series(sweep_id)))

    def on_loss_series_loaded(self, message: LossSeriesLoaded) -> None:
        self.query_one("#sweep-chart", LossChart).series = dict(message.series)
