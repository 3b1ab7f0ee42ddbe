"""Small modal dialogs: a yes/no confirmation, a path to write to, a choice of actions and a
read-only text (a command, a preset)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

DIALOG_CSS = """
.dialog-title { height: auto; text-wrap: wrap; }
.dialog .cli-line { height: auto; text-wrap: wrap; }
"""
"""The question and the command wrap inside the dialog instead of being cut at its edge."""


class ConfirmDialog(ModalScreen[bool]):
    """Ask before doing something that cannot be undone; shows what it would do (``details``, such
    as a prune plan) and the equivalent CLI command. The focus starts on Cancel, so an Enter
    pressed out of habit does nothing destructive."""

    DEFAULT_CSS = DIALOG_CSS
    AUTO_FOCUS = "#no"
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes")]
    """Escape cancels, y confirms."""

    def __init__(
        self,
        question: str,
        command: str = "",
        *,
        yes: str = "Yes",
        details: str = "",
        cancel_focused: bool = False,
    ) -> None:
        super().__init__()
        self.question = question
        self.command = command
        self.yes = yes
        self.details = details
        self.cancel_focused = cancel_focused
        """Start on Cancel, so a stray enter deletes nothing."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide" if self.details else "dialog"):
            yield Static(self.question, classes="dialog-title", markup=False)
            if self.details:
                with VerticalScroll(classes="dialog-body"):
                    yield Static(self.details, markup=False, id="dialog-details")
            if self.command:
                yield Static(f"$ {self.command}", classes="cli-line", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        if self.cancel_focused:
            self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ChoiceDialog(ModalScreen[str | None]):
    """Ask which of a few ways to go (each a button), or none (Cancel, focused; escape): the
    chosen button's key, or ``None``. Shows the equivalent command of each way."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    """Escape cancels."""

    def __init__(self, question: str, choices: list[tuple[str, str]], commands: str = "") -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        """``(key, button label)`` pairs."""
        self.commands = commands

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.question, classes="dialog-title", markup=False)
            if self.commands:
                yield Static(self.commands, classes="cli-line", markup=False)
            with Horizontal(classes="dialog-buttons"):
                for key, label in self.choices:
                    yield Button(label, variant="warning", id=f"choice-{key}")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        bid = event.button.id or ""
        self.dismiss(bid.removeprefix("choice-") if bid.startswith("choice-") else None)


class PathDialog(ModalScreen["str | None"]):
    """Ask where to write something (an export): a path, filled with a default; Enter accepts,
    Escape cancels (``None``)."""

    DEFAULT_CSS = DIALOG_CSS + "PathDialog { align: center middle; }"
    AUTO_FOCUS = "#path"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, default: str, command: str = "", *, ok: str = "OK") -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.command = command
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.question, classes="dialog-title", markup=False)
            yield Input(self.default, id="path")
            if self.command:
                yield Static(f"$ {self.command}", classes="cli-line", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def _accept(self) -> None:
        value = self.query_one("#path", Input).value.strip()
        self.dismiss(value or self.default)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._accept()
        else:
            self.dismiss(None)


class ActionDialog(ModalScreen["str | None"]):
    """Pick one of a few actions (``(id, label)`` pairs); Enter picks, Escape cancels (``None``)."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ActionDialog { align: center middle; }
    ActionDialog OptionList { height: auto; max-height: 12; }
    """
    )
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], details: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.details = details

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.details:
                yield Static(self.details, markup=False, classes="dim")
            yield OptionList(*(Option(label, id=key) for key, label in self.choices))
            yield Label("enter choose · esc cancel", classes="dim")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class TextDialog(ModalScreen[None]):
    """Show text (a command, a preset) to read or copy; any of escape/q/enter closes it."""

    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close"),
        Binding("ctrl+c", "copy", "Copy", show=True),
    ]
    """Closing and copying keys."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.text, markup=False, id="dialog-text")
            yield Label("esc close · ctrl+c copy", classes="dim")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.notify("Copied to the clipboard.")
