"""Wizard step 4: experiment, overrides as a validated form, nproc/nnodes, W&B mode, output root,
HF_HOME; the exact command previewed live (``core.launch.render``); save as a preset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from cosmos_tui.core.display import markup_safe
from cosmos_tui.core.errors import UserError
from cosmos_tui.tui import wizard_backend
from cosmos_tui.tui.commands import run_preset

if TYPE_CHECKING:
    from cosmos_tui.core.presets import Preset

WANDB_MODES = ("offline", "online", "disabled")
FIELDS = ("#setup-overrides", "#setup-nproc", "#setup-nnodes", "#setup-output", "#setup-hfhome")


def _text_row(label: str, input_id: str, placeholder: str) -> ComposeResult:
    """A labelled row holding one compact text field."""
    with Horizontal(classes="row"):
        yield Label(label)
        yield Input(placeholder=placeholder, id=input_id, compact=True)


class SetupStep(Vertical):
    """A form over the preset; every change re-renders the command or says what is wrong."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.base: dict = {}
        self.preset: Preset | None = None
        self.error: str | None = "not set up yet"

    def compose(self) -> ComposeResult:
        yield Label("4 · Setup", classes="step-title")
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
            "trainer.max_iter=100 optimizer.lr=1e-4 (key=value, space separated)",
        )
        with Horizontal(classes="row"):
            yield Label("Processes/node")
            yield Input("1", id="setup-nproc", type="integer", compact=True)
            yield Label("Nodes", classes="second")
            yield Input("1", id="setup-nnodes", type="integer", compact=True)
        with Horizontal(classes="row"):
            yield Label("W&B mode")
            yield Select(
                [(m, m) for m in WANDB_MODES],
                id="setup-wandb",
                allow_blank=False,
                value="offline",
                compact=True,
            )
        yield from _text_row(
            "Output root", "setup-output", "IMAGINAIRE_OUTPUT_ROOT (default from the environment)"
        )
        yield from _text_row("HF_HOME", "setup-hfhome", "Hugging Face cache (default from the environment)")
        yield Static("", id="setup-error", classes="field-error")
        yield Static("", id="command-preview", markup=False)
        with Horizontal(classes="row"):
            yield Label("Save as")
            yield Input(placeholder="preset name, e.g. my-tiny-run", id="setup-name", compact=True)
            yield Button("Save preset", id="setup-save", compact=True)

    def enter(self, model, data_root: str, layout: str | None) -> None:
        """Start from the model's defaults and the dataset picked in step 3."""
        exp = self.query_one("#setup-experiment", Select)
        experiments = list(model.experiments) if model else ["s2mv_text2world_tiny"]
        exp.set_options([(e, e) for e in experiments])
        if exp.value not in experiments:
            exp.value = experiments[0]
        self.base = {
            "model": {"id": model.id} if model else {},
            "engine": {"kind": model.engine} if model else {},
            "data": {k: v for k, v in {"layout": layout, "root": data_root or None}.items() if v},
        }
        if model is not None and wizard_backend.trains_on_cpu(model):
            nproc = self.query_one("#setup-nproc", Input)
            if nproc.value == "1":
                nproc.value = "2"  # the CPU path shards over 2 gloo ranks, as the tests do
            overrides = self.query_one("#setup-overrides", Input)
            if not overrides.value:
                overrides.value = "trainer.max_iter=10 checkpoint.save_iter=5 trainer.logging_iter=1"
        self.recompute()

    @on(Input.Changed)
    @on(Select.Changed)
    def recompute(self) -> None:
        """Validate the form into a preset and render its command."""
        error_box = self.query_one("#setup-error", Static)
        preview = self.query_one("#command-preview", Static)
        try:
            self.preset = self._build()
            command = wizard_backend.render_command(self.preset)
            preview.update("$ " + command.replace("\n", "\n  "))
            self.error = None
            error_box.update("")
        except UserError as e:
            self.preset, self.error = None, str(e)
            error_box.update(f"✗ {markup_safe(e)}")

    def _build(self) -> Preset:
        def value(wid: str) -> str:
            return self.query_one(wid, Input).value.strip()

        data = {k: dict(v) for k, v in self.base.items()}
        data["experiment"] = {"name": str(self.query_one("#setup-experiment", Select).value)}
        launch = {}
        for key, wid in (("nproc_per_node", "#setup-nproc"), ("nnodes", "#setup-nnodes")):
            if not value(wid).isdigit():
                raise UserError(f"{key} must be a whole number of at least 1")
            launch[key] = int(value(wid))
        data["launch"] = launch
        env = {
            k: v
            for k, v in (("output_root", value("#setup-output")), ("HF_HOME", value("#setup-hfhome")))
            if v
        }
        if env:
            data["env"] = env
        data["wandb"] = {"mode": str(self.query_one("#setup-wandb", Select).value)}
        return wizard_backend.build_preset(data, value("#setup-overrides").split())

    @on(Button.Pressed, "#setup-save")
    def save(self) -> None:
        """Save the form as a preset under the state root's ``presets/`` folder."""
        name = self.query_one("#setup-name", Input).value.strip()
        if not name or "/" in name:
            self.notify("Give the preset a name (no slashes).", severity="warning")
            return
        if self.preset is None:
            self.notify(markup_safe(self.error or "The form is not valid yet."), severity="error")
            return
        try:
            path = wizard_backend.save_preset(self.preset, name)
        except UserError as e:
            self.notify(markup_safe(e), severity="error")
            return
        self.notify(markup_safe(f"Saved {path}. Run it with: {run_preset(path)}"))
