"""Home: every run (read from disk, so they survive any restart), and loss curves compared."""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cosmos_tui.tui.messages import LossSeriesLoaded, RunsUpdated
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.screens.dialogs import TextDialog
from cosmos_tui.tui.screens.job import JobScreen
from cosmos_tui.tui.widgets.loss_chart import LossChart
from cosmos_tui.tui.widgets.runs_table import RunsTable

EMPTY = (
    "[b]No runs yet.[/b]\n\n"
    "Press [b]n[/b] to set up a new run, step by step,\n"
    "or try the whole flow on CPU with [b]cosmos-tui demo[/b].\n\n"
    "[dim]Runs live on disk: they keep going when this app closes, and show up here again.[/dim]"
)
LOADING = "[dim]Loading runs…[/dim]"
"""Shown until the first read of the run registry completes (it reconciles every record, which
can take a few seconds), so an existing history is never announced as "No runs yet"."""


class RunsScreen(Screen):
    """The list of runs; enter opens a dashboard, space + c compares loss curves."""

    BINDINGS = [
        Binding("n", "app.new_run", "New run"),
        Binding("enter", "open", "Open", show=False),
        Binding("space", "mark", "Select", show=False),
        Binding("c", "compare", "Compare"),
        Binding("j", "job", "Job"),
        Binding("r", "refresh", "Refresh"),
        Binding("y", "show_cli", "CLI"),
    ]
    """Keys of the runs screen."""

    POLL_S = 2.0
    """Seconds between reads of the run registry."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Event()
        self.loaded = False
        """Whether the first read of the registry has arrived (tests wait on it)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-body"):
            yield Static(LOADING, id="runs-empty")
            yield RunsTable(id="runs-table")
            yield LossChart(id="compare-chart", empty="select runs with space, then press c")
        yield Static("$ cosmos-tui runs list", id="cli-hint", classes="cli-line", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = "runs"
        self.query_one("#runs-table").display = False
        self.query_one("#compare-chart").display = False
        self.poll_runs()

    @work(thread=True, exclusive=True, group="runs-poll", name="runs poller")
    def poll_runs(self) -> None:
        """Read the registry every few seconds (core reconciles each record with reality)."""
        backend = self.app.backend  # type: ignore[attr-defined]
        poll(lambda: RunsUpdated(tuple(backend.list_runs())), self.post_message, self.POLL_S, wake=self._wake)

    def on_runs_updated(self, message: RunsUpdated) -> None:
        table = self.query_one(RunsTable)
        has_rows = bool(message.rows)
        if not self.loaded:
            self.loaded = True
            self.query_one("#runs-empty", Static).update(EMPTY)
        self.query_one("#runs-empty").display = not has_rows
        table.display = has_rows
        table.show(message.rows, self.app.backend.clock())  # type: ignore[attr-defined]
        self.sub_title = (
            (f"{len(message.rows)} run" + ("" if len(message.rows) == 1 else "s")) if has_rows else "runs"
        )
        self._update_hint()

    def _update_hint(self) -> None:
        run_id = self.query_one(RunsTable).current_id
        hint = f"$ cosmos-tui runs show {run_id}" if run_id else "$ cosmos-tui runs list"
        self.query_one("#cli-hint", Static).update(hint)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self) -> None:
        self._update_hint()

    @on(DataTable.RowSelected, "#runs-table")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        run_id = self.query_one(RunsTable).current_id
        if run_id:
            self.app.open_run(run_id)  # type: ignore[attr-defined]

    def action_job(self) -> None:
        """The job of the highlighted run: every run on it, with lineage and the whole curve."""

        run_id = self.query_one(RunsTable).current_id
        if run_id:
            self.app.push_screen(JobScreen(run_id))

    def action_mark(self) -> None:
        self.query_one(RunsTable).toggle_mark()

    def action_refresh(self) -> None:
        self._wake.set()

    def action_show_cli(self) -> None:
        run_id = self.query_one(RunsTable).current_id or "ID"
        self.app.push_screen(
            TextDialog(
                "Equivalent commands",
                f"cosmos-tui runs list\ncosmos-tui runs show {run_id}\ncosmos-tui runs logs {run_id} -f\n"
                f"cosmos-tui runs stop {run_id}\ncosmos-tui runs resume {run_id}\n"
                f"cosmos-tui runs rm {run_id}",
            )
        )

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        chart = self.query_one("#compare-chart", LossChart)
        ids = sorted(table.marked) or ([table.current_id] if table.current_id else [])
        if chart.display and not table.marked:
            chart.display = False
            return
        chart.display = True
        self.load_series(tuple(ids))

    @work(thread=True, exclusive=True, group="compare", name="loss loader")
    def load_series(self, ids: tuple[str, ...]) -> None:
        """Read the loss curves of the given runs."""
        backend = self.app.backend  # type: ignore[attr-defined]
        self.post_message(LossSeriesLoaded({i: backend.loss_series(i) for i in ids}))

    def on_loss_series_loaded(self, message: LossSeriesLoaded) -> None:
        self.query_one("#compare-chart", LossChart).series = dict(message.series)
