"""Wizard step 1: pick a model from the catalog (family, size, GPUs needed vs here, gated, weights)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static

from cosmos_tui.tui import wizard_backend
from cosmos_tui.tui.commands import models_list
from cosmos_tui.tui.wizard_backend import ModelRow

__all__ = ["CatalogLoaded", "ModelRow", "ModelStep", "fits"]


@dataclass(eq=False)
class CatalogLoaded(Message):
    """The catalog and the machine's GPU count were read."""

    rows: tuple[ModelRow, ...]
    specs: dict
    gpus_here: int | None


def fits(row: ModelRow, gpus_here: int | None) -> bool:
    """Whether this machine has the GPUs the model needs."""
    return row.min_gpus == 0 or (gpus_here or 0) >= row.min_gpus


class ModelStep(Vertical):
    """The catalog as a filterable table; enter or Next picks the highlighted model."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="step", **kwargs)
        self.rows: tuple[ModelRow, ...] = ()
        self.specs: dict = {}
        self.gpus_here: int | None = None
        self.wanted: str | None = None
        """A model to put the cursor on once the catalog is read (the wizard's draft)."""

    def compose(self) -> ComposeResult:
        yield Label("1 · Model", classes="step-title")
        yield Input(
            placeholder="filter: family, size, id (e.g. tiny, transfer, predict1)",
            id="model-filter",
            compact=True,
        )
        yield DataTable(id="model-table", cursor_type="row", zebra_stripes=True)
        yield Static("Reading the catalog…", id="model-note", classes="dim")

    def on_mount(self) -> None:
        table = self.query_one("#model-table", DataTable)
        table.add_columns("model", "family", "GPUs need/here", "gated", "weights")
        self.query_one("#model-filter", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, group="catalog", name="catalog loader")
    def load(self) -> None:
        """Read the catalog, count GPUs, and look for weights on disk."""
        catalog = wizard_backend.read_catalog()
        self.post_message(CatalogLoaded(catalog.rows, catalog.specs, catalog.gpus_here))

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        self.rows, self.specs, self.gpus_here = message.rows, message.specs, message.gpus_here
        here = "no NVIDIA GPU here" if not self.gpus_here else f"{self.gpus_here} GPU(s) here"
        self.query_one("#model-note", Static).update(
            f"{len(self.rows)} models · {here} · models that do not fit are dimmed · $ {models_list()}"
        )
        self.render_rows()
        if self.wanted:
            self.select_model(self.wanted)
            self.wanted = None

    @on(Input.Changed, "#model-filter")
    def render_rows(self) -> None:
        """Show the rows matching the filter, those that fit this machine first."""
        table = self.query_one("#model-table", DataTable)
        words = self.query_one("#model-filter", Input).value.lower().split()
        table.clear()
        shown = [
            r for r in self.rows if all(w in f"{r.id} {r.family} {r.name} {r.engine}".lower() for w in words)
        ]
        shown.sort(key=lambda r: (not fits(r, self.gpus_here), r.family, r.min_gpus, r.id))
        here = self.gpus_here or 0
        for r in shown:
            ok = fits(r, self.gpus_here)
            style = "" if ok else "dim"
            need = "CPU ok" if r.min_gpus == 0 else f"{r.min_gpus}x{r.gpu_memory_gb}G / {here}"
            table.add_row(
                Text(r.id, style=style),
                Text(r.family, style=style),
                Text(need, style="green" if ok else "red"),
                Text("gated", style="yellow") if r.gated else Text("open", style="dim"),
                Text(r.weights, style="green" if r.weights == "present" else "dim"),
                key=r.id,
            )

    @property
    def selected(self):
        """The catalog entry under the cursor (a ``ModelSpec``), if any."""
        table = self.query_one("#model-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.specs.get(key)

    def select_model(self, model_id: str) -> bool:
        """Move the cursor to ``model_id``; whether it is listed."""
        table = self.query_one("#model-table", DataTable)
        try:
            table.move_cursor(row=table.get_row_index(model_id))
        except Exception:
            return False
        return True
