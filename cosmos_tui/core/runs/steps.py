"""A run's pipeline: the steps its engine declares around training, each recorded on its own.

An engine adapter declares its steps (:meth:`EngineAdapter.pipeline`); most engines have just
``train``. cosmos-framework's are convert (the base checkpoint to DCP), train, export (DCP to
Hugging Face safetensors) and optionally Diffusers. The supervisor runs them in order: the steps
before ``train`` first, training (the run's own torchrun command, into ``console.log``), then the
steps after it once training finished. Each step has its own log in the run folder
(``<name>.log``; ``train`` keeps ``console.log``), its status, exit code and times, and its
resume point: a step whose output is already complete is ``skipped`` (the adapter says what
"complete" means, from what the engine really writes), so a resumed run converts nothing twice
and continues where the job stands.

The supervisor asks the adapter again just before each step starts, so a command that names a
checkpoint (the export) names the one training actually left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

from cosmos_tui.core.engines.steps import TRAIN, StepSpec

StepStatus = Literal["pending", "running", "done", "skipped", "failed", "stopped", "lost"]
FINAL: frozenset[str] = frozenset({"done", "skipped", "failed", "stopped", "lost"})
"""Step states that never change in that run again."""
COMPLETE: frozenset[str] = frozenset({"done", "skipped"})
"""Step states after which the next step may start."""


@dataclass(frozen=True)
class StepRecord:
    """One step as ``run.json`` keeps it."""

    name: str
    """The step's name."""
    status: StepStatus = "pending"
    """Where the step stands."""
    argv: tuple[str, ...] = ()
    """What it ran (or will run, as declared at launch)."""
    log: str = ""
    """Its log file (a name in the run folder)."""
    output: str | None = None
    """What it writes (its resume point)."""
    exit_code: int | None = None
    """Its process's exit status."""
    started_at: float | None = None
    """When it started."""
    ended_at: float | None = None
    """When it ended (or was skipped)."""
    reason: str | None = None
    """Why it was skipped, failed or stopped, in one sentence."""
    pid: int | None = None
    """The step's process while it runs (the train step's is the run's agent)."""

    @property
    def final(self) -> bool:
        """The step will not change again in this run."""
        return self.status in FINAL


def planned(specs: tuple[StepSpec, ...]) -> tuple[StepRecord, ...]:
    """The records of a pipeline as declared at launch (every step pending)."""
    return tuple(StepRecord(s.name, argv=s.argv, log=s.log_name, output=s.output) for s in specs)


def replace_step(steps: tuple[StepRecord, ...], name: str, **changes: object) -> tuple[StepRecord, ...]:
    """``steps`` with the one called ``name`` changed (unchanged when there is none)."""
    return tuple(replace(s, **changes) if s.name == name else s for s in steps)  # type: ignore[arg-type]


def settle_active(steps: tuple[StepRecord, ...], status: StepStatus, reason: str) -> tuple[StepRecord, ...]:
    """Every step still running marked ``status`` (a run found lost or stopped without its
    supervisor); pending steps stay pending (they never started)."""
    now = time.time()
    return tuple(
        replace(s, status=status, reason=reason, ended_at=now, pid=None) if s.status == "running" else s
        for s in steps
    )


def before_train(specs: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """The steps that run before training."""
    names = [s.name for s in specs]
    cut = names.index(TRAIN) if TRAIN in names else len(specs)
    return specs[:cut]


def after_train(specs: tuple[StepSpec, ...]) -> tuple[StepSpec, ...]:
    """The steps that run once training finished."""
    names = [s.name for s in specs]
    return specs[names.index(TRAIN) + 1 :] if TRAIN in names else ()


def unfinished_after_train(steps: tuple[StepRecord, ...]) -> list[str]:
    """Names of the steps after ``train`` that a run did not complete (a resume still has them to
    do even when training has nothing left)."""
    names = [s.name for s in steps]
    if TRAIN not in names:
        return []
    return [s.name for s in steps[names.index(TRAIN) + 1 :] if s.status not in COMPLETE]


def summary(step: StepRecord) -> str:
    """``export  done (exit 0, 12s) -> RUN/model; log export.log`` for ``runs show``."""
    text = step.status
    bits = []
    if step.exit_code is not None:
        bits.append(f"exit {step.exit_code}")
    if step.started_at and step.ended_at:
        bits.append(f"{step.ended_at - step.started_at:.0f}s")
    if bits:
        text += f" ({', '.join(bits)})"
    if step.reason:
        text += f": {step.reason}"
    if step.output:
        text += f"; output {step.output}"
    return text + f"; log {step.log}"
