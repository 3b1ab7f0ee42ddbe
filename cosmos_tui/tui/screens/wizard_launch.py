"""Wizard step 5: the preflight summary, then launch and go straight to the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Label, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import wizard_backend
from cosmos_tui.tui.commands import run_preset

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


@dataclass(eq=False)
class PreflightDone(Message):
    """Preflight verdicts for the preset (or why they could not be worked out)."""

    checks: tuple = ()
    command: str = ""
    error: str = ""
    prepared: object | None = None
    """The prepared launch (:class:`~cosmos_tui.core.runs.lifecycle.Prepared`): Launch starts
    exactly this, so what the step previews is what runs."""


@dataclass(eq=False)
class RunStarted(Message):
    """The run was launched (``run_id``) or refused (``error``)."""

    run_id: str | None = None
    error: str = ""


class LaunchStep(Vertical):
    """Preflight table, the command, and the Launch button."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.preset = None
        self.checks: tuple = ()
        self.prepared = None
        self.existing = "ask"
        """The person's answer for a job folder that already holds checkpoints."""

    def compose(self) -> ComposeResult:
        yield Label("5 · Launch", classes="step-title")
        yield DataTable(id="preflight-table", cursor_type="row")
        yield Static("Running preflight checks…", id="launch-summary")
        with Horizontal(classes="row", id="launch-choice"):
            yield Button("Resume the job", id="launch-resume", variant="primary")
            yield Button("Start fresh", id="launch-fresh")
        with Horizontal(classes="row"):
            yield Button("Launch", id="launch-go", variant="success", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#preflight-table", DataTable).add_columns("check", "", "finding")
        self.query_one("#launch-choice").display = False

    def enter(self, preset) -> None:
        """Run preflight for ``preset`` (a new preset asks again about an existing job)."""
        if preset != self.preset:
            self.existing = "ask"
        self.preset = preset
        self.prepared = None
        self.query_one("#launch-go", Button).disabled = True
        self.query_one("#launch-summary", Static).update("Running preflight checks…")
        self.preflight(preset)

    @work(thread=True, exclusive=True, group="preflight", name="preflight")
    def preflight(self, preset) -> None:
        """The same preparation and checks ``cosmos-tui run`` makes before starting."""
        try:
            prepared = wizard_backend.prepare(preset, self.existing)
            self.post_message(PreflightDone(tuple(prepared.checks), prepared.spec.shell(), prepared=prepared))
        except UserError as e:
            self.post_message(PreflightDone(error=str(e)))

    def on_preflight_done(self, message: PreflightDone) -> None:
        table = self.query_one("#preflight-table", DataTable)
        table.clear()
        self.checks = message.checks
        self.prepared = message.prepared
        choose = message.prepared is not None and message.prepared.needs_choice
        self.query_one("#launch-choice").display = choose
        if choose:
            point = message.prepared.resume_point
            resume = self.query_one("#launch-resume", Button)
            resume.label = f"Resume from iteration {point.iteration}"
            resume.display = not message.prepared.resume_trains_nothing  # it would train nothing
            self.query_one("#launch-fresh", Button).label = f"Start fresh as {message.prepared.fresh_name}"
        for c in message.checks:
            level = Text(c.level, style=LEVEL_STYLE.get(c.level, ""))
            table.add_row(c.name, level, Text(printable(c.message)))
        fails = [c for c in message.checks if c.level == "fail"]
        summary = self.query_one("#launch-summary", Static)
        if message.error:
            summary.update(f"[red]{markup_safe(message.error)}[/red]")
        elif choose:
            summary.update(
                "[yellow]This job folder already holds checkpoints: resume it, or start a new job.[/yellow]"
            )
        elif fails:
            summary.update(f"[red]{len(fails)} check(s) fail; fix them and come back.[/red]")
        else:
            summary.update(f"[green]Ready.[/green] [dim]$ {run_preset()} (save it in step 4)[/dim]")
        self.query_one("#launch-go", Button).disabled = bool(fails or message.error)

    @on(Button.Pressed, "#launch-resume")
    def _resume(self) -> None:
        self._choose("resume")

    @on(Button.Pressed, "#launch-fresh")
    def _fresh(self) -> None:
        self._choose("fresh")

    def _choose(self, existing: str) -> None:
        self.existing = existing
        self.prepared = None
        self.query_one("#launch-choice").display = False
        self.query_one("#launch-go", Button).disabled = True
        self.query_one("#launch-summary", Static).update("Running preflight checks…")
        self.preflight(self.preset)

    @on(Button.Pressed, "#launch-go")
    def _go(self) -> None:
        if self.prepared is None:
            return
        self.query_one("#launch-go", Button).disabled = True
        self.query_one("#launch-summary", Static).update("Launching…")
        self.launch(self.prepared, self.preset)

    @work(thread=True, exclusive=True, group="launch", name="launcher")
    def launch(self, prepared, preset) -> None:
        """Create the run record and start its supervisor for the prepared launch (returns at once)."""
        try:
            self.post_message(RunStarted(wizard_backend.launch(prepared, preset)))
        except UserError as e:
            self.post_message(RunStarted(error=str(e)))
