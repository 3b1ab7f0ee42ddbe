"""Home: every run (read from disk, so they survive any restart), filtered and sorted, loss curves
compared, and a run deleted or rerun through core (each asked first)."""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.units import human_bytes
from cosmos_tui.tui.commands import demo, runs_commands
from cosmos_tui.tui.messages import ActionFinished, LossSeriesLoaded, RemovalPlanned, RerunAsked, RunsUpdated
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.screens.dialogs import ChoiceDialog, ConfirmDialog, TextDialog
from cosmos_tui.tui.screens.job import JobScreen
from cosmos_tui.tui.state import RunRow
from cosmos_tui.tui.widgets.loss_chart import LossChart
from cosmos_tui.tui.widgets.runs_table import SORTS, RunsTable, select_rows

EMPTY = (
    "[b]No runs yet.[/b]\n\n"
    "Press [b]n[/b] to set up a new run, step by step,\n"
    f"or try the whole flow on CPU with [b]{demo()}[/b].\n\n"
    "[dim]Runs live on disk: they keep going when this app closes, and show up here again.[/dim]"
)
LOADING = "[dim]Loading runs…[/dim]"
"""Shown until the first read of the run registry completes (it reconciles every record, which
can take a few seconds), so an existing history is never announced as "No runs yet"."""


def removal_text(plan) -> str:
    """What a removal deletes and keeps, one path a line with its size and why (as ``runs rm``
    prints it)."""
    lines = [
        f"delete {printable(i.path)} ({human_bytes(i.size_bytes)}): {printable(i.why)}" for i in plan.delete
    ]
    for i in plan.keep:
        size = f" ({human_bytes(i.size_bytes)})" if i.size_bytes else ""
        lines.append(f"keep   {printable(i.path)}{size}: {printable(i.why)}")
    if plan.pointer is not None:
        lines.append(
            f"point  latest_checkpoint.txt at {printable(plan.pointer) or '(removed: none complete is left)'}"
        )
    return "\n".join(lines)


