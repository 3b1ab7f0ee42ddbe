"""Immutable snapshots the widgets render.

Pollers (thread workers) build these from ``core`` and post them in messages; widgets never read
files or call core themselves. Every field is plain data, so a snapshot can be built in a test
from fixed values and rendered the same way every time. GPUs are shown straight from core's
:class:`~cosmos_tui.core.monitor.gpus.GpuSnapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cosmos_tui.core.runs.record import ACTIVE


@dataclass(frozen=True)
class CheckpointRow:
    """One checkpoint as the dashboard lists it."""

    iteration: int
    """Training iteration it holds."""
    mtime: float
    """Modification time (epoch seconds)."""
    size_bytes: int
    """Bytes on disk."""
    complete: bool
    """Every part written (DCP ``.metadata`` everywhere, or the whole ``.pt`` set)."""
    is_latest: bool
    """The latest-checkpoint pointer names it."""
    pinned: bool = False
    """Protected from pruning."""
    has_ema: bool = False
    """Holds EMA weights."""


@dataclass(frozen=True)
class QueueItem:
    """One queue entry as the Queue screen lists it."""

    id: str
    """Entry id (``cosmos-tui queue cancel ID``)."""
    state: str
    """``queued``, ``starting``, ``started``, ``cancelled`` or ``failed``."""
    position: int | None
    """1 for the next to start; ``None`` once not waiting."""
    priority: int
    """Higher starts first."""
    needs: str
    """GPUs or slots it asks for."""
    what: str
    """The preset, with the sweep point when it has one."""
    detail: str
    """What it waits for, the run it became, or why it failed."""
    sweep: str | None = None
    """Its sweep, if any."""
    job: str = ""
    """Its job name (the ``job.name`` it sets), when it sets one."""
    created: float = 0.0
    """When it was queued."""


@dataclass(frozen=True)
class RunRow:
    """One run as the runs screen lists it."""

    id: str
    """Run id (``cosmos-tui runs show ID``)."""
    status: str
    """``created|starting|running|stopping|finished|failed|stopped|lost``."""
    experiment: str = ""
    """Experiment name."""
    model: str = ""
    """Catalog id of the model."""
    job: str = ""
    """The job's name: the last part of its output folder (``PROJECT/GROUP/NAME``), so runs of
    different jobs of one experiment are told apart (empty while the folder is not known)."""
    iteration: int | None = None
    """Last iteration seen."""
    max_iter: int | None = None
    """``trainer.max_iter`` when known."""
    loss: float | None = None
    """Last loss seen."""
    started: float | None = None
    """Start time (epoch seconds)."""
    exit_code: int | None = None
    """Exit code once ended."""
    reason: str | None = None
    """Why it ended the way it did (``lost``, OOM kill, ...)."""
    stalled: bool = False
    """No progress for much longer than the recent step time."""
    crashed: bool = False
    """Ended failed or lost, or NaN/Inf loss seen."""
    badges: tuple[str, ...] = ()
    """The watchdog's short flags: ``STALL``, ``NaN``, ``UNSTABLE``, ``OOM-KILL``, ``LOW-DISK``,
    ``HOST-MEM``, ``CRASH``."""

    @property
    def active(self) -> bool:
        """Whether the run may still change."""
        return self.status in ACTIVE


@dataclass(frozen=True)
class RunView:
    """Everything the dashboard shows about one run at one moment (except log lines)."""

    row: RunRow
    """Status and progress."""
    losses: tuple[tuple[int, float], ...] = ()
    """``(iteration, loss)`` points, already downsampled for the chart."""
    sec_per_iter: float | None = None
    """Recent seconds per iteration."""
    samples_per_s: float | None = None
    """Recent training samples per second (builtin engine)."""
    eta_s: float | None = None
    """Seconds to ``max_iter`` at the recent speed."""
    checkpoints: tuple[CheckpointRow, ...] = ()
    """Checkpoints of the job, by iteration."""
    job_dir: str | None = None
    """The engine's job output folder."""
    console_log: str | None = None
    """Path of the run's console log."""
    command: str = ""
    """The launched command as a shell line."""
    preset_text: str = ""
    """The preset snapshot as TOML."""
    flags: tuple[str, ...] = field(default_factory=tuple)
    """Sentences the watchdog raised (stall, NaN loss, low disk, OOM kill)."""
    health: str = "starting"
    """The watchdog's state: ``starting|running|saving|stalled|finished|crashed``."""
    disk_verdict: str | None = None
    """The live disk forecast's verdict (``ok|warn|fail|unknown``); ``None`` when not forecast."""
    disk_message: str | None = None
    """The forecast in one sentence (saves remaining x average size against free space)."""
    cpu_percent: float | None = None
    """CPU use of the run's process tree, % of one core (live runs)."""
    rss_bytes: int | None = None
    """Host memory of the run's process tree (live runs)."""
    tokens_per_s: float | None = None
    """Latest tokens per second (Cosmos 3's iter_speed suffix, the builtin engine's metrics)."""
    tokens: tuple[tuple[int, float], ...] = ()
    """``(iteration, tokens/s)`` points, downsampled for the chart (empty: the engine says none)."""
    metrics: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    """``(iteration, value)`` points of each metric besides the loss that the engine reports
    (``lr``, ``grad_norm``, ``samples_per_s``, ``tokens_per_s``, ``peak_mem_gb``, ``mfu``: the
    ``metrics.jsonl`` keys), downsampled for the chart; absent ones are not there."""
    reference: tuple[tuple[int, float], ...] = ()
    """The run's preset's measured loss curve on the run's device and rank count (empty: none)."""
    reference_label: str = ""
    """What :attr:`reference` is, for the chart's legend (``reference cpu x2``)."""
    parallelism: str | None = None
    """How the processes split the work (``DP 4 x CP 2 ...``), when the engine says."""
    samples: str | None = None
    """The sample images the engine drew, in one line (``None``: none)."""
    steps: tuple[tuple[str, str], ...] = ()
    """The pipeline's ``(step, status)`` pairs (empty for an engine that only trains)."""
    cost: str | None = None
    """GPU-hours and cost so far at config.toml's ``[cost]`` price (``None``: no price, CPU run)."""


@dataclass(frozen=True)
class JobRunRow:
    """One run of a job, as the job screen lists it."""

    id: str
    status: str
    start_iteration: int | None
    last_iteration: int | None
    came_from: str
    """``resumed run A at iteration K``, ``fresh`` or ``rerun of A``."""
    checkpoints: tuple[str, ...]


@dataclass(frozen=True)
class JobView:
    """A job folder and its runs: what the job screen shows."""

    path: str
    name: str
    holder: str | None
    """``run R (pid P on H, since T)`` while a run holds the job."""
    runs: tuple[JobRunRow, ...]
    series: dict[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    """Each run's own loss curve, keyed ``N · <iterations>`` in run order (the colours mark the
    run boundaries)."""
