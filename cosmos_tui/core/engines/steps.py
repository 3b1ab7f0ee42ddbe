"""The steps an engine declares for a run: what each runs, where, and whether it is already done.

An adapter's :meth:`~cosmos_tui.core.engines.base.EngineAdapter.pipeline` returns them in order;
:mod:`cosmos_tui.core.runs.steps` records and runs them. Most engines have only ``train``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TRAIN = "train"
"""The training step's name (its command is the run's own; its log is ``console.log``)."""


@dataclass(frozen=True)
class StepSpec:
    """One step as the engine's adapter declares it (nothing here is written to disk)."""

    name: str
    """``convert``, ``train``, ``export``, ``diffusers``...: unique in a pipeline."""
    argv: tuple[str, ...] = ()
    """What runs (``()`` for ``train``: the run's recorded command)."""
    cwd: Path | None = None
    """The folder it runs in (``None``: the run's folder)."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables added to the run's environment for this step (never secrets)."""
    done: str | None = None
    """Why the step has nothing to do (its output is complete): it is then skipped; ``None``: it
    runs."""
    output: str | None = None
    """What the step writes (a folder), shown as its resume point."""
    describe: str = ""
    """One line for people: what the step does."""

    @property
    def log_name(self) -> str:
        """The step's log file in the run folder."""
        return "console.log" if self.name == TRAIN else f"{self.name}.log"


def train_only() -> tuple[StepSpec, ...]:
    """The pipeline of an engine that only trains."""
    return (StepSpec(TRAIN, describe="train"),)
