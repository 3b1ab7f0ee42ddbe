"""Small modal dialogs: a yes/no confirmation, a choice among a few ways (or actions), a path to
write to, and a read-only text (a command, a preset)."""

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
    pressed out of habit does nothing destructive: Enter presses the focused button, ``y`` says
    yes explicitly (whichever button has the focus), ``n`` and Escape cancel."""

    DEFAULT_CSS = DIALOG_CSS
    AUTO_FOCUS = "#no"
    BINDINGS = [
        Binding("escape,n", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
    ]
    """Escape and n cancel, y confirms (Enter presses the focused button: Cancel at first)."""

    def __init__(self, question: str, command: str = "", *, yes: str = "Yes", details: str = "") -> None:
        super().__init__()
        self.question = question
        self.command = command
        self.yes = yes
        self.details = details

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide" if self.details else "dialog"):
            yield Static(self.question, classes="dialog-title", markup=False)
            if self.details:
                with VerticalScroll(classes="dialog-body"):
                    yield Static(self.details, markup=False, id="dialog-details")
            if self.command:
                yield Static(f"$ {self.command}", classes="cli-line", markup=False)
            with Horizontal(classes="dialog-buttons"):  # the keys beside the buttons: no row lost at 24
                keys = f"y {self.yes} · n / esc Cancel\nenter: the focused button"
                yield Label(keys, classes="dim hint", markup=False)
                yield Button(self.yes, variant="error", id="yes")
                yield Button("Cancel", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


CANCEL = "-cancel-"
"""The option id of a :class:`ChoiceDialog`'s Cancel (no choice key starts with ``-``)."""


class ChoiceDialog(ModalScreen["str | None"]):
    """Pick one of a few ways to go (``(key, label)`` pairs, as an option list ending in Cancel):
    the chosen key, or ``None`` for Cancel, ``n`` or Escape. ``details`` and the equivalent
    ``commands`` show above the list. The highlight starts on the first way, or on Cancel when
    ``cancel_first`` (a choice that starts something, such as a rerun: a stray Enter does nothing)."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ChoiceDialog { align: center middle; }
    ChoiceDialog OptionList { height: auto; max-height: 12; }
    """
    )
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape,n", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        question: str,
        choices: list[tuple[str, str]],
        *,
        details: str = "",
        commands: str = "",
        cancel_first: bool = False,
    ) -> None:
        super().__init__()
        self.question = question
        self.choices = choices
        """``(key, label)`` pairs."""
        self.details = details
        self.commands = commands
        self.cancel_first = cancel_first

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.question, classes="dialog-title", markup=False)
            if self.details:
                yield Static(self.details, markup=False, classes="dim")
            if self.commands:
                yield Static(self.commands, classes="cli-line", markup=False)
            yield OptionList(
                *(Option(label, id=key) for key, label in self.choices), Option("Cancel", id=CANCEL)
            )
            yield Label("↑/↓ choose · enter pick · n / esc cancel", classes="dim hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = len(self.choices) if self.cancel_first else 0

    @property
    def highlighted(self) -> str | None:
        """The key of the highlighted way (``None``: Cancel)."""
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        key = options.get_option_at_index(options.highlighted).id
        return None if key == CANCEL else key

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(None if event.option.id == CANCEL else event.option.id)


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
