"""The run record: everything known about one launch, as written to ``run.json``.

A record is immutable; changes go through :func:`cosmos_tui.core.runs.registry.update`, which
reads, modifies and rewrites ``run.json`` under the run's lock.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.engines.registry import DEFAULT_KIND
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import SECRET_NAME, Preset, preset_from_dict
from cosmos_tui.core.runs.steps import StepRecord

Status = Literal[
    "created", "starting", "running", "stopping", "finished", "failed", "stopped", "lost", "unreadable"
]
ACTIVE: frozenset[str] = frozenset({"created", "starting", "running", "stopping"})
"""States in which processes may be alive."""
TERMINAL: frozenset[str] = frozenset({"finished", "failed", "stopped", "lost", "unreadable"})
"""States that never change again (``unreadable``: the ``run.json`` is damaged; only ``runs rm``
applies to it)."""

RECORD_FILE = "run.json"
CONSOLE_LOG = "console.log"
SUPERVISOR_LOG = "supervisor.log"
SCHEMA = 1


@dataclass(frozen=True)
class ProcRef:
    """A process identified the way psutil does: pid plus start time, so a reused pid never matches."""

    pid: int
    """Process id."""
    create_time: float | None
    """Start time (seconds since the epoch, as psutil reports it); ``None`` when unknown."""
    role: str = "process"
    """``supervisor``, ``agent`` (the torchrun agent), ``rank`` or ``worker``."""


@dataclass(frozen=True)
class RunRecord:
    """One launch of one preset. Written to ``<state_root>/runs/<id>/run.json``."""

    id: str
    """Sortable, readable id: ``YYYYMMDD-HHMMSS-<experiment>-<4 hex>``."""
    run_dir: Path
    """The run's folder in the state root (not stored in the file; where it was read from)."""
    preset: dict[str, Any]
    """Snapshot of the preset as launched (``Preset.to_dict()``, ``--set`` applied), kept as plain
    data on disk (a record outlives the version that wrote it); read it typed through
    :meth:`launched_preset` or :attr:`launched`."""
    preset_path: str | None = None
    """The preset file it came from, if any."""
    sets: tuple[str, ...] = ()
    """The ``--set`` items given on the command line, in order."""
    argv: tuple[str, ...] = ()
    """The documented command (``torchrun ...``)."""
    exec_argv: tuple[str, ...] = ()
    """What is actually executed (``python -m torch.distributed.run ...``)."""
    shell: str = ""
    """The command as a shell snippet (``cd``, ``export``s, torchrun)."""
    cwd: str = ""
    """The folder the command runs in."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables added to the caller's environment, secrets redacted."""
    status: Status = "created"
    """Lifecycle state."""
    reason: str | None = None
    """Why it ended the way it did, in one or two sentences (with log lines for ``lost``)."""
    exit_code: int | None = None
    """torchrun's exit code; negative: killed by that signal."""
    created_at: float = 0.0
    """When the record was made (seconds since the epoch)."""
    started_at: float | None = None
    """When torchrun started."""
    ended_at: float | None = None
    """When the run ended (or was found gone)."""
    supervisor: ProcRef | None = None
    """The supervisor process."""
    agent: ProcRef | None = None
    """The torchrun agent process."""
    procs: tuple[ProcRef, ...] = ()
    """Descendants of the agent seen while running (ranks, data workers): the tree ``stop`` may kill."""
    stop_requested: bool = False
    """Someone asked the run to stop (so a non-zero exit still counts as ``stopped``)."""
    job_dir: str | None = None
    """The engine's job output folder (config, checkpoints, metrics)."""
    world_size: int = 1
    """nnodes x nproc_per_node at launch."""
    engine_kind: str = DEFAULT_KIND
    """The preset's engine kind."""
    experiment: str = ""
    """The experiment name."""
    versions: dict[str, str | None] = field(default_factory=dict)
    """cosmos-tui, python, torch and engine versions."""
    parent: str | None = None
    """The run this one resumes or reruns."""
    origin: Literal["run", "resume", "rerun"] = "run"
    """How this run was created."""
    notes: tuple[str, ...] = ()
    """Things said at launch (preflight warnings, resume details)."""
    target: Literal["local", "slurm"] = "local"
    """Where it runs: ``local`` (a supervisor on this machine owns torchrun) or ``slurm``
    (submitted with sbatch; state from scontrol/sacct, output in console.log)."""
    job_id: str | None = None
    """The job this run is part of, shared by every node's record of a multi-node job: the
    rendezvous id (``run --nnodes``) or the Slurm job id."""
    node_rank: int | None = None
    """This node's rank in a multi-node job started node by node (``None``: the whole job)."""
    nnodes: int = 1
    """Nodes in the whole job."""
    slurm_job_id: str | None = None
    """The Slurm job id (target ``slurm``)."""
    slurm_state: str | None = None
    """Slurm's last reported state (``PENDING``, ``RUNNING``, ``COMPLETED``, ...)."""
    slurm_script: str | None = None
    """The submitted sbatch script (in the run folder)."""
    start_iteration: int | None = None
    """The iteration the job was at when this run started (the resumed checkpoint's; 0 fresh;
    ``None`` in records older than the jobs model)."""
    resumed_from: dict[str, Any] | None = None
    """Lineage: ``{"run": id or None, "iteration": K, "checkpoint": "iter_..."}`` when the run
    continued a job from a checkpoint (``run`` is the run that wrote it, when known)."""
    metrics_offset: int | None = None
    """Size of the job's ``metrics.jsonl`` when this run started: its lines begin here."""
    metrics_end: int | None = None
    """Size of ``metrics.jsonl`` when this run ended (``None`` while it runs)."""
    checkpoints_before: tuple[str, ...] = ()
    """Checkpoint entries of the job folder when this run started (not written by this run)."""
    checkpoints: tuple[str, ...] | None = None
    """Checkpoints this run wrote (step folder or file names), recorded when it ended."""
    last_iteration: int | None = None
    """The last iteration this run reached (from its own metrics or log), recorded when it ended."""
    health: dict[str, Any] | None = None
    """The supervisor's watchdog verdict: ``state`` (running, saving, stalled, finished,
    crashed...), ``flags`` (NaN loss, unstable loss, low disk, host memory), ``iteration``."""
    steps: tuple[StepRecord, ...] = ()
    """The engine's pipeline steps and where each stands (:mod:`~cosmos_tui.core.runs.steps`);
    empty for an engine whose pipeline is training alone."""
    slurm_segments: tuple[str, ...] = ()
    """Earlier Slurm job ids of this run: segments that saved an emergency checkpoint and handed
    the job to a dependent segment (the current one is :attr:`slurm_job_id`)."""
    queue_entry: str | None = None
    """The queue entry that started this run (``cosmos-tui queue``/``sweep``), so a dispatcher
    killed between launch and bookkeeping finds the run it made instead of starting another."""
    schema: int = SCHEMA
    """Record format version."""

    # -- derived ------------------------------------------------------------------------------

    def launched_preset(self) -> Preset:
        """The preset as launched, validated into a :class:`Preset`; :class:`UserError` naming the
        run when the snapshot no longer validates (written by another version, or edited)."""
        return preset_from_dict(self.preset, source=f"run {self.id}'s recorded preset")

    @functools.cached_property
    def launched(self) -> Preset | None:
        """:meth:`launched_preset`, or ``None`` where it does not validate (for readers that show
        what they can: the runs list, the dashboard)."""
        try:
            return self.launched_preset()
        except UserError:
            return None

    @property
    def active(self) -> bool:
        """Processes may still be alive."""
        return self.status in ACTIVE

    @property
    def console_log(self) -> Path:
        """All torchrun output."""
        return self.run_dir / CONSOLE_LOG

    @property
    def supervisor_log(self) -> Path:
        """The supervisor's own messages."""
        return self.run_dir / SUPERVISOR_LOG

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while running)."""

        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at

    # -- (de)serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``run_dir`` included as a string for readers of ``--json``)."""
        data = dataclasses.asdict(self)
        data["run_dir"] = str(self.run_dir)
        return data

    def to_json(self) -> str:
        """The ``run.json`` text."""
        data = self.to_dict()
        data.pop("run_dir")
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: Path) -> RunRecord:
        """Read a record; unknown keys (from a newer version) are ignored, and every known field is
        type-checked (``ValueError`` names the first bad field), so a damaged file is never half
        read into something that breaks a reader later."""
        import pydantic  # deferred: pydantic, only when a record is validated

        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names and k != "run_dir"}
        try:
            return _adapter().validate_python({**values, "run_dir": Path(run_dir)})
        except pydantic.ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"field {where!r}: {first['msg']}") from None

    def replace(self, **changes: Any) -> RunRecord:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


@functools.cache
def _adapter() -> Any:
    import pydantic  # deferred: pydantic, only when a record is validated

    return pydantic.TypeAdapter(RunRecord)


def unreadable(run_dir: Path, why: str) -> RunRecord:
    """A stand-in for a run whose ``run.json`` cannot be read: listed with the reason, never
    reconciled, removable with ``runs rm``."""
    return RunRecord(id=Path(run_dir).name, run_dir=Path(run_dir), preset={}, status="unreadable", reason=why)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the values of secret-looking names replaced by ``***``."""

    return {k: ("***" if SECRET_NAME.search(k) else v) for k, v in env.items()}


_SLUG = re.compile(r"[^a-z0-9]+")


def new_run_id(experiment: str, now: float) -> str:
    """``20261122-143005-s2mv-text2world-tiny-3f2a``: sorts by time, reads by experiment."""

    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    slug = _SLUG.sub("-", experiment.lower()).strip("-")[:40] or "run"
    return f"{stamp}-{slug}-{os.urandom(2).hex()}"
