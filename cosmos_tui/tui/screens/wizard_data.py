"""Wizard step 3: the dataset folder, its layout (detected or chosen), and a validation that runs
in a worker with progress and ends in a findings table (severity, count, example, fix). The
folder can also be made here: from a folder of raw videos (``data prepare``, a resumable job with
progress, ETA and a Stop button, which ends in the same validation) or as a synthetic set."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static

from cosmos_tui.core.display import markup_safe, printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import commands, wizard_backend
from cosmos_tui.tui.screens.dialogs import ConfirmDialog

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@dataclass(eq=False)
class ValidationProgress(Message):
    """Clips checked so far."""

    done: int
    total: int


@dataclass(eq=False)
class ValidationDone(Message):
    """The report (``None`` with ``error`` when validation could not run)."""

    report: object | None = None
    error: str = ""
    validated_for: tuple | None = None
    """``(folder, layout, experiment)`` the report is about."""


@dataclass(eq=False)
class PrepareProgress(Message):
    """Source videos prepared so far."""

    done: int
    total: int
    elapsed_s: float


@dataclass(eq=False)
class PrepareDone(Message):
    """What the prepare job did (``None`` with ``error`` when it stopped or could not run)."""

    result: object | None = None
    error: str = ""
    prepared_for: tuple | None = None


@dataclass(eq=False)
class LayoutDetected(Message):
    """The layout the folder looks like (``None``: not recognised)."""

    layout_id: str | None


class DataStep(Vertical):
    """Pick a dataset folder (or make a synthetic one), check it, read the findings."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self._report = None
        self._validated_for: tuple | None = None
        self.experiment: str | None = None
        self._model_id: str | None = None
        self.elsewhere = False
        """The dataset is on the machine that will run (the hub step's 'another machine')."""
        self._stop_prepare = threading.Event()

    def compose(self) -> ComposeResult:
        yield Label("3 · Data", classes="step-title")
        with Horizontal(classes="row"):
            yield Label("Folder")
            yield Input(
                placeholder="/path/to/dataset (the folder holding videos/)", id="data-root", compact=True
            )
        with Horizontal(classes="row"):
            yield Label("Layout")
            yield Select(
                [(f"{k} — {title}", k) for k, title in wizard_backend.layout_titles().items()],
                id="data-layout",
                prompt="detect",
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Label("Raw videos")
            yield Input(
                placeholder="optional: a folder of .mp4/.mov/.mkv to prepare into Folder",
                id="data-src",
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Button("Validate", id="data-validate", variant="primary", compact=True)
            yield Button("Prepare from raw videos", id="data-prepare", compact=True)
            yield Button("Stop", id="data-prepare-stop", variant="warning", compact=True)
            yield Button("Make a synthetic set here", id="data-synth", compact=True)
        yield ProgressBar(id="data-progress", show_eta=False)
        yield DataTable(id="findings-table", cursor_type="row")
        yield Static("", id="data-summary")

    def on_mount(self) -> None:
        self.query_one("#findings-table", DataTable).add_columns(
            "severity", "finding", "count", "example", "fix"
        )
        self.query_one("#data-progress").display = False
        self.query_one("#data-prepare-stop").display = False

    def enter(self, model, experiment: str | None, *, elsewhere: bool = False) -> None:
        """Show this step for ``model``; its layout is preselected. A report made for another
        folder, layout or experiment no longer counts (the step says so)."""
        self.experiment = experiment
        self.elsewhere = elsewhere
        layout = self.query_one("#data-layout", Select)
        changed = model is not None and model.id != self._model_id
        if model is not None and (layout.is_blank() or (changed and self._model_id is not None)):
            layout.value = model.dataset_layout  # a model picked anew brings its own layout
        self._model_id = model.id if model is not None else None
        if self.stale:
            self.query_one("#findings-table", DataTable).clear()
            self.query_one("#data-summary", Static).update(
                "[yellow]The last validation was for another folder, layout or experiment; "
                "validate again.[/yellow]"
            )
        elif elsewhere and self.report is None:
            self.query_one("#data-summary", Static).update(
                "[dim]The dataset may be on the other machine: give its path there; validate it "
                "there with the command below (or here, if it is here too).[/dim]\n"
                f"[dim]{self._cli()}[/dim]"
            )

    def _current(self) -> tuple:
        return (self.data_root, self.layout_id, self.experiment)

    @property
    def report(self):
        """The validation report of the folder, layout and experiment now chosen (``None``: not
        validated, or validated for something else since changed)."""
        return self._report if self._validated_for == self._current() else None

    @property
    def stale(self) -> bool:
        """A validation was made, but for another folder, layout or experiment than now."""
        return self._report is not None and self.report is None

    @on(Input.Changed, "#data-root")
    @on(Select.Changed, "#data-layout")
    def _changed(self) -> None:
        if self.stale:
            self.query_one("#data-summary", Static).update(
                "[yellow]Changed since the last validation; validate again.[/yellow]"
            )

    @property
    def data_root(self) -> str:
        """The folder typed in."""
        return self.query_one("#data-root", Input).value.strip()

    @property
    def layout_id(self) -> str | None:
        """The layout chosen or detected."""
        sel = self.query_one("#data-layout", Select)
        return None if sel.is_blank() else str(sel.value)

    def _cli(self, verb: str = "validate") -> str:
        """The equivalent command, quoted for a shell and escaped for markup (a path holding
        ``[/]`` or ``[bold]`` shows as itself and pastes as itself)."""
        line = commands.data_command(verb, self.data_root or "DIR", self.layout_id or "ID", self.experiment)
        return markup_safe("$ " + line)

    @on(Input.Submitted, "#data-root")
    def _detect(self) -> None:
        if self.data_root:
            self.detect(self.data_root)

    @work(thread=True, exclusive=True, group="data-detect", name="layout detector")
    def detect(self, root: str) -> None:
        """Guess the layout from the folder's structure."""
        self.post_message(LayoutDetected(wizard_backend.detect_layout(root)))

    def on_layout_detected(self, message: LayoutDetected) -> None:
        if message.layout_id:
            self.query_one("#data-layout", Select).value = message.layout_id
            self.notify(f"Layout detected: {markup_safe(message.layout_id)}")
        else:
            self.notify("No known layout recognised; choose one.", severity="warning")

    @on(Button.Pressed, "#data-validate")
    def _validate(self) -> None:
        if not self.data_root or not self.layout_id:
            self.notify("Give a folder and a layout first.", severity="warning")
            return
        self.query_one("#data-progress").display = True
        self.query_one("#data-summary", Static).update(f"Validating…\n[dim]{self._cli()}[/dim]")
        self.validate(self.data_root, self.layout_id, self.experiment)

    @work(thread=True, exclusive=True, group="data-validate", name="validator")
    def validate(self, root: str, layout: str, experiment: str | None) -> None:
        """Run the dataset validator, posting progress as clips are checked."""
        try:
            report = wizard_backend.validate(
                root,
                layout,
                experiment,
                lambda done, total: self.post_message(ValidationProgress(done, total)),
            )
            self.post_message(ValidationDone(report, validated_for=(root, layout, experiment)))
        except UserError as e:
            self.post_message(ValidationDone(error=str(e)))

    def on_validation_progress(self, message: ValidationProgress) -> None:
        self.query_one("#data-progress", ProgressBar).update(total=message.total or 1, progress=message.done)

    def on_validation_done(self, message: ValidationDone) -> None:
        self.query_one("#data-progress").display = False  # ended: no bar that looks like it goes on
        self._report = message.report
        self._validated_for = message.validated_for
        table = self.query_one("#findings-table", DataTable)
        table.clear()
        summary = self.query_one("#data-summary", Static)
        if message.error:
            summary.update(f"[red]{markup_safe(message.error)}[/red]")
            return
        r = message.report
        for f in r.findings:
            example = f.examples[0] if f.examples else ""
            if isinstance(example, (tuple, list)):
                example = " ".join(str(x) for x in example)
            table.add_row(
                Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
                Text(printable(f.id)),
                str(f.count),
                Text(printable(example)[:40]),
                Text(printable(f.fix)[:60]),
            )
        verdict = "[green]valid[/green]" if r.ok else f"[red]{r.errors} error finding(s)[/red]"
        summary.update(
            f"{verdict}: {r.clips} clips, {r.videos} videos, {r.embeddings} embeddings, "
            f"{r.min_frames} frames needed · {r.elapsed_s:.1f} s\n[dim]{self._cli()}[/dim]"
        )

    @property
    def source(self) -> str:
        """The raw-videos folder typed in."""
        return self.query_one("#data-src", Input).value.strip()

    def _prepare_cli(self) -> str:
        line = commands.prepare_command(
            self.source or "SRC", self.data_root or "OUT", self.layout_id or "ID", self.experiment
        )
        return markup_safe("$ " + line)

    @on(Button.Pressed, "#data-prepare")
    def _prepare(self) -> None:
        if not self.source or not self.data_root or not self.layout_id:
            self.notify(
                "Give the raw videos, the Folder to write the dataset into, and a layout first.",
                severity="warning",
            )
            return
        self._stop_prepare.clear()
        self.query_one("#data-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#data-progress").display = True
        self.query_one("#data-prepare-stop").display = True
        self.query_one("#data-prepare").disabled = True
        self.query_one("#data-summary", Static).update(
            f"Preparing {markup_safe(self.layout_id)} clips from the raw videos…\n"
            f"[dim]{self._prepare_cli()}[/dim]"
        )
        self.prepare(self.source, self.data_root, self.layout_id, self.experiment)

    @on(Button.Pressed, "#data-prepare-stop")
    def _stop(self) -> None:
        self._stop_prepare.set()
        self.query_one("#data-summary", Static).update("Stopping after the videos in hand…")

    @work(thread=True, exclusive=True, group="data-validate", name="data prepare")
    def prepare(self, src: str, out: str, layout: str, experiment: str | None) -> None:
        """Run (or resume) the prepare job, posting progress; it ends in the validator's report."""
        try:
            result = wizard_backend.prepare_dataset(
                src,
                out,
                layout,
                experiment,
                lambda done, total, elapsed: self.post_message(PrepareProgress(done, total, elapsed)),
                self._stop_prepare.is_set,
            )
        except UserError as e:
            self.post_message(PrepareDone(error=str(e)))
            return
        self.post_message(PrepareDone(result, prepared_for=(out, layout, experiment)))

    def on_prepare_progress(self, message: PrepareProgress) -> None:
        self.query_one("#data-progress", ProgressBar).update(total=message.total or 1, progress=message.done)
        left = message.total - message.done
        if message.done and message.elapsed_s > 0 and left > 0:
            eta = left * message.elapsed_s / message.done
            summary = self.query_one("#data-summary", Static)
            summary.update(
                f"Prepared {message.done}/{message.total} raw videos · about {eta:.0f} s left\n"
                f"[dim]{self._prepare_cli()}[/dim]"
            )

    def on_prepare_done(self, message: PrepareDone) -> None:
        self.query_one("#data-prepare-stop").display = False
        self.query_one("#data-prepare").disabled = False
        self.query_one("#data-progress").display = False
        if message.error:
            self.query_one("#data-summary", Static).update(
                f"[red]{markup_safe(message.error)}[/red]\n[dim]{self._prepare_cli()}[/dim]"
            )
            return
        r = message.result
        dropped = "; ".join(f"{printable(what)}: {printable(why)}" for what, why in r.dropped[:3])
        more = f" (+{len(r.dropped) - 3} more)" if len(r.dropped) > 3 else ""
        self.notify(
            f"Prepared {r.clips} clip(s) from {r.sources} video(s); {len(r.dropped)} dropped"
            + (f": {markup_safe(dropped)}{more}" if dropped else ""),
            timeout=10,
        )
        if r.report is not None:  # the same table and verdict as a validation of the folder
            self.post_message(ValidationDone(r.report, validated_for=message.prepared_for))

    @on(Button.Pressed, "#data-synth")
    def _synth(self) -> None:
        if not self.data_root or not self.layout_id:
            self.notify("Give an empty folder and a layout first.", severity="warning")
            return
        missing = wizard_backend.missing_folders(self.data_root)
        if not missing:
            self._start_synth()
            return
        if len(missing) == 1:
            self._start_synth()  # the set's own folder: synth makes it, as `data synth` does
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_synth()

        self.app.push_screen(
            ConfirmDialog(
                f"Create {len(missing)} folders for the synthetic set?",
                self._cli("synth").removeprefix("$ ") + " --parents",  # as the CLI needs it
                yes="Create",
                details="These do not exist yet:\n" + "\n".join(f"  {printable(m)}" for m in missing),
            ),
            answered,
        )

    def _start_synth(self) -> None:
        self.query_one("#data-summary", Static).update(
            f"Writing a synthetic {markup_safe(self.layout_id)} set…\n[dim]{self._cli('synth')}[/dim]"
        )
        self.synth(self.data_root, self.layout_id, self.experiment)

    @work(thread=True, exclusive=True, group="data-validate", name="synthesizer")
    def synth(self, root: str, layout: str, experiment: str | None) -> None:
        """Write a small valid dataset of real mp4s, as long as ``experiment`` needs, then validate it."""
        try:
            wizard_backend.synthesize(root, layout, experiment)
        except UserError as e:
            self.post_message(ValidationDone(error=str(e)))
            return
        self.app.call_from_thread(self._validate)
