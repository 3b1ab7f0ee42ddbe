"""Typed messages that thread workers post to the screens (``post_message`` is thread-safe).

Each carries an immutable snapshot; handlers only hand it to widgets. Snapshot messages may
replace an older one still in the queue (``can_replace``), so a slow frame never builds a backlog.
They are dataclasses, as Textual allows (``Message.__post_init__``); ``eq=False`` keeps a message
equal only to itself.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

from textual.message import Message

from cosmos_tui.core.monitor.gpus import GpuSnapshot
from cosmos_tui.core.monitor.logjump import LogContext
from cosmos_tui.core.monitor.logline import LogLine
from cosmos_tui.core.sampling.gallery import JobSamples
from cosmos_tui.tui.backend import ExportTarget, LogHit, LogSearch, PruneProposal
from cosmos_tui.tui.state import QueueItem, RunRow, RunView


class _Snapshot(Message):
    """A message whose newer instance replaces an older one of its class still in the queue."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, type(self))


@dataclass(eq=False)
class RunsUpdated(_Snapshot):
    """The list of runs was read."""

    rows: tuple[RunRow, ...]


@dataclass(eq=False)
class QueueUpdated(_Snapshot):
    """The queue was read."""

    items: tuple[QueueItem, ...]
    paused: bool


@dataclass(eq=False)
class RunViewUpdated(_Snapshot):
    """A new snapshot of the run on the dashboard."""

    view: RunView


@dataclass(eq=False)
class GpusUpdated(_Snapshot):
    """A new reading of every GPU (or why there is none)."""

    snapshot: GpuSnapshot


@dataclass(eq=False)
class LogLinesArrived(Message):
    """Lines appended to the console log since the last batch."""

    lines: tuple[LogLine, ...]
    skipped: int = 0
    """Lines passed over because they arrived faster than the view takes them."""
    end_offset: int | None = None
    """Byte offset in the file just after the last of ``lines``."""


@dataclass(eq=False)
class LogSearched(Message):
    """A whole-log search finished (or why it could not run)."""

    search: LogSearch | None = None
    error: str = ""


@dataclass(eq=False)
class LogContextLoaded(Message):
    """Lines read from the file around a match that is not in the view's buffer."""

    context: LogContext | None = None
    error: str = ""


@dataclass(eq=False)
class FirstErrorFound(Message):
    """Where the log's first error is (``hit`` ``None``: it has none)."""

    hit: LogHit | None = None
    error: str = ""


@dataclass(eq=False)
class LossSeriesLoaded(Message):
    """Loss curves of the runs selected for comparison."""

    series: dict[str, tuple[tuple[int, float], ...]]


@dataclass(eq=False)
class ActionFinished(Message):
    """A run action (stop, resume, ...) finished in a worker."""

    action: str
    message: str
    _: KW_ONLY
    ok: bool = True
    run_id: str | None = None


@dataclass(eq=False)
class ExportChecked(Message):
    """What the dashboard's export would read and replace (or why it cannot export)."""

    target: ExportTarget | None = None
    error: str = ""


@dataclass(eq=False)
class PrunePlanned(Message):
    """A prune plan to confirm (or why there is none); nothing has been deleted yet."""

    proposal: PruneProposal | None = None
    error: str = ""


@dataclass(eq=False)
class RemovalPlanned(Message):
    """What deleting a run would delete and keep (or why it cannot be deleted); nothing is deleted yet."""

    run_id: str
    outputs: bool
    """Whether the plan takes the run's outputs (its checkpoints) too."""
    plan: object | None = None
    """Core's :class:`~cosmos_tui.core.runs.lifecycle.Removal`."""
    error: str = ""


@dataclass(eq=False)
class RerunAsked(Message):
    """What a rerun of a run would start from: how many checkpoints its job holds (0: nothing to
    choose), or why it cannot be rerun."""

    run_id: str
    checkpoints: int = 0
    error: str = ""


@dataclass(eq=False)
class JobViewUpdated(Message):
    """A new snapshot of the job screen's job (or why it could not be read)."""

    view: object | None
    error: str | None = None


@dataclass(eq=False)
class SamplesUpdated(_Snapshot):
    """A new reading of the samples screen's job (or why it could not be read)."""

    samples: JobSamples | None
    error: str | None = None


@dataclass(eq=False)
class SamplesStarted(Message):
    """A samples job was started from the samples screen (or why it was not)."""

    message: str
    ok: bool
