"""Wizard step 4: the preset to start from (shipped, or saved earlier), experiment, overrides,
nproc/nnodes, iterations, save interval, learning rate and job name (typed, each checked as it is
typed), W&B mode, output root, HF_HOME; the exact command previewed live
(``core.launch.render``); save as a named preset.

The form is the starting preset plus ``--set`` items, the same mechanism as
``cosmos-tui run PRESET --set ...``: what the wizard launches is what ``preset render`` prints for
that line, which the step shows."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import commands, wizard_backend
from cosmos_tui.tui.screens.dialogs import ConfirmDialog

if TYPE_CHECKING:
    from cosmos_tui.core.presets import Preset

WANDB_MODES = ("offline", "online", "disabled")
MODEL_DEFAULTS = "-"
"""The "Start from" choice that is no preset: the catalog entry's own defaults."""


def _text_row(label: str, input_id: str, placeholder: str, classes: str = "") -> ComposeResult:
    """A labelled row holding one compact text field."""
    with Horizontal(classes="row"):
        yield Label(label)
        yield Input(placeholder=placeholder, id=input_id, compact=True, classes=classes)


class SetupStep(Vertical):
    """A form over a starting preset; every change re-renders the command or says what is wrong."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.model = None
        self.points: dict[str, wizard_backend.StartingPoint] = {}
        self.start: Preset | None = None
        self.context: dict[str, str | None] = {}
        """What the earlier steps chose: data root and layout, engine checkout."""
        self.elsewhere = False
        self.sets: list[str] = []
        self.experiments: list[str] = []
        """The ``--set`` items the form adds to the starting preset."""
        self.preset: Preset | None = None
        self.error: str | None = "not set up yet"
        self.warnings: list[str] = []
        """What the form allows but the person should know (checkpoints, ranks vs this machine)."""
        self.gpus: int | None = None

    def compose(self) -> ComposeResult:
        yield Label("4 · Setup", classes="step-title")
        with Horizontal(classes="row"):
            yield Label("Start from")
            yield Select(
                [("the model's defaults (no preset)", MODEL_DEFAULTS)],
                id="setup-start",
                allow_blank=False,
                compact=True,
            )
        with Horizontal(classes="row"):
            yield Label("Experiment")
            yield Select(
                [("s2mv_text2world_tiny", "s2mv_text2world_tiny")],
                id="setup-experiment",
                allow_blank=False,
                compact=True,
            )
        yield from _text_row(
            "Overrides",
            "setup-overrides",
            "trainer.max_iter=100 optimizer.lr=1e-4 (key=value; quote a value with spaces)",
            classes="first-field",
        )
        with Horizontal(classes="row"):
            yield Label("Processes/node")
            yield Input("1", id="setup-nproc", type="integer", compact=True)
            yield Label("Nodes", classes="second")
            yield Input("1", id="setup-nnodes", type="integer", compact=True)
        with Horizontal(classes="row"):
            yield Label("Iterations")
            yield Input(placeholder="engine default", id="setup-iters", type="integer", compact=True)
            yield Label("Save every", classes="second")
            yield Input(placeholder="engine default", id="setup-save-iter", type="integer", compact=True)
        with Horizontal(classes="row"):
            yield Label("Learning rate")
            yield Input(placeholder="engine default, e.g. 1e-4", id="setup-lr", type="number", compact=True)
            yield Label("Job name", classes="second")
            yield Input(placeholder="the experiment's", id="setup-job", compact=True)
        with Horizontal(classes="row"):
            yield Label("W&B mode")
            yield Select(
                [(m, m) for m in WANDB_MODES],
                id="setup-wandb",
                prompt="as the preset says",
                compact=True,
            )
        yield from _text_row(
            "Output root", "setup-output", "IMAGINAIRE_OUTPUT_ROOT (default from the environment)"
        )
        yield from _text_row("HF_HOME", "setup-hfhome", "Hugging Face cache (default from the environment)")
        yield Static("", id="setup-error", classes="field-error")
        yield Static("", id="setup-warning", classes="field-warning")
        yield Static("", id="command-preview", markup=False)
        with Horizontal(classes="row"):
            yield Label("Save as")
            yield Input(placeholder="preset name, e.g. my-tiny-run", id="setup-name", compact=True)
            yield Button("Save preset", id="setup-save", compact=True)

    def enter(
        self,
        model,
        data_root: str,
        layout: str | None,
        *,
        checkout: str | None = None,
        elsewhere: bool = False,
        gpus: int | None = None,
    ) -> None:
        """Show the form for ``model`` with what the earlier steps chose (``gpus``: those this
        machine has, as the model step read them); a new model starts again from its first
        shipped preset."""
        self.context = {"data.root": data_root or None, "data.layout": layout, "engine.repo": checkout}
        self.elsewhere = elsewhere
        self.gpus = gpus
        if model is not None and (self.model is None or model.id != self.model.id):
            self.model = model
            self.points = {p.name: p for p in wizard_backend.starting_points(model.id)}
            options = [(f"{p.name} ({p.origin})", p.name) for p in self.points.values()]
            options.append(("the model's defaults (no preset)", MODEL_DEFAULTS))
            start = self.query_one("#setup-start", Select)
            with self.prevent(Select.Changed):
                start.set_options(options)
                start.value = options[0][1]
            self._start_from(options[0][1])
        self.recompute()

    @on(Select.Changed, "#setup-start")
    def _start_changed(self, event: Select.Changed) -> None:
        if self.model is not None and isinstance(event.value, str):
            self._start_from(event.value)
            self.recompute()

    def _start_from(self, name: str) -> None:
        """Fill the form from the starting preset ``name`` (or the model's defaults)."""
        model = self.model
        point = self.points.get(name)
        data = dict(point.data) if point else {"model": {"id": model.id}, "engine": {"kind": model.engine}}
        try:
            self.start = wizard_backend.build_preset(data, [])
        except UserError as e:  # a saved preset that no longer validates: say so, keep the form
            self.start, self.error = None, str(e)
            return
        start = self.start
        experiments = list(model.experiments) or [start.experiment.name]
        if start.experiment.name not in experiments:
            experiments.insert(0, start.experiment.name)
        self.experiments = experiments
        with self.prevent(Input.Changed, Select.Changed):
            exp = self.query_one("#setup-experiment", Select)
            exp.set_options([(e, e) for e in experiments])
            exp.value = start.experiment.name if point else experiments[0]
            nproc = start.launch.nproc_per_node
            if point is None and wizard_backend.trains_on_cpu(model) and nproc == 1:
                nproc = 2  # the CPU path shards over 2 gloo ranks, as the tests do
            self.query_one("#setup-nproc", Input).value = str(nproc)
            self.query_one("#setup-nnodes", Input).value = str(start.launch.nnodes)
            wandb = self.query_one("#setup-wandb", Select)
            if start.wandb.mode in WANDB_MODES:
                wandb.value = start.wandb.mode
            else:
                wandb.clear()
            self.query_one("#setup-output", Input).value = start.env.output_root or ""
            self.query_one("#setup-hfhome", Input).value = start.env.HF_HOME or ""
            cpu_defaults = point is None and wizard_backend.trains_on_cpu(model)
            for wid, (key, _) in wizard_backend.TYPED_FIELDS.items():
                given = wizard_backend.preset_value(start, key)
                if given is None and cpu_defaults:
                    given = wizard_backend.CPU_DEFAULTS.get(key)
                self.query_one(f"#{wid}", Input).value = given or ""
            overrides = "trainer.logging_iter=1" if cpu_defaults else ""
            self.query_one("#setup-overrides", Input).value = overrides

    @property
    def start_name(self) -> str | None:
        """The starting preset's name (``None``: the model's defaults)."""
        value = self.query_one("#setup-start", Select).value
        return value if isinstance(value, str) and value != MODEL_DEFAULTS else None

    @on(Input.Changed)
    @on(Select.Changed)
    def recompute(self) -> None:
        """Validate the form into a preset and render its command."""
        error_box = self.query_one("#setup-error", Static)
        preview = self.query_one("#command-preview", Static)
        try:
            self.preset = self._build()
            if self.elsewhere:
                command = wizard_backend.render_elsewhere(self.preset)
            else:
                command = wizard_backend.render_command(self.preset)
            preview.update(f"$ {self.cli_line()}\n\n$ " + command.replace("\n", "\n  "))
            self.error = None
            error_box.update("")
            self.warnings = [] if self.elsewhere else wizard_backend.setup_warnings(self.preset, self.gpus)
        except UserError as e:
            self.preset, self.error = None, str(e)
            error_box.update(f"✗ {markup_safe(e)}")
            preview.update("(no command until the form is valid)")
            self.warnings = []
        self.query_one("#setup-warning", Static).update(
            "\n".join(f"⚠ {markup_safe(w)}" for w in self.warnings)
        )

    def cli_line(self) -> str:
        """The ``cosmos-tui run`` line that launches what the form describes."""
        if self.start_name is None:
            return commands.run_preset("SAVED-PRESET")
        return commands.run_with_sets(self.start_name, self.sets)

    def _build(self) -> Preset:
        def value(wid: str) -> str:
            return self.query_one(wid, Input).value.strip()

        if self.start is None:
            raise UserError(self.error or "no preset to start from")
        start = self.start
        sets: list[str] = []

        def put(key: str, new: object, old: object) -> None:
            if new is not None and new != old:
                sets.append(f"{key}={new}")

        put("engine.repo", self.context.get("engine.repo"), start.engine.repo)
        put("data.root", self.context.get("data.root"), start.data.root)
        put("data.layout", self.context.get("data.layout"), start.data.layout)
        put("experiment.name", str(self.query_one("#setup-experiment", Select).value), start.experiment.name)
        for key, wid, old in (
            ("launch.nproc_per_node", "#setup-nproc", start.launch.nproc_per_node),
            ("launch.nnodes", "#setup-nnodes", start.launch.nnodes),
        ):
            if not value(wid).isdigit() or int(value(wid)) < 1:
                raise UserError(f"{key.split('.')[1]} must be a whole number of at least 1")
            put(key, int(value(wid)), old)
        for key, wid, old in (
            ("env.output_root", "#setup-output", start.env.output_root),
            ("env.HF_HOME", "#setup-hfhome", start.env.HF_HOME),
        ):
            text = value(wid)
            relative_ok = key == "env.output_root" and wizard_backend.needs_checkout(self.model)
            if text and not text.startswith(("/", "~")) and not relative_ok:
                raise UserError(
                    f"{key.split('.')[1]} {text!r} is a relative path; give an absolute one "
                    "(a relative one would depend on the folder the run starts in)"
                )
            put(key, text or None, old)
        for wid, (key, label) in wizard_backend.TYPED_FIELDS.items():
            text = value(f"#{wid}")
            problem = wizard_backend.field_problem(key, label, text)
            if problem:
                raise UserError(problem)
            put(key, text or None, wizard_backend.preset_value(start, key))
        wandb = self.query_one("#setup-wandb", Select)
        put("wandb.mode", None if wandb.is_blank() else str(wandb.value), start.wandb.mode)
        try:
            words = shlex.split(value("#setup-overrides"))
        except ValueError as e:
            raise UserError(f"overrides: {e} (close the quote)") from None
        sets += words
        self.sets = sets
        return wizard_backend.with_sets(start, sets)

    @on(Button.Pressed, "#setup-save")
    def save(self) -> None:
        """Save the form as a named preset (``cosmos-tui run NAME`` runs it)."""
        name = self.query_one("#setup-name", Input).value.strip()
        if not name:
            self.notify("Give the preset a name.", severity="warning")
            return
        if self.preset is None:
            self.notify(markup_safe(self.error or "The form is not valid yet."), severity="error")
            return
        self._save(name, overwrite=False)

    def _save(self, name: str, *, overwrite: bool) -> None:
        try:
            path = wizard_backend.save_preset(self.preset, name, overwrite=overwrite)
        except UserError as e:
            if "already exists" in str(e) and not overwrite:

                def answered(yes: bool | None) -> None:
                    if yes:
                        self._save(name, overwrite=True)

                self.app.push_screen(
                    ConfirmDialog(f"Replace the saved preset {name}?", yes="Replace"), answered
                )
                return
            self.notify(markup_safe(e), severity="error")
            return
        self.notify(markup_safe(f"Saved {path}. Run it with: {commands.run_preset(name)}"))

    TEXT_FIELDS = (
        "setup-overrides",
        "setup-nproc",
        "setup-nnodes",
        "setup-iters",
        "setup-save-iter",
        "setup-lr",
        "setup-job",
        "setup-output",
        "setup-hfhome",
        "setup-name",
    )

    def draft(self) -> dict:
        """The form's fields, for the wizard's draft (``{}`` before the step was shown)."""
        if self.model is None:
            return {}
        wandb = self.query_one("#setup-wandb", Select)
        return {
            "model": self.model.id,
            "start": self.query_one("#setup-start", Select).value,
            "experiment": self.query_one("#setup-experiment", Select).value,
            "wandb": None if wandb.is_blank() else wandb.value,
            **{wid: self.query_one(f"#{wid}", Input).value for wid in self.TEXT_FIELDS},
        }

    def restore(self, draft: dict) -> None:
        """Put back a draft's fields when it is for the model and starting preset now shown."""
        if not draft or self.model is None or draft.get("model") != self.model.id:
            return
        start = self.query_one("#setup-start", Select)
        known = draft.get("start") in self.points or draft.get("start") == MODEL_DEFAULTS
        if known and draft["start"] != start.value:
            with self.prevent(Select.Changed):
                start.value = draft["start"]
            self._start_from(draft["start"])
        with self.prevent(Input.Changed, Select.Changed):
            exp = self.query_one("#setup-experiment", Select)
            if draft.get("experiment") in self.experiments:
                exp.value = draft["experiment"]
            if draft.get("wandb") in WANDB_MODES:
                self.query_one("#setup-wandb", Select).value = draft["wandb"]
            for wid in self.TEXT_FIELDS:
                if isinstance(draft.get(wid), str):
                    self.query_one(f"#{wid}", Input).value = draft[wid]
        self.recompute()
