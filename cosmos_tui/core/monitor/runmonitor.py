"""One poller per run: log tail, progress, checkpoints, processes, disk and the watchdog, composed
into one immutable :class:`RunSnapshot` per tick.

It takes paths and pids, not a run record, so the runs registry, the TUI and the CLI can all
drive it. Call :meth:`RunMonitor.poll` from a worker thread (it does file I/O); GPUs are sampled
separately by the shared :class:`~cosmos_tui.core.monitor.gpus.GpuSampler`, which
:meth:`RunMonitor.gpu_claim` feeds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cosmos_tui.core import jobconfig
from cosmos_tui.core.monitor.ckptwatch import CheckpointState, CheckpointWatcher
from cosmos_tui.core.monitor.gpus import GpuClaim
from cosmos_tui.core.monitor.logtail import LogTail
from cosmos_tui.core.monitor.metrics import parse_jsonl_record, scan_bytes, scan_file
from cosmos_tui.core.monitor.notify import Notifier
from cosmos_tui.core.monitor.procs import ProcSampler, ProcTreeSnapshot
from cosmos_tui.core.monitor.progress import ProgressSnapshot, ProgressTracker
from cosmos_tui.core.monitor.watchdog import Health, MonitorEvent, Watchdog
from cosmos_tui.core.reference import References

METRICS_JSONL = "metrics.jsonl"


@dataclass(frozen=True)
class RunSnapshot:
    """Everything about one run at one poll."""

    taken_at: float
    """Wall-clock time."""
    health: Health
    """The watchdog's verdict."""
    progress: ProgressSnapshot
    """Iteration, loss, speed, ETA, loss series."""
    log_tail: tuple[str, ...] = ()
    """The newest console lines (ANSI stripped)."""
    log_lines_total: int = 0
    """Console lines seen since the monitor started."""
    log_offset: int = 0
    """Byte offset of the console log consumed so far (store it to resume tailing later)."""
    unstable: tuple[str, ...] = ()
    """The latest ``Unstable loss`` lines."""
    checkpoints: CheckpointState | None = None
    """Checkpoints of the job (``None`` without a job folder)."""
    procs: ProcTreeSnapshot | None = None
    """The run's process trees (``None`` without pids)."""
    disk_free_bytes: int | None = None
    """Free space where the job writes."""
    events: tuple[MonitorEvent, ...] = field(default=())
    """Events fired at this poll."""
    metrics_source: str | None = None
    """``metrics.jsonl`` or ``console.log``."""


def read_max_iter(job_dir: Path) -> int | None:
    """``trainer.max_iter`` from the job's ``config.yaml`` (written by ``--dryrun`` and at start)."""
    return jobconfig.settings(job_dir).max_iter


