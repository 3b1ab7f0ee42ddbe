"""The Textual app: runs (home), a dashboard per run, the new-run wizard, help.

``run_app()`` is what ``cosmos-tui`` (no arguments) and ``cosmos-tui demo`` call. The app sits on
``core`` only, through :class:`~cosmos_tui.tui.backend.Backend` (runs, GPUs, the dashboard's
actions), which tests build with a fixed clock and a GPU test double, and the wizard's
:mod:`~cosmos_tui.tui.wizard_backend`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.paths import screenshots_root
from cosmos_tui.tui.backend import Backend
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.help import HelpScreen
from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.widgets.sample_image import probe as probe_images


class CosmosApp(App):
    """cosmos-tui's terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "cosmos-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+n", "new_run", "New run", show=False),
    ]
    """App-wide keys; ``ctrl+p`` opens the command palette."""

    def __init__(self, backend: Backend | None = None, *, initial_run_id: str | None = None) -> None:
        super().__init__()
        self.backend = backend or Backend()
        self.initial_run_id = initial_run_id
        self.announced: list = []
        """Watchdog events shown so far (tests read it)."""
        self.last_screenshot: Path | None = None
        """Where the last screenshot was saved (tests read it)."""

    def on_mount(self) -> None:
        if self.backend.announce is None:
            self.backend.announce = self.announce_from_thread
        self.run_worker(self._read_settings, thread=True, name="settings", group="settings")
        self.run_worker(self._start_queue, thread=True, name="queue start", group="settings")
        self.push_screen(RunsScreen())
        if self.initial_run_id:
            self.open_run(self.initial_run_id)

    def _read_settings(self) -> None:
        """Read ``config.toml`` once, off the event loop; a bad file is shown, the defaults apply."""
        _ = self.backend.notify_config
        if self.backend.config_error:
            self.call_from_thread(
                self.notify, self.backend.config_error, title="config.toml", severity="warning", timeout=15
            )

    def _start_queue(self) -> None:
        """Any UI start starts the queue's dispatcher when entries wait and none runs."""
        try:
            self.backend.ensure_dispatcher()
        except (UserError, OSError):
            pass  # the Queue screen says what is wrong with the queue

    def announce_from_thread(self, events: Sequence, bell: bool) -> None:
        """Show watchdog events (finish, crash, stall, low disk) as toasts, with the terminal bell
        when ``config.toml`` asks for it; called by the backend from a worker thread."""
        self.call_from_thread(self.announce, events, bell)

    def announce(self, events: Sequence, bell: bool) -> None:
        """Show watchdog events on screen (see :meth:`announce_from_thread`)."""
        self.announced.extend(events)
        for event in events:
            severity = "information" if event.kind in ("finished", "stopped", "recovered") else "warning"
            if event.kind == "crashed":
                severity = "error"
            title = markup_safe(f"{event.run or 'run'}: {event.kind}")
            self.notify(markup_safe(event.message), title=title, severity=severity)
        if bell:
            self.bell()

    def open_run(self, run_id: str, *, replace: bool = False) -> None:
        """Show the dashboard of ``run_id`` (over the runs screen)."""

        if replace:
            self.switch_screen(DashboardScreen(run_id))
        else:
            self.push_screen(DashboardScreen(run_id))

    def action_new_run(self) -> None:
        """Open the new-run wizard."""

        self.push_screen(NewRunScreen())

    def action_help(self) -> None:
        """Show the keys and commands of every screen."""

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        """Go back to the list of runs."""
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen under the state folder's ``screenshots/`` (Textual's own goes
        to ``~/Downloads`` and fails without a reason where that folder is missing) and say where."""
        svg = self.export_screenshot()
        name = filename or time.strftime("cosmos-tui-%Y%m%d-%H%M%S.svg")
        self.run_worker(
            lambda: self._write_screenshot(svg, name, path),
            thread=True,
            name="screenshot",
            group="screenshot",
        )

    def _write_screenshot(self, svg: str, name: str, folder: str | None) -> None:
        try:
            where = Path(folder) if folder else screenshots_root()
            target = where / name
            target.write_text(svg, encoding="utf-8")
        except UserError as e:
            self.call_from_thread(self.notify, markup_safe(e), title="Screenshot", severity="error")
            return
        except OSError as e:
            why = describe_os_error(e, doing="write")
            self.call_from_thread(self.notify, markup_safe(why), title="Screenshot", severity="error")
            return
        self.last_screenshot = target
        self.call_from_thread(self.notify, markup_safe(f"Saved {target.absolute()}"), title="Screenshot")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # ours: under the state folder, with the path shown
                command = SystemCommand(
                    "Screenshot",
                    "Save an SVG of the screen under the state folder (screenshots/)",
                    lambda: self.set_timer(0.1, self.action_screenshot),
                )
            yield command
        yield SystemCommand("New run", "Set up and launch a run, step by step", self.action_new_run)
        yield SystemCommand("Runs", "The list of runs", self.action_runs)
        yield SystemCommand("Help", "Keys and the equivalent commands", self.action_help)


def run_app(initial_run_id: str | None = None) -> None:
    """Open the TUI; with ``initial_run_id``, straight on that run's dashboard."""
    probe_images()  # textual-image asks the terminal what it draws; only possible before the app owns stdin
    CosmosApp(initial_run_id=initial_run_id).run()
