"""The new-run wizard: Model → Hugging Face → Data → Setup → Launch, then the dashboard.

Each step is a widget of its own module; this screen moves between them, carries the choices
forward, and refuses to go on while a step is not done (saying why).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Header, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.tui.screens.wizard_data import DataStep
from cosmos_tui.tui.screens.wizard_hub import HubStep
from cosmos_tui.tui.screens.wizard_launch import LaunchStep, RunStarted
from cosmos_tui.tui.screens.wizard_model import ModelStep
from cosmos_tui.tui.screens.wizard_setup import SetupStep

STEPS = ("model", "hub", "data", "setup", "launch")
TITLES = ("Model", "Hugging Face", "Data", "Setup", "Launch")


class NewRunScreen(Screen):
    """Set up and launch a run, step by step."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Cancel"),
        Binding("ctrl+right", "next", "Next", priority=True),
        Binding("ctrl+left", "back", "Back", priority=True),
    ]
    """Escape leaves the wizard; ctrl+arrows move between steps."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="wizard-steps")
        with VerticalScroll(id="wizard-body"), ContentSwitcher(initial="model", id="wizard-switcher"):
            yield ModelStep(id="model")
            yield HubStep(id="hub")
            yield DataStep(id="data")
            yield SetupStep(id="setup")
            yield LaunchStep(id="launch")
        with Horizontal(id="wizard-nav"):
            yield Button("Back", id="wizard-back")
            yield Button("Next", id="wizard-next", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = "new run"
        self._show()

    def _show(self) -> None:
        marks = []
        for i, title in enumerate(TITLES):
            style = "reverse bold" if i == self.step else ("green" if i < self.step else "dim")
            marks.append(f"[{style}] {i + 1} {title} [/]")
        self.query_one("#wizard-steps", Static).update(" › ".join(marks))
        self.query_one(ContentSwitcher).current = STEPS[self.step]
        self.query_one("#wizard-back", Button).disabled = self.step == 0
        self.query_one("#wizard-next", Button).display = self.step < len(STEPS) - 1
        self.query_one("#wizard-body").scroll_home(animate=False)
        self.call_after_refresh(self._focus_step)

    def _focus_step(self) -> None:
        """Put the focus on the step's first field, so typing goes where the person looks."""
        panel = self.query_one(ContentSwitcher).visible_content
        if panel is None:
            return
        for widget in panel.query("Input, Select, DataTable, Button"):
            if widget.focusable and widget.display and not widget.disabled:
                widget.focus()
                return

    def _blocker(self) -> str | None:
        """Why the current step is not done yet (``None`` when it is)."""
        name = STEPS[self.step]
        if name == "model" and self.query_one(ModelStep).selected is None:
            return "Pick a model first."
        if name == "hub" and not self.query_one(HubStep).ready:
            return "The weights are not all on disk yet: log in, accept the licences and download."
        if name == "data":
            data = self.query_one(DataStep)
            if data.report is None:
                return "Validate the dataset first (or make a synthetic one)."
            if not data.report.ok:
                return "The dataset has error findings; fix them (see the table) and validate again."
        if name == "setup" and self.query_one(SetupStep).preset is None:
            return self.query_one(SetupStep).error
        return None

    @on(Button.Pressed, "#wizard-next")
    def action_next(self) -> None:
        """Go to the next step if this one is done."""
        blocker = self._blocker()
        if blocker:
            self.notify(blocker, severity="warning")
            return
        if self.step >= len(STEPS) - 1:
            return
        self.step += 1
        self._enter()

    @on(Button.Pressed, "#wizard-back")
    def action_back(self) -> None:
        """Go back one step."""
        if self.step > 0:
            self.step -= 1
            self._show()

    def _enter(self) -> None:
        model = self.query_one(ModelStep).selected
        setup = self.query_one(SetupStep)
        data = self.query_one(DataStep)
        name = STEPS[self.step]
        if name == "hub":
            self.query_one(HubStep).enter(model)
        elif name == "data":
            exp = model.experiments[0] if model and model.experiments else None
            data.enter(model, exp)
        elif name == "setup":
            setup.enter(model, data.data_root, data.layout_id)
        elif name == "launch":
            self.query_one(LaunchStep).enter(setup.preset)
        self._show()

    def on_run_started(self, message: RunStarted) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            self.query_one(LaunchStep).enter(self.query_one(SetupStep).preset)
            return
        self.notify(f"Launched {message.run_id}.")
        self.app.open_run(message.run_id, replace=True)  # type: ignore[attr-defined]