class RunMonitor:
    """Polls one run. ``console_log`` is the torchrun output, ``job_dir`` the job output folder
    (``checkpoints/``, ``metrics.jsonl``, ``config.yaml``), ``pids`` the run's root processes;
    ``disk_free`` measures free bytes at a path (``shutil.disk_usage`` unless a test injects one)."""

    def __init__(
        self,
        *,
        console_log: Path | None = None,
        job_dir: Path | None = None,
        pids: Iterable[int] = (),
        max_iter: int | None = None,
        run_id: str | None = None,
        log_start: str | int = "end",
        log_buffer_lines: int = 10_000,
        view_lines: int = 200,
        watchdog: Watchdog | None = None,
        notifier: Notifier | None = None,
        clock=time.monotonic,
        disk_free: Callable[[Path], int] | None = None,
        metrics_start: int = 0,
        metrics_end: int | None = None,
        owns_checkpoint: Callable[[str], bool] | None = None,
        references: References | None = None,
    ) -> None:
        self.console_log = None if console_log is None else Path(console_log)
        self.metrics_start = metrics_start
        """This run's first byte of the job's ``metrics.jsonl`` (earlier lines are other runs')."""
        self.metrics_end = metrics_end
        """Where this run's lines end (``None``: still being written)."""
        self.job_dir = None if job_dir is None else Path(job_dir)
        self.references = references
        """The run's preset's measured loss curve and speed (the watchdog's pace check, the chart's
        overlay), or ``None``."""
        self.run_id = run_id
        self.view_lines = view_lines
        self._clock = clock
        self._started = clock()
        self.tail: LogTail | None = None
        self._backfill_end = 0
        if self.console_log is not None:
            self.tail = LogTail(self.console_log, max_lines=log_buffer_lines, start=log_start)
            self._backfill_end = self.tail.offset
        self._metrics_tail: LogTail | None = None
        self.progress = ProgressTracker(max_iter=max_iter)
        self._source: str | None = None
        self._unstable: list[str] = []
        self._ckpt = (
            None
            if self.job_dir is None
            else CheckpointWatcher(self.job_dir / "checkpoints", clock=clock, keep=owns_checkpoint)
        )
        self._procs = ProcSampler(pids) if pids else None
        self.watchdog = watchdog or Watchdog(run=run_id)
        self.notifier = notifier
        self._last_save_at: float | None = None
        self._first = True
        self._disk_free = disk_free or (lambda where: shutil.disk_usage(where).free)

    def gpu_claim(
        self, devices: Iterable[int] | None = None, procs: ProcTreeSnapshot | None = None
    ) -> GpuClaim:
        """What to hand the GPU sampler for this run: its tree's pids and assigned devices."""
        pids = frozenset(procs.pids if procs else (self._procs.roots if self._procs else ()))
        return GpuClaim(pids=pids, devices=None if devices is None else frozenset(devices))

    def _poll_metrics(self, now: float) -> None:
        jsonl = None if self.job_dir is None else self.job_dir / METRICS_JSONL
        if jsonl is not None and self._metrics_tail is None and jsonl.exists():
            self._metrics_tail = LogTail(jsonl, start=self.metrics_start, max_lines=1)
            if self._source == "console.log":  # switch sources: the richer one wins, from the top
                self.progress = ProgressTracker(max_iter=self.progress.max_iter)
            self._source = METRICS_JSONL
        if self.progress.max_iter is None and self.job_dir is not None:
            self.progress.max_iter = read_max_iter(self.job_dir)
        from_log = self._source != METRICS_JSONL
        if self.tail is not None:
            if self._first and self._backfill_end:
                back = scan_file(self.tail.path, end=self._backfill_end)
                self._unstable.extend(back.unstable)
                if from_log:
                    self.progress.add(back.samples, now)
            update = self.tail.poll()
            if update.chunk:
                found = scan_bytes(update.chunk)
                self._unstable.extend(found.unstable)
                if from_log and found.samples:
                    self._source = "console.log"
                    self.progress.add(found.samples, now)
            del self._unstable[:-100]
        self._first = False
        if self._metrics_tail is not None:
            at = self._metrics_tail.consumed
            chunk = self._metrics_tail.poll().chunk
            if chunk and self.metrics_end is not None:
                chunk = chunk[: max(0, self.metrics_end - at)]  # later lines are the next run's
            if chunk:
                lines = chunk.decode("utf-8", "replace").splitlines()
                self.progress.add([s for s in map(parse_jsonl_record, lines) if s is not None], now)

    def poll_log(self) -> None:
        """The cheap part of :meth:`poll`: read what the console log and ``metrics.jsonl`` gained
        (progress and ``Unstable loss`` lines follow), without checkpoints, processes or disk. A
        log view calls it often and reads :attr:`tail`; :meth:`poll` still sees every sample."""
        self._poll_metrics(self._clock())

    def poll(self, exit_code: int | None = None, *, stopped: bool = False) -> RunSnapshot:
        """One tick. ``exit_code`` is the run's exit status once the supervisor recorded it;
        ``stopped`` says the run ended because someone asked it to (never a crash)."""
        now = self._clock()
        wall = time.time()
        self._poll_metrics(now)
        ckpt = self._ckpt.poll() if self._ckpt is not None else None
        if ckpt is not None and (ckpt.saving is not None or ckpt.new):
            self._last_save_at = now
        procs = self._procs.poll() if self._procs is not None else None
        disk_free = None
        where = self.job_dir if self.job_dir is not None and self.job_dir.exists() else None
        if where is None and self.console_log is not None:
            where = self.console_log.parent
        if where is not None:
            try:
                disk_free = self._disk_free(where)
            except OSError:
                disk_free = None
        progress = self.progress.snapshot()
        health, events = self.watchdog.assess(
            now=now,
            wall=wall,
            started_at=self._started,
            progress=progress,
            last_progress_at=self.progress.last_progress_at,
            saving=ckpt is not None and ckpt.saving is not None,
            last_save_at=self._last_save_at,
            unstable_lines=tuple(self._unstable),
            exit_code=exit_code,
            stopped=stopped,
            disk_free_bytes=disk_free,
            host_warning=procs.host.warning if procs is not None else None,
            references=self.references,
        )
        if procs is not None and not procs.alive and exit_code is None:
            health = Health(
                health.state,
                health.stalled_for_s,
                health.stall_threshold_s,
                (*health.flags, "the run's processes are gone but no exit code was recorded"),
            )
        if self.notifier is not None and events:
            self.notifier.notify(events)
        tail = self.tail
        return RunSnapshot(
            taken_at=wall,
            health=health,
            progress=progress,
            log_tail=tuple(tail.lines(self.view_lines)) if tail is not None else (),
            log_lines_total=tail.total_lines if tail is not None else 0,
            log_offset=tail.consumed if tail is not None else 0,
            unstable=tuple(self._unstable[-10:]),
            checkpoints=ckpt,
            procs=procs,
            disk_free_bytes=disk_free,
            events=tuple(events),
            metrics_source=self._source,
        )
