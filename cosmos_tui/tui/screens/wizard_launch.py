"""Wizard step 5: the preflight verdict first, failures and warnings above the passes and whole
(wrapped, never cut), then launch and go straight to the dashboard. For a run on another machine
(the hub step's "elsewhere") it shows what to copy there instead of a Launch button."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Label, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import wizard_backend

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}
LEVEL_ORDER = {"fail": 0, "warn": 1, "ok": 2}


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
        yield Static("Running preflight checks…", id="launch-summary")
        with Horizontal(classes="row", id="launch-choice"):
            yield Button("Resume the job", id="launch-resume", variant="primary")
            yield Button("Start fresh", id="launch-fresh")
        with Horizontal(classes="row"):
            yield Button("Launch", id="launch-go", variant="success", disabled=True)
        yield Static("", id="preflight-table")

    def on_mount(self) -> None:
        self.query_one("#launch-choice").display = False

    def enter(self, preset, *, elsewhere: bool = False) -> None:
        """Run preflight for ``preset`` (a new preset asks again about an existing job); for a run
        on another machine, show what to take there."""
        if preset != self.preset:
            self.existing = "ask"
        self.preset = preset
        self.prepared = None
        go = self.query_one("#launch-go", Button)
        go.disabled = True
        go.display = not elsewhere
        if elsewhere:
            self.query_one("#launch-choice").display = False
            self.query_one("#preflight-table", Static).update("")
            self.query_one("#launch-summary", Static).update(
                "[b]Nothing is launched here.[/b] Save the preset in step 4, copy it to the machine "
                "that has the checkout, weights and data, and there run the first command below "
                "(it checks everything again before it starts). On a Slurm login node, "
                "`cosmos-tui preset render NAME --target slurm -o job.sbatch` writes the script."
            )
            return
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

    @staticmethod
    def checks_table(checks) -> Table:
        """The checks, failures then warnings then passes, each finding whole (wrapped)."""
        table = Table(show_header=True, header_style="bold", expand=True, box=None, pad_edge=False)
        table.add_column("check", no_wrap=True)
        table.add_column("", no_wrap=True)
        table.add_column("finding", ratio=1, overflow="fold")
        for c in sorted(checks, key=lambda c: LEVEL_ORDER.get(c.level, 3)):
            table.add_row(
                c.name, Text(c.level, style=LEVEL_STYLE.get(c.level, "")), Text(printable(c.message))
            )
        return table

    def on_preflight_done(self, message: PreflightDone) -> None:
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
        self.query_one("#preflight-table", Static).update(self.checks_table(message.checks))
        fails = [c for c in message.checks if c.level == "fail"]
        warns = [c for c in message.checks if c.level == "warn"]
        summary = self.query_one("#launch-summary", Static)
        if message.error:
            summary.update(f"[red]{markup_safe(message.error)}[/red]")
        elif choose:
            summary.update(
                "[yellow]This job folder already holds checkpoints: resume it, or start a new job.[/yellow]"
            )
        elif fails:
            summary.update(f"[red]{len(fails)} check(s) fail (listed first); fix them and come back.[/red]")
        elif warns:
            summary.update(
                f"[yellow]Ready, with {len(warns)} warning(s) listed first: read them before you launch."
                "[/yellow]"
            )
        else:
            summary.update("[green]Ready.[/green] [dim]Save it in step 4 to run it again by name.[/dim]")
        go = self.query_one("#launch-go", Button)
        go.disabled = bool(fails or message.error or choose)
        if not go.disabled:
            go.focus()

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
