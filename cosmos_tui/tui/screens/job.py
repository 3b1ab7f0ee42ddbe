"""A job and its runs: who resumed whom at which iteration, what each wrote, and the loss across
all of them with each run in its own colour (the colour changes where one run hands over)."""

from __future__ import annotations

import threading

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui.commands import job_commands
from cosmos_tui.tui.messages import JobViewUpdated
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.screens.dialogs import TextDialog
from cosmos_tui.tui.screens.samples import SamplesScreen
from cosmos_tui.tui.state import JobView
from cosmos_tui.tui.widgets.format import STATUS_STYLE
from cosmos_tui.tui.widgets.loss_chart import LossChart


class JobScreen(Screen):
    """The job of one run: its runs in order and the whole curve."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Open run", show=False),
        Binding("r", "refresh", "Refresh"),
        Binding("y", "show_cli", "CLI"),
        Binding("S", "samples", "Samples"),
    ]

    POLL_S = 3.0
    """Seconds between reads of the job."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.view: JobView | None = None
        self._wake = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading the job…", id="job-title")
        yield DataTable(id="job-runs", cursor_type="row", zebra_stripes=True)
        yield LossChart(id="job-chart", empty="no run of this job reported a loss yet")
        hint = "$ " + printable(job_commands(self.run_id)["show"])
        yield Static(hint, id="cli-hint", classes="cli-line", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = "job"
        table = self.query_one("#job-runs", DataTable)
        for label in ("#", "run", "status", "iterations", "wrote", "came from"):
            table.add_column(label, key=label)
        self.query_one("#job-chart", LossChart).border_title = "loss, one colour per run"
        self.poll_job()

    @work(thread=True, exclusive=True, group="job-poll", name="job poller")
    def poll_job(self) -> None:
        """Read the job every few seconds."""
        backend = self.app.backend  # type: ignore[attr-defined]

        def produce() -> JobViewUpdated:
            try:
                return JobViewUpdated(backend.job_view(self.run_id))
            except UserError as e:
                return JobViewUpdated(None, str(e))

        poll(produce, self.post_message, self.POLL_S, wake=self._wake)

    def on_job_view_updated(self, message: JobViewUpdated) -> None:
        title = self.query_one("#job-title", Static)
        if message.view is None:
            title.update(f"[red]{markup_safe(message.error or 'no job')}[/red]")
            return
        view: JobView = message.view  # type: ignore[assignment]
        if view == self.view:
            return  # nothing changed: keep the table and its cursor as they are, no redraw
        self.view = view
        held = f"  [yellow]held by {markup_safe(view.holder)}[/yellow]" if view.holder else ""
        title.update(f"[b]job {markup_safe(view.name)}[/b]{held}")
        table = self.query_one("#job-runs", DataTable)
        current = table.cursor_row
        table.clear()
        for n, row in enumerate(view.runs, 1):
            if row.last_iteration is None:
                span = Text("never trained", style="dim")
            else:
                span = Text(
                    f"{0 if row.start_iteration is None else row.start_iteration} → {row.last_iteration}"
                )
            table.add_row(
                str(n),
                row.id,
                Text(row.status, style=STATUS_STYLE.get(row.status, "")),
                span,
                ", ".join(c.removeprefix("iter_").lstrip("0") or "0" for c in row.checkpoints) or "-",
                row.came_from,
                key=row.id,
            )
        if view.runs and current > 0:
            # Keep the reader's row across a refresh; the first fill leaves the cursor (and the
            # scroll offset) at the top, so what is drawn never depends on when the columns settle.
            table.move_cursor(row=min(current, len(view.runs) - 1))
        self.query_one("#job-chart", LossChart).series = dict(view.series)
        self.sub_title = f"job · {len(view.runs)} runs"

    @on(DataTable.RowSelected, "#job-runs")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        if self.view is None or not self.view.runs:
            return
        row = self.query_one("#job-runs", DataTable).cursor_row
        self.app.open_run(self.view.runs[row].id)  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        self._wake.set()

    def action_samples(self) -> None:
        self.app.push_screen(SamplesScreen(self.run_id))

    def action_show_cli(self) -> None:
        self.app.push_screen(
            TextDialog(
                "Equivalent commands",
                f"# {printable(self.view.path) if self.view else 'job folder'}\n"
                + "\n".join(printable(c) for c in job_commands(self.run_id).values()),
            )
        )
