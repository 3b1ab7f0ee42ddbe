"""What post-training a model needs (GPUs x memory per mode and shape, each row with its source),
from ``fit_requirements.toml``, and the verdict of this machine against it.

Used for upstream engines, which cosmos-tui cannot probe cheaply: ``cosmos-tui fit`` and the
preflight ``fit`` row say "needs 8 x 80 GB; this machine has 1 x 24 GB: will not fit" and what
upstream suggests. A model with no row falls back to its catalog ``compute`` figures.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cosmos_tui.core.catalog import load_catalog
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.machine_fit import Gpu
from cosmos_tui.core.presets import Preset

REQUIREMENTS_FILE = Path(__file__).with_name("fit_requirements.toml")
GB_SLACK = 0.93
"""An "80 GB" card shows ~79.6 GiB through NVML: a card counts when it has 93% of the figure."""


class Requirement(BaseModel):
    """One row of the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description='A catalog id, or a prefix ending in "*".')
    mode: Literal["full", "lora"] = Field(description="Full post-training or LoRA.")
    frames: str = Field("", description="Frames the figure is for, as the source states them.")
    resolution: str = Field("", description="Resolution the figure is for.")
    gpus: int = Field(ge=0, description="GPUs needed.")
    gpu_memory_gb: float = Field(ge=0, description="Memory per GPU in GB (0: the source names none).")
    source: str = Field(min_length=1, description="URL or repo path of the figure.")
    suggest: str = Field("", description="What upstream advises when it does not fit.")
    h200: str = Field("not measured", description="Our H200 measurement, or 'not measured'.")
    h200_command: str = Field("", description="The command that measures it on an H200.")

    def matches(self, model_id: str) -> bool:
        """Whether this row is about ``model_id``."""
        if self.model.endswith("*"):
            return model_id.startswith(self.model[:-1])
        return model_id == self.model

    @property
    def need(self) -> str:
        """``8 x 80 GB`` (or ``8 GPUs`` when the source names no memory)."""
        if self.gpu_memory_gb:
            return f"{self.gpus} x {self.gpu_memory_gb:g} GB"
        return f"{self.gpus} GPU(s) (memory per GPU not published)"


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rows: tuple[Requirement, ...]


@functools.lru_cache(maxsize=4)
def load_requirements(path: Path = REQUIREMENTS_FILE) -> tuple[Requirement, ...]:
    """Every row of the table."""
    try:
        return _File.model_validate(tomllib.loads(path.read_text())).rows
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as e:
        raise UserError(f"{path} is damaged ({str(e).splitlines()[0]}); reinstall cosmos-tui") from None


def preset_mode(preset: Preset) -> Literal["full", "lora"]:
    """``lora`` when the experiment or an override names LoRA, else ``full``."""
    words = [preset.experiment.name, *preset.experiment.overrides]
    return "lora" if any("lora" in w.lower() for w in words) else "full"


def requirement_for(preset: Preset) -> Requirement | None:
    """The row for the preset's model and mode (an exact id before a prefix), or from the catalog."""
    mode = preset_mode(preset)
    rows = [r for r in load_requirements() if r.mode == mode and r.matches(preset.model.id)]
    rows.sort(key=lambda r: r.model.endswith("*"))
    if rows:
        return rows[0]
    try:
        spec = load_catalog().get(preset.model.id)
    except UserError:
        return None
    need = spec.compute
    return Requirement(
        model=spec.id,
        mode=mode,
        gpus=need.min_gpus,
        gpu_memory_gb=need.gpu_memory_gb,
        source=f"cosmos_tui/core/catalog.toml compute of {spec.id}"
        + (f" ({need.notes})" if need.notes else ""),
    )


@dataclass(frozen=True)
class RequirementVerdict:
    """This machine against a requirement row."""

    fits: bool
    message: str
    """One sentence: what it needs, what this machine has, the verdict and upstream's advice."""
    requirement: Requirement


def _have(gpus: tuple[Gpu, ...]) -> str:
    if not gpus:
        return "no NVIDIA GPU"
    sizes = sorted({round(g.memory_gb) for g in gpus})
    per = "/".join(f"{s} GB" for s in sizes)
    return f"{len(gpus)} x {per}"


def judge(req: Requirement, gpus: tuple[Gpu, ...], nodes: int = 1, model_id: str = "") -> RequirementVerdict:
    """Whether ``gpus`` (on each of ``nodes`` nodes) meet ``req`` (for the model ``model_id``)."""
    total = len(gpus) * max(1, nodes)
    enough = [g for g in gpus if not req.gpu_memory_gb or g.memory_gb + 0.5 >= req.gpu_memory_gb * GB_SLACK]
    fits = total >= req.gpus and len(enough) == len(gpus) and (bool(gpus) or req.gpus == 0)
    where = f"this machine has {_have(gpus)}" + (f" ({nodes} nodes)" if nodes > 1 else "")
    verdict = "fits" if fits else "will not fit"
    shape = ", ".join(x for x in (f"{req.frames} frames" if req.frames else "", req.resolution) if x)
    advice = f"; upstream suggests: {req.suggest}" if req.suggest and not fits else ""
    message = (
        f"{model_id or req.model} {req.mode} post-training{f' at {shape}' if shape else ''} "
        f"needs {req.need}; "
        f"{where}: {verdict}{advice} (source: {req.source})"
    )
    return RequirementVerdict(fits, message, req)
