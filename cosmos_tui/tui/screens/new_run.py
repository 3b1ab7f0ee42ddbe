"""The new-run wizard: Model → Hugging Face → Data → Setup → Launch, then the dashboard.

Each step is a widget of its own module; this screen moves between them, carries the choices
forward, and refuses to go on while a step is not done (saying why). Esc goes back a step (on the
first it asks before leaving); what was entered is kept as a draft for the next time the wizard
opens. ``q`` never quits from here (ctrl+q does).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Header, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.tui import wizard_backend
from cosmos_tui.tui.screens.dialogs import ConfirmDialog
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
        Binding("escape", "back_or_leave", "Back"),
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("ctrl+right", "next", "Next", priority=True, show=False),
        Binding("ctrl+left", "back", "Back", priority=True, show=False),
        Binding("q", "stay", show=False),
    ]
    """Esc goes back (on the first step it asks before leaving); ctrl+n or ctrl+→ go on (macOS
    takes ctrl+arrows: ctrl+n is the one that always reaches the app); q is a letter here."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.draft, self.draft_note = wizard_backend.load_draft()

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
        self.restore_draft()
        if self.draft_note:
            self.notify(markup_safe(self.draft_note), severity="warning")
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
        if self.step:
            self._keep_draft()
        self.call_after_refresh(self._focus_step)

    def _focus_step(self) -> None:
        """Put the focus on the step's first field (or the one it marks ``first-field``: the
        setup step's overrides, the field most edited), so typing goes where the person looks."""
        panel = self.query_one(ContentSwitcher).visible_content
        if panel is None:
            return
        for widget in [*panel.query(".first-field"), *panel.query("Input, Select, DataTable, Button")]:
            if widget.focusable and widget.display and not widget.disabled:
                widget.focus()
                return

    def _blocker(self) -> str | None:
        """Why the current step is not done yet (``None`` when it is)."""
        name = STEPS[self.step]
        if name == "model" and self.query_one(ModelStep).selected is None:
            return "Pick a model first."
        hub = self.query_one(HubStep)
        if name == "hub" and hub.blocker:
            return hub.blocker
        if name == "data":
            data = self.query_one(DataStep)
            if hub.elsewhere and data.data_root and data.report is None:
                return None  # the data is on the other machine; its preflight validates it there
            if data.report is None:
                if data.stale:
                    return "The folder, layout or model changed since the last validation; validate again."
                return "Validate the dataset first (or make a synthetic one)."
            if not data.report.ok:
                return "The dataset has error findings; fix them (see the table) and validate again."
        if name == "setup" and self.query_one(SetupStep).preset is None:
            return self.query_one(SetupStep).error
        return None

    def action_stay(self) -> None:
        """``q`` does not leave the wizard (a button had the focus, and the wizard was lost)."""
        self.notify("Esc goes back a step; ctrl+q quits cosmos-tui.", timeout=3)

    def action_back_or_leave(self) -> None:
        """Back one step; on the first, ask before leaving (the draft is kept either way)."""
        if self.step > 0:
            self.action_back()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._keep_draft()
                self.app.pop_screen()

        self.app.push_screen(
            ConfirmDialog(
                "Leave the new-run wizard?", yes="Leave", details="What you entered is kept for next time."
            ),
            answered,
        )

    def _keep_draft(self) -> None:
        hub, data = self.query_one(HubStep), self.query_one(DataStep)
        model = self.query_one(ModelStep).selected
        draft = {
            "model": model.id if model else self.draft.get("model"),
            "checkout": hub.query_one("#hub-checkout").value,
            "elsewhere": hub.query_one("#hub-elsewhere").value,
            "data_root": data.data_root,
            "layout": data.layout_id,
            "setup": self.query_one(SetupStep).draft() or self.draft.get("setup", {}),
        }
        wizard_backend.save_draft(draft)

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
        hub = self.query_one(HubStep)
        name = STEPS[self.step]
        if name == "hub":
            hub.enter(model)
        elif name == "data":
            exp = model.experiments[0] if model and model.experiments else None
            data.enter(model, exp, elsewhere=hub.elsewhere)
        elif name == "setup":
            fresh = setup.model is None
            setup.enter(
                model,
                data.data_root,
                data.layout_id,
                checkout=hub.checkout,
                elsewhere=hub.elsewhere,
                gpus=self.query_one(ModelStep).gpus_here,
            )
            if fresh:
                setup.restore(self.draft.get("setup", {}))
        elif name == "launch":
            self.query_one(LaunchStep).enter(setup.preset, elsewhere=hub.elsewhere)
        self._show()

    def restore_draft(self) -> None:
        """Fill the fields from the draft the wizard kept when it was last left."""
        draft = self.draft
        if not draft:
            return
        if isinstance(draft.get("model"), str):
            models = self.query_one(ModelStep)
            if not (models.rows and models.select_model(draft["model"])):
                models.wanted = draft["model"]  # the catalog is still being read
        hub = self.query_one(HubStep)
        if isinstance(draft.get("checkout"), str):
            hub.query_one("#hub-checkout").value = draft["checkout"]
        hub.query_one("#hub-elsewhere").value = bool(draft.get("elsewhere"))
        data = self.query_one(DataStep)
        if isinstance(draft.get("data_root"), str):
            data.query_one("#data-root").value = draft["data_root"]
        if draft.get("layout") in wizard_backend.layout_titles():
            data.query_one("#data-layout").value = draft["layout"]

    def on_run_started(self, message: RunStarted) -> None:
        if message.error:
            self.notify(markup_safe(message.error), severity="error")
            self.query_one(LaunchStep).enter(self.query_one(SetupStep).preset)
            return
        self._keep_draft()
        self.notify(f"Launched {message.run_id}.")
        self.app.open_run(message.run_id, replace=True)  # type: ignore[attr-defined]
