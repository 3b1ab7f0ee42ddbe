"""Where a run is launched: the one interface every launch target implements.

A target prepares a launch (the command, the job folder, the preflight checks that make sense
where it runs), submits a recorded run, keeps an active record true to what is really happening
(``reconcile``) and stops a run. :mod:`~cosmos_tui.core.runs.local` runs torchrun here under a
supervisor (one node, or one node of a multi-node job started by hand on each);
:mod:`~cosmos_tui.core.slurm.jobs` submits an sbatch job. The lifecycle asks the target named by
``launch.target`` (a record keeps it as ``target``) and never branches on it itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from cosmos_tui.core.engines.base import LaunchSpec
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.preflight import Check
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.runs.record import ProcRef, RunRecord
from cosmos_tui.core.runs.resume import ResumePoint

Existing = Literal["ask", "resume", "fresh"]
"""What to do with a job folder that already holds checkpoints: make the person choose (a failed
check naming both ways), continue the job from its latest checkpoint, or start fresh under a new
job name."""


@dataclass(frozen=True)
class Prepared:
    """A launch worked out but not started: the preset with its port, the command, the job
    folder and the preflight verdicts."""

    preset: Preset
    """The effective preset (``--set`` applied)."""
    spec: LaunchSpec
    """The exact command, folder and environment."""
    job_dir: Path | None
    """Where the job writes."""
    job_dir_source: str
    """``dryrun``, ``adapter`` or ``unknown``."""
    checks: tuple[Check, ...]
    """Preflight verdicts (the job's own first: who holds it, what a launch does with it)."""
    notes: tuple[str, ...] = ()
    """Things to tell the person (why the dry run was not used, resume details)."""
    sbatch: str | None = None
    """The sbatch script (``launch.target = "slurm"``), rendered with Slurm's own output pattern."""
    resume_point: ResumePoint | None = None
    """The checkpoint this launch continues the job from (``None``: it starts at iteration 0)."""
    resume_writer: str | None = None
    """The run that wrote :attr:`resume_point`, when one of ours did."""
    fresh_from: Path | None = None
    """With ``existing="fresh"`` on a job that held checkpoints: that job (this one is new)."""
    extra_sets: tuple[str, ...] = ()
    """``--set`` items the preparation added (the fresh job's ``job.name=``): the record's preset
    snapshot and sets carry them, so a resume or rerun finds the same job."""
    existing: Existing = "ask"
    """What was asked for a job folder holding checkpoints."""
    fresh_name: str | None = None
    """The job name ``existing="fresh"`` would use, when the job holds checkpoints."""
    resume_trains_nothing: bool = False
    """The job's latest checkpoint is at or past ``trainer.max_iter``: resuming it would train
    nothing (only a fresh start, or a higher max_iter, does)."""
    config: object = None
    """The engine's composed config from its dry run (``None`` when it did not run)."""

    @property
    def needs_choice(self) -> bool:
        """The job holds checkpoints and nobody said whether to resume or start fresh."""
        return self.existing == "ask" and self.resume_point is not None


@dataclass(frozen=True)
class StopReport:
    """What ``stop`` did."""

    record: RunRecord
    """The run's record afterwards."""
    signalled: tuple[ProcRef, ...]
    """Processes sent SIGTERM."""
    killed: tuple[ProcRef, ...]
    """Processes still alive after the wait and sent SIGKILL (empty: a clean stop)."""
    gpu_note: str
    """GPU memory held by the run before and after, or why it could not be measured."""
    actions: tuple[str, ...] = ()
    """What was asked of a scheduler (Slurm runs: the ``scancel`` calls), in order."""
    forced: bool = False
    """The scheduler had to end the job without waiting for it (Slurm: a plain ``scancel``)."""

    @property
    def graceful(self) -> bool:
        """Everything exited on SIGTERM."""
        return not self.killed and not self.forced


class LaunchTarget(Protocol):
    """Where runs go. ``name`` is the value of ``launch.target`` (and of a record's ``target``)."""

    name: str

    def prepare(self, preset: Preset, *, dryrun: bool, environ: dict[str, str] | None) -> Prepared:
        """The command, job folder and preflight checks for ``preset``; writes nothing. The job's
        own checks (holder, resume or fresh) are added by the lifecycle, the same for every target."""
        ...

    def submit(self, record: RunRecord, prepared: Prepared) -> RunRecord:
        """Start the recorded run; returns at once with the record as it is then. A refused start
        marks the record failed and raises :class:`UserError`."""
        ...

    def reconcile(self, record: RunRecord) -> RunRecord:
        """An active record brought in line with what the run's processes or scheduler say."""
        ...

    def stop(self, record: RunRecord, timeout: float) -> StopReport:
        """Ask the active run to save and stop; force it after ``timeout`` seconds."""
        ...

    def prefetch(self, records: Sequence[RunRecord]) -> None:
        """Ask once about many active records before each is reconciled (cheap listing)."""
        ...


PROVIDERS: dict[str, str] = {
    "local": "cosmos_tui.core.runs.local",
    "slurm": "cosmos_tui.core.slurm.jobs",
}
"""The module that implements each target (it registers itself when imported). Named here rather
than imported so that no target module and the lifecycle import each other."""

_TARGETS: dict[str, LaunchTarget] = {}


def register(target: LaunchTarget) -> LaunchTarget:
    """Make ``target`` the one named ``target.name``."""
    _TARGETS[target.name] = target
    return target


def get(name: str | None) -> LaunchTarget:
    """The target called ``name`` (``None``: an old record from before targets, which ran here)."""
    name = name or "local"
    if name not in _TARGETS and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    found = _TARGETS.get(name)
    if found is None:
        raise UserError(f"unknown launch target {name!r}; use one of: {', '.join(sorted(PROVIDERS))}")
    return found


def of(record: RunRecord) -> LaunchTarget:
    """The target a recorded run went to."""
    return get(record.target)


def reconcile(record: RunRecord) -> RunRecord:
    """An active record brought in line by its target; a finished one as it is."""
    return of(record).reconcile(record) if record.active else record
