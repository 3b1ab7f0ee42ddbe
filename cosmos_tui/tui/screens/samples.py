"""A job's samples: one prompt and seed over the course of training, side by side (the base
weights first, then each sampled checkpoint), its contact sheets drawn in the terminal, and
"play" opening a sample's mp4 in the user's own player (in a browser, in a new tab)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.player import Opened, open_file
from cosmos_tui.core.sampling.gallery import JobSamples, Sample
from cosmos_tui.tui.commands import samples_commands
from cosmos_tui.tui.messages import SamplesStarted, SamplesUpdated
from cosmos_tui.tui.pollers import poll
from cosmos_tui.tui.screens.dialogs import TextDialog
from cosmos_tui.tui.widgets.sample_image import sample_image

Opener = Callable[[Path], Opened]
"""What plays an mp4 (the default: :func:`~cosmos_tui.core.player.open_file`)."""


def key_label(prompt: str | None, seed: int) -> str:
    """``seed 0 · a red car…`` (the clip's caption when the sample had no prompt of its own)."""
    return f"seed {seed} · {printable(prompt) if prompt is not None else 'its clip’s caption'}"


class SamplesScreen(Screen):
    """The samples of one job: prompts and seeds on the left, their images across checkpoints."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("left", "column(-1)", "◀", show=False),
        Binding("right", "column(1)", "▶", show=False),
        Binding("p", "play", "Play"),
        Binding("enter", "play", "Play", show=False),
        Binding("n", "new_samples", "Sample latest"),
        Binding("r", "refresh", "Refresh"),
        Binding("y", "show_cli", "CLI"),
    ]

    POLL_S = 3.0
    """Seconds between reads of the samples folder."""

    def __init__(self, ref: str, *, opener: Opener = open_file) -> None:
        super().__init__()
        self.ref = ref
        """A run id or a job folder."""
        self.opener = opener
        self.samples: JobSamples | None = None
        self.key: tuple[str | None, int] | None = None
        """The prompt and seed the grid shows."""
        self.column = 0
        """The set (grid column) play opens."""
        self._wake = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Reading the samples…", id="samples-title")
        yield Static("", id="samples-running")
        with Horizontal(id="samples-body"):
            yield OptionList(id="samples-keys")
            with Vertical(id="samples-right"):
                yield Static("", id="samples-empty", markup=False)
                yield HorizontalScroll(id="samples-grid")
        yield Static("", id="samples-status", markup=False)
        hint = "$ " + printable(samples_commands(self.ref)["new"])
        yield Static(hint, id="cli-hint", classes="cli-line", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "cosmos-tui"
        self.sub_title = "samples"
        self.query_one("#samples-keys", OptionList).border_title = "prompt · seed"
        self.poll_samples()

    @work(thread=True, exclusive=True, group="samples-poll", name="samples poller")
    def poll_samples(self) -> None:
        """Read the job's samples every few seconds."""
        backend = self.app.backend  # type: ignore[attr-defined]

        def produce() -> SamplesUpdated:
            try:
                return SamplesUpdated(backend.samples_view(self.ref))
            except UserError as e:
                return SamplesUpdated(None, str(e))

        poll(produce, self.post_message, self.POLL_S, wake=self._wake)

    def on_samples_updated(self, message: SamplesUpdated) -> None:
        title = self.query_one("#samples-title", Static)
        if message.samples is None:
            title.update(f"[red]{markup_safe(message.error or 'no job')}[/red]")
            return
        found = message.samples
        if found == self.samples:
            return  # nothing changed: keep the grid and the cursor, no redraw
        self.samples = found
        sets = ", ".join(s.title for s in found.sets) or "none yet"
        title.update(
            f"[b]samples of job {markup_safe(printable(found.job_dir.name))}[/b]  sets: {markup_safe(sets)}"
        )
        running = [
            f"drawing {', '.join(j.targets)} ({j.id}, {len(j.done)}/{len(j.targets)} done)"
            for j in found.running
        ]
        self.query_one("#samples-running", Static).update(
            markup_safe(printable("  ".join([*running, *found.damaged])))
        )
        keys = self.query_one("#samples-keys", OptionList)
        keys.clear_options()
        keys.add_options([Option(Text(key_label(*k))) for k in found.keys])  # Text: never markup
        empty = self.query_one("#samples-empty", Static)
        if not found.keys:
            empty.update(f"No samples yet: `{printable(samples_commands(self.ref)['new'])}`")
            empty.display = True
            self.key = None
            self._show_grid()
            return
        empty.display = False
        index = found.keys.index(self.key) if self.key in found.keys else 0
        keys.highlighted = index
        self.key = found.keys[index]
        self._show_grid()

    @on(OptionList.OptionHighlighted, "#samples-keys")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.samples is None or event.option_index >= len(self.samples.keys):
            return
        key = self.samples.keys[event.option_index]
        if key != self.key:
            self.key = key
            self._show_grid()

    @on(OptionList.OptionSelected, "#samples-keys")
    def _selected(self) -> None:
        self.action_play()

    def _row(self) -> tuple[Sample | None, ...]:
        if self.samples is None or self.key is None:
            return ()
        return self.samples.row(self.key)

    def _show_grid(self) -> None:
        grid = self.query_one("#samples-grid", HorizontalScroll)
        grid.remove_children()
        row = self._row()
        if not row:
            return
        self.column = min(self.column, len(row) - 1)
        assert self.samples is not None
        cells = []
        for n, (st, sample) in enumerate(zip(self.samples.sets, row, strict=True)):
            caption = "not drawn" if sample is None else ("▶ mp4" if sample.mp4 else "no mp4")
            cell = Vertical(
                Static(st.title, classes="sample-title", markup=False),
                sample_image(sample.png if sample else None, classes="sample-image"),
                Static(caption, classes="sample-caption", markup=False),
                classes="sample-cell" + (" -selected" if n == self.column else ""),
            )
            cells.append(cell)
        grid.mount_all(cells)

    def action_column(self, step: int) -> None:
        row = self._row()
        if not row:
            return
        self.column = (self.column + step) % len(row)
        for n, cell in enumerate(self.query(".sample-cell")):
            cell.set_class(n == self.column, "-selected")

    def action_play(self) -> None:
        row = self._row()
        status = self.query_one("#samples-status", Static)
        if not row:
            status.update("Nothing to play yet.")
            return
        sample = row[self.column]
        if sample is None or sample.mp4 is None:
            status.update("This checkpoint has no video for this prompt and seed.")
            return
        status.update(self._to_browser(sample.mp4) if self.app.is_web else self.opener(sample.mp4).message)

    def _to_browser(self, mp4: Path) -> str:
        """In a browser (``cosmos-tui web``) the player is the browser: the mp4 goes to it through
        Textual's file delivery and opens in a new tab (a player on the GPU machine shows nobody)."""
        real = resolved(mp4)
        if not real.is_file():
            return f"{printable(str(real))} is not there any more; draw the samples again."
        self.app.deliver_binary(real, open_method="browser", mime_type="video/mp4")
        return f"Sent {printable(real.name)} to your browser: it opens in a new tab (allow pop-ups if not)."

    def action_new_samples(self) -> None:
        """Sample the latest checkpoint (and the base weights when they were never sampled)."""
        status = self.query_one("#samples-status", Static)
        if self.samples is not None and self.samples.running:
            busy = self.samples.running[0].id
            status.update(
                f"Samples job {busy} is drawing for this job; wait, or `cosmos-tui samples stop {busy}`."
            )
            return
        base = self.samples is None or not any(s.iteration is None for s in self.samples.sets)
        command = samples_commands(self.ref)["new"]
        if not base:
            command = command.removesuffix(" --base")
        status.update(f"Starting: {printable(command)}")
        self._start(base, command)

    @work(thread=True, exclusive=True, group="samples-start", name="samples starter")
    def _start(self, base: bool, command: str) -> None:
        try:
            job = self.app.backend.start_samples(self.ref, base=base)  # type: ignore[attr-defined]
        except UserError as e:
            self.post_message(SamplesStarted(str(e), False))
            return
        self.post_message(SamplesStarted(f"Samples job {job.id} started ({command}).", True))

    def on_samples_started(self, message: SamplesStarted) -> None:
        self.query_one("#samples-status", Static).update(printable(message.message))
        self._wake.set()

    def action_refresh(self) -> None:
        self._wake.set()

    def action_show_cli(self) -> None:
        self.app.push_screen(
            TextDialog(
                "Equivalent commands", "\n".join(printable(c) for c in samples_commands(self.ref).values())
            )
        )
