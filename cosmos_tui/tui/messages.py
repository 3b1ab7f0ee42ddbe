"""Typed messages that thread workers post to the screens (``post_message`` is thread-safe).

Each carries an immutable snapshot; handlers only hand it to widgets. Snapshot messages may
replace an older one still in the queue (``can_replace``), so a slow frame never builds a backlog.
"""

from __future__ import annotations

from textual.message import Message

from cosmos_tui.core.monitor.gpus import GpuSnapshot
from cosmos_tui.core.monitor.logline import LogLine
from cosmos_tui.tui.backend import ExportTarget, PruneProposal
from cosmos_tui.tui.state import RunRow, RunView


class RunsUpdated(Message):
    """The list of runs was read."""

    def __init__(self, rows: tuple[RunRow, ...]) -> None:
        super().__init__()
        self.rows = rows

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsUpdated)


class RunViewUpdated(Message):
    """A new snapshot of the run on the dashboard."""

    def __init__(self, view: RunView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunViewUpdated)


class GpusUpdated(Message):
    """A new reading of every GPU (or why there is none)."""

    def __init__(self, snapshot: GpuSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpusUpdated)


class LogLinesArrived(Message):
    """Lines appended to the console log since the last batch."""

    def __init__(self, lines: tuple[LogLine, ...], skipped: int = 0) -> None:
        super().__init__()
        self.lines = lines
        self.skipped = skipped
        """Lines passed over because they arrived faster than the view takes them."""


class LossSeriesLoaded(Message):
    """Loss curves of the runs selected for comparison."""

    def __init__(self, series: dict[str, tuple[tuple[int, float], ...]]) -> None:
        super().__init__()
        self.series = series


class ActionFinished(Message):
    """A run action (stop, resume, ...) finished in a worker."""

    def __init__(self, action: str, message: str, *, ok: bool = True, run_id: str | None = None) -> None:
        super().__init__()
        self.action = action
        self.message = message
        self.ok = ok
        self.run_id = run_id


class ExportChecked(Message):
    """What the dashboard's export would read and replace (or why it cannot export)."""

    def __init__(self, target: ExportTarget | None = None, error: str = "") -> None:
        super().__init__()
        self.target = target
        self.error = error


class PrunePlanned(Message):
    """A prune plan to confirm (or why there is none); nothing has been deleted yet."""

    def __init__(self, proposal: PruneProposal | None = None, error: str = "") -> None:
        super().__init__()
        self.proposal = proposal
        self.error = error


class JobViewUpdated(Message):
    """A new snapshot of the job screen's job (or why it could not be read)."""

    def __init__(self, view: object | None, error: str | None = None) -> None:
        super().__init__()
        self.view = view
        self.error = error