class RunsScreen(Screen):
    """The list of runs; enter opens a dashboard, space + c compares loss curves."""

    BINDINGS = [
        Binding("n", "app.new_run", "New"),
        Binding("enter", "open", "Open", show=False),
        Binding("space", "mark", "Select", show=False),
        Binding("c", "compare", "Compare"),
        Binding("j", "job", "Job"),
        Binding("Q", "queue", "Queue", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort", show=False),
        Binding("d", "delete", "Delete"),
        Binding("D", "delete_outputs", "Delete+outputs", show=False),
        Binding("R", "rerun", "Rerun", show=False),
        Binding("r", "refresh", "Refresh", show=False),
        Binding("y", "show_cli", "CLI"),
    ]
    """Keys of the runs screen (the help screen lists each with its command)."""

    POLL_S = 2.0
    """Seconds between reads of the run registry."""
    AUTO_FOCUS = "#runs-table"
    """The table has the keys (the filter box, hidden until ``/``, would otherwise take them)."""

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Event()
        self.loaded = False
        """Whether the first read of the registry has arrived (tests wait on it)."""
        self.rows: tuple[RunRow, ...] = ()
        """Every run, as last read (the table shows :attr:`query`'s matches, in :attr:`sort`)."""
        self.query_text = ""
        """The filter: words that each must be in a run's id, experiment, job, model or status."""
        self.sort = SORTS[0]
        """The order: one of :data:`~cosmos_tui.tui.widgets.runs_table.SORTS`."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="runs-body"):
            yield Input(
                placeholder="filter by id, experiment, job or status (escape clears)", id="runs-filter"
            )
            yield Static(LOADING, id="runs-empty")
            yield RunsTable(id="runs-table")
            yield LossChart(id="compare-chart", empty="select runs with space, then press c")
        yield Static("$ " + runs_commands(None)["list"], id="cli-hint", classes="cli-line", markup=False)
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
        self.rows = message.rows
        self.loaded = True
        self._show()

    def _show(self) -> None:
        """Render the rows that match the filter, in the chosen order, or the right empty state."""
        if not self.loaded:
            return
        table = self.query_one(RunsTable)
        shown = select_rows(self.rows, self.query_text, self.sort)
        empty = self.query_one("#runs-empty", Static)
        if not self.rows:
            empty.update(EMPTY)
        elif not shown:
            empty.update(f"No run matches [b]{markup_safe(self.query_text)}[/b] (escape clears the filter).")
        empty.display = not shown
        table.display = bool(shown)
        table.show(shown, self.app.backend.clock())  # type: ignore[attr-defined]
        n = len(self.rows)
        count = f"{n} run" + ("" if n == 1 else "s") if n else "runs"
        if self.query_text.strip() and n:
            count = f"{len(shown)} of {count}"
        self.sub_title = f"{count} · by {self.sort}" if n else count
        self._update_hint()

    def _update_hint(self) -> None:
        run_id = self.query_one(RunsTable).current_id
        cmds = runs_commands(run_id)
        self.query_one("#cli-hint", Static).update("$ " + printable(cmds["show" if run_id else "list"]))

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self) -> None:
        self._update_hint()

    @on(DataTable.RowSelected, "#runs-table")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        run_id = self.query_one(RunsTable).current_id
        if run_id and self._queued(run_id):
            self.action_queue()
        elif run_id:
            self.app.open_run(run_id)  # type: ignore[attr-defined]

    def _queued(self, row_id: str) -> bool:
        """Whether the row is a queue entry waiting to start (not a run yet)."""
        return any(r.id == row_id and r.status == "queued" for r in self.rows)

    def action_queue(self) -> None:
        """The Queue screen: reorder, cancel, pause; a sweep's curves."""
        from cosmos_tui.tui.screens.queue import QueueScreen  # deferred: only when opened

        self.app.push_screen(QueueScreen())

    def action_job(self) -> None:
        """The job of the highlighted run: every run on it, with lineage and the whole curve."""

        run_id = self.query_one(RunsTable).current_id
        if run_id and not self._queued(run_id):
            self.app.push_screen(JobScreen(run_id))

    def action_mark(self) -> None:
        self.query_one(RunsTable).toggle_mark()

    def action_refresh(self) -> None:
        self._wake.set()

    # -- filter and sort ---------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self._show()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.query_one(RunsTable).focus()

    def key_escape(self) -> None:
        """Escape in the filter box clears the filter."""
        box = self.query_one("#runs-filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.query_one(RunsTable).focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._show()

    # -- delete and rerun --------------------------------------------------------------------

    def action_delete(self) -> None:
        self._ask_delete(outputs=False)

    def action_delete_outputs(self) -> None:
        self._ask_delete(outputs=True)

    def _ask_delete(self, *, outputs: bool) -> None:
        run_id = self.query_one(RunsTable).current_id
        if run_id and self._queued(run_id):
            self.notify(
                "a queued entry is not a run yet: cancel it on the Queue screen (Q)", severity="warning"
            )
        elif run_id:
            self.plan_delete(run_id, outputs)

    @work(thread=True, exclusive=True, group="runs-plan", name="removal planner")
    def plan_delete(self, run_id: str, outputs: bool) -> None:
        """Work out what deleting the run would delete (deleting waits for the person's yes)."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            self.post_message(RemovalPlanned(run_id, outputs, backend.plan_removal(run_id, outputs=outputs)))
        except UserError as e:
            self.post_message(RemovalPlanned(run_id, outputs, error=str(e)))

    def on_removal_planned(self, message: RemovalPlanned) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            return
        plan, run_id, outputs = message.plan, message.run_id, message.outputs
        cmds = runs_commands(run_id)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_action("delete", run_id, outputs=outputs)

        what = "the run and the outputs no other run needs" if outputs else "the run's record and logs"
        hint = "" if outputs else "\n(D deletes its outputs too, as --outputs does)"
        self.app.push_screen(
            ConfirmDialog(
                f"Delete {what} ({human_bytes(plan.size_bytes)})?{hint}",  # shown as text, not markup
                printable(cmds["rm_outputs" if outputs else "rm"]),
                yes="Delete",
                details=removal_text(plan),
            ),
            confirmed,
        )

    def action_rerun(self) -> None:
        run_id = self.query_one(RunsTable).current_id
        if run_id and not self._queued(run_id):
            self.ask_rerun(run_id)

    @work(thread=True, exclusive=True, group="runs-plan", name="rerun check")
    def ask_rerun(self, run_id: str) -> None:
        """Count the checkpoints of the run's job (a rerun onto them must choose: continue or fresh)."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            self.post_message(RerunAsked(run_id, backend.job_checkpoint_count(run_id)))
        except UserError as e:
            self.post_message(RerunAsked(run_id, error=str(e)))

    def on_rerun_asked(self, message: RerunAsked) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            return
        run_id = message.run_id
        rerun = runs_commands(run_id)["rerun"]
        if message.checkpoints:
            question = (
                f"Rerun {printable(run_id)} with the same preset and overrides? Its job holds "
                f"{message.checkpoints} checkpoint(s): continue it from the latest, or start a fresh job."
            )
            choices = [("resume", "Continue the job"), ("fresh", "Fresh job")]
            commands = f"$ {printable(rerun)} --resume\n$ {printable(rerun)} --fresh"
        else:
            question = f"Rerun {printable(run_id)} as a new run with the same preset and overrides?"
            choices, commands = [("ask", "Rerun")], f"$ {printable(rerun)}"

        def chosen(existing: str | None) -> None:
            if existing:
                self.run_action("rerun", run_id, existing=existing)

        self.app.push_screen(ChoiceDialog(question, choices, commands=commands, cancel_first=True), chosen)

    @work(thread=True, group="runs-action", name="runs action")
    def run_action(self, action: str, run_id: str, *, outputs: bool = False, existing: str = "ask") -> None:
        """Delete or rerun a run through core, off the event loop (only after the person said so)."""
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            if action == "delete":
                msg = ActionFinished(action, backend.remove(run_id, outputs=outputs))
            elif action == "rerun":
                new_id = backend.rerun(run_id, existing)
                msg = ActionFinished(action, f"Started {new_id}, a rerun of {run_id}.", run_id=new_id)
            else:
                raise ValueError(f"unknown runs action {action!r}")
        except UserError as e:
            msg = ActionFinished(action, str(e), ok=False)
        self.post_message(msg)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.notify(markup_safe(message.message), severity="information" if message.ok else "error")
        self._wake.set()
        if message.ok and message.action == "rerun" and message.run_id:
            self.app.open_run(message.run_id)  # type: ignore[attr-defined]

    # -- commands and comparison -------------------------------------------------------------

    def action_show_cli(self) -> None:
        cmds = runs_commands(self.query_one(RunsTable).current_id)
        self.app.push_screen(
            TextDialog("Equivalent commands", "\n".join(f"# {k}\n{printable(v)}" for k, v in cmds.items()))
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
