"""What the TUI's run screens (runs list, dashboard, job view) read from ``core`` and ask of it:
run records, the per-run :class:`RunMonitor`, the shared :class:`GpuSampler`, the disk forecast
(core's :func:`~cosmos_tui.core.runs.disk_forecast.forecast_run`) and the dashboard's
actions (stop, save, resume, checkpoint export and prune), turned into the immutable snapshots of
:mod:`cosmos_tui.tui.state`. The new-run wizard reaches core through
:mod:`cosmos_tui.tui.wizard_backend`.

One :class:`RunMonitor` per run, shared by every screen (the runs list and a dashboard see the same
progress, the same watchdog, and each event once). A run that had ended when it was first seen is
read once; a live one is polled. The watchdog's events (finish, crash, stall, low disk) of runs
that were live while watched go to the user's notifications (``config.toml``: bell and/or a
command). Everything here may block (files, processes, NVML), so only thread workers call it;
the clock, the NVML library and the free-space probe are injected, so tests and snapshot images
are deterministic.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core import jobconfig, preflight
from cosmos_tui.core.checkpoints import export as ckpt_export
from cosmos_tui.core.checkpoints import prune as ckpt_prune
from cosmos_tui.core.checkpoints.job_forecast import SettingsUnknown
from cosmos_tui.core.checkpoints.locate import open_run_checkpoints
from cosmos_tui.core.checkpoints.pins import set_pinned
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fit import cost_so_far
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.monitor import logjump, logsearch
from cosmos_tui.core.monitor.claims import assigned_devices, record_roots
from cosmos_tui.core.monitor.gpus import GpuClaim, GpuSampler, GpuSnapshot, default_sampler
from cosmos_tui.core.monitor.logline import LogLine
from cosmos_tui.core.monitor.notify import Notifier, NotifyConfig
from cosmos_tui.core.monitor.runmonitor import RunMonitor, RunSnapshot
from cosmos_tui.core.monitor.samples import latest_line
from cosmos_tui.core.monitor.watchdog import MonitorEvent, run_badges
from cosmos_tui.core.notify_config import load_notify_config
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.queue import store as queue_store
from cosmos_tui.core.queue.dispatch import ensure_dispatcher
from cosmos_tui.core.queue.sweep import show as sweep_show
from cosmos_tui.core.queue.view import queue_rows
from cosmos_tui.core.runs import (
    engine_view,
    get_run,
    list_runs,
    plan_removal,
    remove_run,
    rerun,
    resume_run,
    savenow,
    stop_run,
)
from cosmos_tui.core.runs.disk_forecast import forecast_run
from cosmos_tui.core.runs.jobs import get_job, job_history
from cosmos_tui.core.runs.lifecycle import Removal
from cosmos_tui.core.runs.ownership import monitor_scope
from cosmos_tui.core.runs.record import RunRecord
from cosmos_tui.core.sampling.gallery import JobSamples, job_samples
from cosmos_tui.core.sampling.jobs import SampleJob, plan_samples, resolve_job_dir, start_samples
from cosmos_tui.core.sampling.prompts import default_requests
from cosmos_tui.core.units import human_bytes
from cosmos_tui.tui.state import CheckpointRow, JobRunRow, JobView, QueueItem, RunRow, RunView

Clock = Callable[[], float]
Announce = Callable[[Sequence[MonitorEvent], bool], None]
"""Shows events in the app (a toast, and the bell when the second argument is true)."""

LOG_VIEW_LINES = 5000
"""Lines one log batch carries at most (the log view's capacity)."""


@dataclass(frozen=True)
class LogBatch:
    """Console lines appended since a sequence number."""

    lines: tuple[LogLine, ...]
    """The new lines, parsed, oldest first."""
    next_seq: int
    """Pass this back to get the lines after these."""
    skipped: int = 0
    """Lines that arrived faster than the view could take them and were passed over."""
    end_offset: int | None = None
    """Byte offset in ``console.log`` just after the last of ``lines``."""


LOG_SEARCH_HITS = 1_000
"""Matches a whole-log search keeps (the rest are only counted)."""


@dataclass(frozen=True)
class LogHit:
    """One line of ``console.log`` matching a search."""

    offset: int
    """Byte offset of the line in the file."""
    text: str
    seq: int | None
    """Its line number in the view's buffer (``None``: not buffered when the search ran)."""


@dataclass(frozen=True)
class LogSearch:
    """A whole-log search: the matches in file order."""

    query: str
    count: int
    hits: tuple[LogHit, ...]
    truncated: bool


def _overrides(record: RunRecord) -> list[str]:
    """The overrides the run was launched with (none when its preset no longer validates)."""
    return list(record.launched.experiment.overrides) if record.launched else []


def _job_settings(job_dir: Path | None, preset: Preset | None) -> jobconfig.JobSettings:
    """``trainer.max_iter``, ``checkpoint.save_iter`` and ``checkpoint.keep_last_n`` from the job's
    ``config.yaml`` (the engine's composed truth), else the preset's overrides (``None`` where
    neither says); ``from_config`` says whether the config was there (then it need not be read
    again)."""
    return preflight.job_settings(preset, job_dir) if preset else jobconfig.settings(job_dir)


@dataclass(frozen=True)
class ExportTarget:
    """What the dashboard's export would read and write."""

    iteration: int
    """The latest complete checkpoint's iteration (it verified)."""
    size_bytes: int
    out_dir: Path
    """``JOB/export``, as ``cosmos-tui ckpt export RUN --out JOB/export`` writes."""
    existing: tuple[str, ...]
    """Output files already there (the export replaces them only when asked to)."""


@dataclass(frozen=True)
class PruneProposal:
    """A prune plan to show a person before anything is deleted."""

    run_id: str
    keep_last: int
    plan: ckpt_prune.PrunePlan


@dataclass
class _Watch:
    """One run's monitor and what the backend remembers about it (guarded by ``lock``)."""

    monitor: RunMonitor
    live_when_seen: bool
    devices: frozenset[int] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: RunSnapshot | None = None
    final: bool = False
    settings: jobconfig.JobSettings | None = None
    settings_final: bool = False
    lost_announced: bool = False
    job_checkpoints: tuple[tuple, list[CheckpointInfo]] | None = None
    """Every checkpoint of the job (any run's) for the disk forecast, with what the run's own
    looked like when they were scanned (scanned again when that changes)."""


class Backend:
    """Reads runs and machine state for the TUI; every method may block (call from workers).

    ``gpu_sampler`` defaults to the process-wide NVML sampler (tests pass one over ``FakeNvml``);
    ``disk_free`` measures free bytes at a path; ``notify`` defaults to ``config.toml``'s
    ``[notify]`` section; ``announce`` is set by the app to show events on screen.
    """

    def __init__(
        self,
        *,
        clock: Clock = time.time,
        gpu_sampler: GpuSampler | None = None,
        disk_free: Callable[[Path], int] | None = None,
        notify: NotifyConfig | None = None,
        announce: Announce | None = None,
    ) -> None:
        self.clock = clock
        self.gpu_sampler = gpu_sampler or default_sampler()
        self.disk_free = disk_free
        self.announce = announce
        self._notify = notify
        self._notifier: Notifier | None = None
        self.config_error: str | None = None
        """Why ``config.toml`` could not be used (the defaults apply meanwhile)."""
        self._watches: dict[str, _Watch] = {}
        self._layouts: dict[str, str | None] = {}
        """Each run's parallel layout, read once (see :meth:`_parallelism`)."""
        self._lock = threading.Lock()
        self._exporting: set[Path] = set()
        """Export folders being written now (two exports into one folder would mix their files)."""

    # -- notifications -----------------------------------------------------------------------

    @property
    def notify_config(self) -> NotifyConfig:
        """The ``[notify]`` settings (read once; a bad file leaves the defaults and says why)."""
        if self._notify is None:
            try:
                self._notify = load_notify_config()
            except UserError as e:
                self.config_error = str(e)
                self._notify = NotifyConfig()
        return self._notify

    def _announce(self, events: Sequence[MonitorEvent], delivered: Sequence[MonitorEvent]) -> None:
        """Show ``events`` (and ring the bell); run the ``[notify]`` command for those of them in
        ``delivered``, the ones no supervisor delivers (a local run's supervisor runs the command
        for its own events, so a person with the TUI open gets each once)."""
        config = self.notify_config
        chosen = [e for e in events if e.kind in config.events]
        if not chosen:
            return
        sent = [e for e in chosen if e in delivered]
        if config.command and sent:
            if self._notifier is None:
                self._notifier = Notifier(dataclasses.replace(config, bell=False))
            self._notifier.notify(sent)
        if self.announce is not None:
            self.announce(chosen, config.bell)

    # -- runs ---------------------------------------------------------------------------------

    def _watch(self, record: Any) -> _Watch:
        with self._lock:
            watch = self._watches.get(record.id)
            if watch is None:
                monitor = RunMonitor(
                    **monitor_scope(record),
                    pids=record_roots(record),
                    max_iter=as_int(override_value(_overrides(record), "trainer.max_iter")),
                    log_buffer_lines=LOG_VIEW_LINES,
                    disk_free=self.disk_free,
                )
                watch = _Watch(monitor, record.active, assigned_devices(record))
                self._watches[record.id] = watch
            return watch

    def _snapshot(self, record: Any) -> tuple[_Watch, RunSnapshot]:
        """Poll the run's monitor (once more only while the run is live)."""
        watch = self._watch(record)
        with watch.lock:
            if watch.final and watch.last is not None:
                return watch, watch.last
            ended = not record.active
            if ended and record.metrics_end is not None:
                watch.monitor.metrics_end = record.metrics_end  # the next run's lines are not its
            stopped = record.status == "stopped"
            snap = watch.monitor.poll(exit_code=record.exit_code if ended else None, stopped=stopped)
            watch.last, watch.final = snap, ended
            if not watch.settings_final:
                watch.settings = _job_settings(watch.monitor.job_dir, record.launched)
                watch.settings_final = watch.settings.from_config
            events = list(snap.events) if watch.live_when_seen else []
            # A local run's supervisor delivers its run's events; Slurm runs have none here.
            delivered = [] if record.supervisor is not None else list(events)
            if ended and record.exit_code is None and watch.live_when_seen and not watch.lost_announced:
                watch.lost_announced = True
                kind = "stopped" if stopped else "crashed"
                why = record.reason or "no exit code"
                lost = MonitorEvent(kind, f"run {record.status}: {why}", record.id)
                events.append(lost)
                delivered.append(lost)  # the supervisor is gone: nobody else says it
        if events:
            self._announce(events, delivered)
        return watch, snap

    def list_runs(self) -> list[RunRow]:
        """Rows for the runs screen: entries waiting in the queue first (status ``queued``, their
        position and what they wait for as flags), then runs newest first (core reconciles every
        record with reality)."""

        records = sorted(list_runs(), key=lambda r: r.id, reverse=True)
        waiting = [
            RunRow(
                id=q.id,
                status="queued",
                experiment=q.what,
                job=q.job,
                started=q.created,
                reason=q.detail,
                badges=(f"#{q.position}", q.needs, q.detail),
            )
            for q in self.queue_items()
            if q.position is not None
        ]
        return [*waiting, *(self._row(r, self._snapshot(r)[1]) for r in records)]

    # -- the run queue -------------------------------------------------------------------------

    def queue_items(self, *, include_done: bool = False) -> list[QueueItem]:
        """The queue in start order (see :func:`cosmos_tui.core.queue.view.queue_rows`)."""
        items = []
        for row in queue_rows(include_done=include_done, sampler=self.gpu_sampler):
            e = row.entry
            job = override_value(e.sets, "job.name") or ""
            detail = row.wait or (f"run {e.run_id}" if e.run_id else e.reason or "")
            items.append(
                QueueItem(
                    id=e.id,
                    state=e.state,
                    position=row.position,
                    priority=e.priority,
                    needs=row.needs,
                    what=e.preset_ref + (f" [{e.label}]" if e.label else ""),
                    detail=detail,
                    sweep=e.sweep,
                    job=job,
                    created=e.created_at,
                )
            )
        return items

    def queue_paused(self) -> bool:
        """Whether the queue starts nothing new."""
        return queue_store.paused()

    def queue_cancel(self, entry_id: str) -> str:
        """Cancel a queued entry; what happened."""
        return f"Cancelled {queue_store.cancel(entry_id).id}."

    def queue_move(self, entry_id: str, before: str) -> str:
        """Put ``entry_id`` just before ``before``; what happened."""
        queue_store.move_before(entry_id, before)
        return f"Moved {entry_id} before {before}."

    def queue_set_paused(self, on: bool) -> str:
        """Pause or resume the queue (resuming starts the dispatcher); what happened."""
        queue_store.set_paused(on)
        if on:
            return "Queue paused: nothing new starts (running runs go on)."
        ensure_dispatcher()
        return "Queue resumed."

    def ensure_dispatcher(self) -> bool:
        """Start the queue's dispatcher if something waits and none runs (any UI start does)."""
        return ensure_dispatcher()

    def sweep_series(self, sweep_id: str) -> dict[str, tuple[tuple[int, float], ...]]:
        """Each started point's loss curve, by its grid label (the sweep overlay)."""
        return {row.label or row.entry.id: row.losses for row in sweep_show(sweep_id) if row.losses}

    def _row(self, record: Any, snap: RunSnapshot) -> RunRow:
        health, progress = snap.health, snap.progress
        status = record.status
        crashed = status in ("failed", "lost") or bool(progress.nonfinite)
        badges = run_badges(
            health.flags,
            stalled=health.state == "stalled",
            exit_code=record.exit_code,
            failed=status in ("failed", "lost"),
        )
        return RunRow(
            id=record.id,
            status=status,
            experiment=record.experiment or (record.launched.experiment.name if record.launched else ""),
            model=(record.launched.model.id or "") if record.launched else "",
            job=Path(record.job_dir).name if record.job_dir else "",
            iteration=progress.iteration,
            max_iter=progress.max_iter,
            loss=progress.loss,
            started=record.started_at or record.created_at,
            exit_code=record.exit_code,
            reason=record.reason,
            stalled=health.state == "stalled",
            crashed=crashed,
            badges=badges,
        )

    def run_view(self, run_id: str) -> RunView:
        """Everything the dashboard shows for one run."""

        record = get_run(run_id)
        watch, snap = self._snapshot(record)
        row = self._row(record, snap)
        progress, health = snap.progress, snap.health
        ckpts = snap.checkpoints.checkpoints if snap.checkpoints is not None else ()
        flags = list(health.flags)
        if health.state == "stalled" and health.stalled_for_s is not None:
            flags.insert(0, f"stalled: no progress for {health.stalled_for_s:.0f} s")
        if health.exit_message and record.exit_code not in (0, None) and record.status != "stopped":
            flags.append(health.exit_message)
        if record.reason and record.status in ("failed", "lost") and record.reason not in flags:
            flags.append(record.reason)
        refs = watch.monitor.references
        ref = refs.matching(progress.device, progress.world_size) if refs is not None else None
        verdict = message = None
        if record.active and watch.monitor.job_dir is not None:
            verdict, message = self._disk_forecast(record, watch, snap)
        return RunView(
            row=row,
            losses=tuple((int(x), y) for x, y in progress.loss_series),
            sec_per_iter=progress.sec_per_iter,
            samples_per_s=progress.rates.samples_per_s,
            eta_s=progress.eta_s if record.active else None,
            checkpoints=tuple(
                CheckpointRow(
                    c.iteration, c.mtime, c.size_bytes, c.complete, c.is_latest, c.pinned, c.has_ema
                )
                for c in ckpts
            ),
            job_dir=str(watch.monitor.job_dir) if watch.monitor.job_dir else None,
            console_log=str(record.console_log),
            command=record.shell or shlex.join(record.argv),
            preset_text=_preset_toml(record.preset),
            flags=tuple(flags),
            health=record.status if record.status in ("stopped", "lost") else health.state,
            disk_verdict=verdict,
            disk_message=message,
            cpu_percent=snap.procs.cpu_percent if snap.procs is not None else None,
            rss_bytes=snap.procs.rss_bytes if snap.procs is not None else None,
            tokens_per_s=progress.rates.tokens_per_s,
            tokens=tuple((int(x), y) for x, y in progress.tokens_series),
            metrics={k: tuple((int(x), y) for x, y in v) for k, v in progress.rate_series.items()},
            reference=ref.loss if ref is not None else (),
            reference_label=f"reference {ref.device} x{ref.world_size}" if ref is not None else "",
            parallelism=self._parallelism(record),
            samples=latest_line(engine_view.samples(record)),
            steps=tuple((st.name, st.status) for st in record.steps),
            cost=cost_so_far(record.duration, record.world_size, progress.device == "cpu"),
        )

    def _parallelism(self, record: RunRecord) -> str | None:
        """The run's parallel layout, read once per run (the job's config.yaml can be large)."""
        if record.id not in self._layouts or (self._layouts[record.id] is None and record.active):
            self._layouts[record.id] = engine_view.parallelism(record)
        return self._layouts[record.id]

    def _disk_forecast(
        self, record: RunRecord, watch: _Watch, snap: RunSnapshot
    ) -> tuple[str | None, str | None]:
        """Saves still to come x the average checkpoint size, against the free space: core's
        :func:`~cosmos_tui.core.runs.disk_forecast.forecast_run`, as ``cosmos-tui ckpt forecast
        RUN`` says it (the run's settings, every checkpoint of its job)."""

        own = snap.checkpoints.checkpoints if snap.checkpoints else ()
        key = tuple((c.iteration, c.complete, c.size_bytes) for c in own)
        if watch.job_checkpoints is None or watch.job_checkpoints[0] != key:
            ckdir = watch.monitor.job_dir / "checkpoints"  # type: ignore[operator]
            watch.job_checkpoints = (key, scan_checkpoints(ckdir) if ckdir.is_dir() else [])
        try:
            result = forecast_run(
                record,
                checkpoints=watch.job_checkpoints[1],
                settings=watch.settings,  # the run's, read by _snapshot (None: forecast_run reads them)
                free_bytes=snap.disk_free_bytes,
            )
        except SettingsUnknown:
            return "unknown", "Disk forecast: checkpoint.save_iter or trainer.max_iter is not known yet."
        except UserError as e:
            return "unknown", f"Disk forecast: {e}"
        return result.verdict, result.message

    def log_batch(self, run_id: str, after: int | None, *, limit: int = LOG_VIEW_LINES) -> LogBatch:
        """Console lines after sequence number ``after`` (``None``: the buffered tail), read through
        the run's monitor (so progress follows the same bytes), at most ``limit`` of them."""
        watch = self._watches.get(run_id)
        if watch is None:
            watch = self._watch(get_run(run_id))
        with watch.lock:
            tail = watch.monitor.tail
            if tail is None:
                return LogBatch((), after or 0)
            watch.monitor.poll_log()
            first, end = tail.first_seq, tail.total_lines
            start = first if after is None else max(after, first)
            skipped = 0 if after is None else start - after
            if end - start > limit:
                skipped += end - limit - start
                start = end - limit
            lines = tuple(tail.parsed(s) for s in range(start, end))
            consumed = tail.consumed
        return LogBatch(lines, end, skipped, consumed)

    def search_log(
        self, run_id: str, query: str, *, end_offset: int | None, buffered: int, first_seq: int
    ) -> LogSearch:
        """Every line of the run's whole ``console.log`` holding ``query`` (ignoring case), each
        placed in the view's buffer of ``buffered`` lines (line numbers from ``first_seq``) ending
        at byte ``end_offset``, where it is there."""
        path = get_run(run_id).console_log
        try:
            found = logsearch.search_file(path, query, ignore_case=True, max_hits=LOG_SEARCH_HITS)
            place = _placer(path, end_offset, buffered, first_seq)
        except FileNotFoundError:
            raise UserError("The run has no console.log yet; nothing to search.") from None
        except OSError as e:
            raise UserError(describe_os_error(e, doing="search the log")) from None
        hits = tuple(LogHit(h.offset, h.line, place(h.offset)) for h in found.hits)
        return LogSearch(query, found.count, hits, found.truncated)

    def log_context(self, run_id: str, offset: int) -> logjump.LogContext:
        """The lines of the run's ``console.log`` around byte ``offset``."""
        try:
            return logjump.context_at(get_run(run_id).console_log, offset)
        except OSError as e:
            raise UserError(describe_os_error(e, doing="read the log")) from None

    def first_error(
        self, run_id: str, *, end_offset: int | None, buffered: int, first_seq: int
    ) -> LogHit | None:
        """The run's first error line (a traceback, an ERROR line, an exception), placed in the
        view's buffer like :meth:`search_log`'s hits."""
        path = get_run(run_id).console_log
        try:
            hit = logjump.first_error(path)
            if hit is None:
                return None
            return LogHit(hit.offset, hit.line, _placer(path, end_offset, buffered, first_seq)(hit.offset))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise UserError(describe_os_error(e, doing="search the log")) from None

    def loss_series(self, run_id: str) -> tuple[tuple[int, float], ...]:
        """The downsampled loss curve of one run (for comparing runs)."""

        _, snap = self._snapshot(get_run(run_id))
        return tuple((int(x), y) for x, y in snap.progress.loss_series)

    def job_view(self, ref: str) -> JobView:
        """The job of run ``ref`` (or the job folder ``ref``): its runs, their lineage and each
        run's own loss curve."""

        job = get_job(ref)
        rows, series = [], {}
        number = {r.id: n for n, r in enumerate(job.runs, 1)}
        for n, seg in enumerate(job_history(job), 1):
            came_from = seg.run.resumed_from or {}
            if came_from:
                who = came_from.get("run")
                whom = f"#{number[who]}" if who in number else (who or "an unknown run")
                came = f"resumed {whom} at {came_from.get('iteration')}"
            else:
                came = f"rerun of {seg.run.parent}" if seg.run.origin == "rerun" else "fresh"
            rows.append(
                JobRunRow(
                    seg.run.id, seg.run.status, seg.start_iteration, seg.last_iteration, came, seg.checkpoints
                )
            )
            if seg.samples:
                start = 0 if seg.start_iteration is None else seg.start_iteration
                series[f"{n} · {start}→{seg.last_iteration}"] = tuple(
                    (s.iteration, s.loss) for s in seg.samples
                )
        holder = job.holder.describe() if job.holder else None
        return JobView(str(job.path), job.name, holder, tuple(rows), series)

    # -- samples ------------------------------------------------------------------------------

    def samples_view(self, ref: str) -> JobSamples:
        """The sample sets of the job of run ``ref`` (or the job folder ``ref``) and the samples
        jobs drawing for it now."""
        job_dir, _ = resolve_job_dir(ref)
        return job_samples(job_dir)

    def start_samples(self, ref: str, *, base: bool) -> SampleJob:
        """Sample the latest checkpoint (and the base weights with ``base``) with seed 0, as
        ``cosmos-tui samples new REF --iter latest [--base]`` does."""
        plan = plan_samples(ref, default_requests((0,)), iteration="latest", base=base)
        return start_samples(plan)

    # -- GPUs ---------------------------------------------------------------------------------

    def gpu_claims(self) -> dict[str, GpuClaim]:
        """What each live run watched here holds: its process tree and assigned devices."""
        claims = {}
        for run_id, watch in list(self._watches.items()):
            if watch.final or watch.last is None:
                continue
            claims[run_id] = watch.monitor.gpu_claim(watch.devices, watch.last.procs)
        return claims

    def gpus(self) -> GpuSnapshot:
        """Every GPU with the runs using it, or why there is none (never raises)."""
        return self.gpu_sampler.poll(self.gpu_claims())

    # -- actions ------------------------------------------------------------------------------

    def stop(self, run_id: str) -> str:
        """Stop a run gracefully (the engine saves a checkpoint first)."""

        report = stop_run(run_id)
        how = "stopped cleanly" if report.graceful else "stopped (some processes had to be killed)"
        return f"{report.record.id} {how}."

    def resume(self, run_id: str) -> str:
        """Relaunch a run so it continues from its latest complete checkpoint; the new run's id."""

        return resume_run(run_id).id

    def plan_removal(self, run_id: str, *, outputs: bool = False) -> Removal:
        """What ``cosmos-tui runs rm RUN [--outputs]`` would delete and keep (nothing is deleted
        here); a :class:`UserError` for a live run."""
        return plan_removal(run_id, delete_outputs=outputs)

    def remove(self, run_id: str, *, outputs: bool = False) -> str:
        """Delete the run (core's ``remove_run``, which plans again: what became needed since is
        kept); what was deleted, in one sentence."""
        try:
            done = remove_run(run_id, delete_outputs=outputs)
        except OSError as e:
            raise UserError(describe_os_error(e, doing="delete")) from None
        with self._lock:
            self._watches.pop(run_id, None)
        return f"Deleted run {done.run_id}: {len(done.delete)} path(s), freed {human_bytes(done.size_bytes)}."

    def job_checkpoint_count(self, run_id: str) -> int:
        """Complete checkpoints in the run's job folder (a rerun onto it must choose: continue or
        fresh)."""
        record = get_run(run_id, reconcile_=False)
        if not record.job_dir:
            return 0
        ckdir = Path(record.job_dir) / "checkpoints"
        return sum(1 for c in scan_checkpoints(ckdir) if c.complete) if ckdir.is_dir() else 0

    def rerun(self, run_id: str, existing: str = "ask") -> str:
        """Start a new run with the run's preset and overrides (``cosmos-tui runs rerun``); with
        ``existing`` ``resume`` or ``fresh`` for a job that holds checkpoints. The new run's id."""
        return rerun(run_id, existing=existing).id  # type: ignore[arg-type]

    def save_now(self, run_id: str) -> str:
        """Ask the engine to save at its next step boundary (core's ``SAVE_NOW`` request, refused
        for an ended run)."""

        savenow.request_save(run_id)
        return "Asked the engine to save a checkpoint at the next step."

    # -- checkpoints ----------------------------------------------------------------------------

    def export_target(
        self, run_id: str, *, out_dir: str | Path | None = None, iteration: int | None = None
    ) -> ExportTarget:
        """The checkpoint an export of ``run_id`` reads (``iteration``, or the latest complete one;
        verified) and where it writes (``out_dir``, relative to the job folder; default
        ``JOB/export``); a :class:`UserError` when there is none or it fails verification."""
        folder = open_run_checkpoints(run_id)
        chosen = ckpt_export.checkpoint_to_export(folder.checkpoints, iteration)
        out = export_dir(folder.directory.parent, out_dir)
        if out.exists() and not out.is_dir():
            raise UserError(f"cannot export to {out}: it is a file, not a folder; choose another place.")
        names = ckpt_export.default_output_names()
        existing = tuple(n for n in names if os.path.lexists(out / n))  # a dangling link counts
        return ExportTarget(chosen.iteration, chosen.size_bytes, out, existing)

    def export(
        self,
        run_id: str,
        *,
        out_dir: str | Path | None = None,
        iteration: int | None = None,
        overwrite: bool = False,
    ) -> str:
        """Export ``run_id``'s checkpoint ``iteration`` (default: the latest complete one) to
        ``out_dir`` (default ``JOB/export``; upstream's inference files); what was written, in one
        sentence."""
        folder = open_run_checkpoints(run_id)
        chosen = ckpt_export.checkpoint_to_export(folder.checkpoints, iteration)
        out_dir = export_dir(folder.directory.parent, out_dir)
        with self._lock:
            if out_dir in self._exporting:
                raise UserError(f"An export to {out_dir} is already running; wait for it to finish.")
            self._exporting.add(out_dir)
        try:
            result = ckpt_export.export_checkpoint(chosen, out_dir, overwrite=overwrite)
        except OSError as e:  # a full disk, an unwritable folder, a checkpoint pruned meanwhile
            raise UserError(describe_os_error(e, doing="export")) from None
        finally:
            with self._lock:
                self._exporting.discard(out_dir)
        names = ", ".join(p.name for p in result.files)
        return (
            f"Exported iteration {result.iteration} to {out_dir}: {names} "
            f"({human_bytes(result.bytes_written)} in {result.seconds:.1f} s)."
        )

    def checkpoint_path(self, run_id: str, iteration: int) -> Path:
        """Where checkpoint ``iteration`` of ``run_id`` is on disk."""
        folder = open_run_checkpoints(run_id)
        return ckpt_export.find_checkpoint(folder.checkpoints, iteration).path

    def verify(self, run_id: str, iteration: int) -> tuple[bool, str]:
        """Verify checkpoint ``iteration`` of ``run_id`` (core's quick check: metadata and every
        shard it names); whether it is whole, and the verdict in one sentence."""
        folder = open_run_checkpoints(run_id)
        info = ckpt_export.find_checkpoint(folder.checkpoints, iteration)
        try:
            verdict = verify_checkpoint(info)
        except OSError as e:
            raise UserError(describe_os_error(e, doing="verify")) from None
        return verdict.ok, verdict.message[:1].upper() + verdict.message[1:]

    def set_pinned(self, run_id: str, iteration: int, pinned: bool) -> str:
        """Pin (prune keeps it whatever the policy says) or unpin checkpoint ``iteration``."""
        folder = open_run_checkpoints(run_id)
        ckpt_export.find_checkpoint(folder.checkpoints, iteration)  # it exists
        try:
            set_pinned(folder.directory, iteration, pinned)
        except OSError as e:
            raise UserError(describe_os_error(e, doing="pin")) from None
        self._read_checkpoints_again(run_id)
        if pinned:
            return f"Pinned iteration {iteration}: prune keeps it."
        return f"Unpinned iteration {iteration}: prune may delete it."

    def _read_checkpoints_again(self, run_id: str) -> None:
        watch = self._watches.get(run_id)
        if watch is not None:  # an ended run is read once: read its checkpoints again
            with watch.lock:
                watch.final = False

    def plan_prune(self, run_id: str, *, keep_last: int) -> PruneProposal:
        """What keeping the newest ``keep_last`` checkpoints of ``run_id`` would delete (nothing is
        deleted here); a :class:`UserError` when the pointer cannot be read."""
        folder = open_run_checkpoints(run_id, need_pointer=True)
        plan = ckpt_prune.plan_prune(folder.checkpoints, keep_last=keep_last)
        return PruneProposal(run_id, keep_last, plan)

    def apply_prune(self, proposal: PruneProposal) -> str:
        """Delete what a person confirmed in ``proposal``, after applying the policy again (what
        became the latest, pinned or in progress since is kept; nothing not shown is deleted)."""
        folder = open_run_checkpoints(proposal.run_id, need_pointer=True)
        fresh = ckpt_prune.plan_prune(folder.checkpoints, keep_last=proposal.keep_last)
        agreed = ckpt_prune.confirmed_plan(proposal.plan, fresh)
        try:
            removed = ckpt_prune.apply_prune(agreed, folder.directory)
        except OSError as e:  # a read-only or vanished folder: what was deleted so far stays deleted
            raise UserError(describe_os_error(e, doing="delete")) from None
        self._read_checkpoints_again(proposal.run_id)
        freed = human_bytes(sum(c.size_bytes for c in removed))
        return f"Deleted {len(removed)} checkpoint(s), freed {freed}."


def _placer(path: Path, end_offset: int | None, buffered: int, first_seq: int) -> Callable[[int], int | None]:
    """Maps a byte offset of ``path`` to its line number in a view buffering the ``buffered`` lines
    (numbered from ``first_seq``) that end at ``end_offset``; ``None`` outside them (or for every
    offset when the file no longer holds those lines where the view saw them)."""
    starts = logjump.line_starts(path, end_offset, buffered) if end_offset else []
    if len(starts) != buffered:
        starts = []

    def place(offset: int) -> int | None:
        index = logjump.index_in(starts, offset) if offset < (end_offset or 0) else None
        return None if index is None else first_seq + index

    return place


def export_dir(job_dir: Path, out_dir: str | Path | None) -> Path:
    """Where an export writes: ``out_dir`` (``~`` expanded, a relative one inside the job folder),
    default ``JOB/export``."""
    if out_dir is None or not str(out_dir).strip():
        return job_dir / "export"
    path = Path(str(out_dir).strip()).expanduser()
    return path if path.is_absolute() else job_dir / path


def _preset_toml(preset: dict[str, Any]) -> str:
    if not preset:
        return ""
    import tomli_w  # deferred: tomli_w, only when a preset is written

    return tomli_w.dumps(preset)
