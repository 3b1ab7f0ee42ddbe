"""Is the run healthy? Stalls, NaN/Inf losses, ``Unstable loss`` lines, how it ended, low disk,
and a pace well below the preset's measured reference (:mod:`cosmos_tui.core.reference`).

A run is *stalled* when no iteration progress has been seen for ``stall_factor`` times the recent
interval between progress reports (and at least ``min_stall_s``), unless a checkpoint is being
written: a save can legitimately take minutes. Events fire once per transition, so a notifier
sees "stalled" once, not every poll.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from cosmos_tui.core.monitor.progress import ProgressSnapshot
from cosmos_tui.core.reference import References
from cosmos_tui.core.units import human_bytes

State = Literal["starting", "running", "saving", "stalled", "finished", "stopped", "crashed"]
EventKind = Literal[
    "finished", "stopped", "crashed", "stalled", "recovered", "unstable_loss", "low_disk", "host_memory"
]


@dataclass(frozen=True)
class WatchdogConfig:
    """Thresholds. Defaults suit multi-second iterations of large video models."""

    stall_factor: float = 5.0
    """k: stalled after k x the recent interval between progress reports."""
    min_stall_s: float = 120.0
    """Never call a run stalled sooner than this."""
    startup_stall_s: float | None = None
    """Stalled if no progress at all this long after start (None: start-up may take any time)."""
    low_disk_bytes: int = 10 << 30
    """Warn when the job folder's file system has less free space than this."""
    slow_factor: float = 1.5
    """Flag a run this many times slower per iteration than its preset's reference (same device)."""
    slow_min_reports: int = 3
    """Judge the pace only after this many progress reports (the first ones include start-up)."""


SLOW_CAUSES = (
    "usual causes: too few data loader workers (raise dataloader_train.num_workers), a tiny dataset "
    "re-decoded every epoch, or a CPU fallback (no GPU visible: check CUDA_VISIBLE_DEVICES and "
    "`cosmos-tui gpus`)"
)
"""What makes a run slower than its reference, most often."""


def pace_flag(
    progress: ProgressSnapshot, references: References | None, config: WatchdogConfig
) -> str | None:
    """A warning when the run is ``slow_factor`` times slower than its reference on the same device
    and rank count, or trains on the CPU where its preset was measured on GPUs only; else None."""
    if references is None or progress.device is None:
        return None
    ref = references.matching(progress.device, progress.world_size)
    if ref is None:
        gpus = {m.device for m in references.measurements} | {p.device for p in references.pending}
        if progress.device == "cpu" and gpus and "cpu" not in gpus:
            return (
                f"CPU fallback: the run trains on the CPU, its preset is meant for "
                f"{', '.join(sorted(gpus))}; "
                "check CUDA_VISIBLE_DEVICES and `cosmos-tui gpus`"
            )
        return None
    spi = progress.sec_per_iter
    if spi is None or progress.reports < config.slow_min_reports:
        return None
    ratio = spi / ref.sec_per_iter
    if ratio < config.slow_factor:
        return None
    return (
        f"slow: {spi:.3g} s/iter, {ratio:.1f}x the reference {ref.sec_per_iter:.3g} s/iter on "
        f"{ref.device} with {ref.world_size} ranks; {SLOW_CAUSES}"
    )


def flag_badge(flag: str) -> str:
    """The short badge of one health flag (``SLOW``, ``LOW-DISK``, ``NaN``, ``UNSTABLE``,
    ``HOST-MEM``), as the runs screen shows it; a table cell holds the badge, ``runs show`` the
    sentence."""
    if flag.startswith(("slow:", "CPU fallback")):
        return "SLOW"
    if flag.startswith("low disk"):
        return "LOW-DISK"
    if flag.startswith("NaN/Inf"):
        return "NaN"
    if "'Unstable loss'" in flag:
        return "UNSTABLE"
    return "HOST-MEM"


def flag_badges(flags: Iterable[str]) -> tuple[str, ...]:
    """The badges of health flags, in the flags' order, each once (``SLOW LOW-DISK``)."""
    return tuple(dict.fromkeys(flag_badge(f) for f in flags))


def run_badges(
    flags: Iterable[str], *, stalled: bool = False, exit_code: int | None = None, failed: bool = False
) -> tuple[str, ...]:
    """Every badge of a run, as the runs screen and ``runs list`` show them: ``STALL`` while
    ``stalled``, the :func:`flag_badges`, ``OOM-KILL`` for an exit by SIGKILL (-9 or 137) and
    ``CRASH`` for any other ``failed`` end."""
    killed = exit_code in (-signal.SIGKILL, 128 + signal.SIGKILL)
    badges = ["STALL"] if stalled else []
    badges += flag_badges(flags)
    if killed:
        badges.append("OOM-KILL")
    elif failed:
        badges.append("CRASH")
    return tuple(badges)


@dataclass(frozen=True)
class MonitorEvent:
    """Something a person may want to be told about."""

    kind: EventKind
    """What happened."""
    message: str
    """One sentence for the person."""
    run: str | None = None
    """Which run (the caller's id)."""
    at: float = 0.0
    """Wall-clock time."""
    iteration: int | None = None
    """The last iteration seen."""

    def to_json(self) -> dict:
        """A plain dict for a webhook command's stdin."""
        return {
            "kind": self.kind,
            "message": self.message,
            "run": self.run,
            "at": self.at,
            "iteration": self.iteration,
        }


@dataclass(frozen=True)
class Health:
    """The watchdog's verdict at one poll."""

    state: State
    """Overall state."""
    stalled_for_s: float | None = None
    """Seconds without progress (while running)."""
    stall_threshold_s: float | None = None
    """When "stalled" starts, at the recent pace."""
    flags: tuple[str, ...] = field(default=())
    """Warnings to show: NaN/Inf loss, Unstable loss, low disk, host memory."""
    exit_message: str | None = None
    """How the run ended, in words."""


def describe_exit(code: int) -> str:
    """A person's reading of an exit code (negative: killed by that signal, as Popen reports)."""
    if code == 0:
        return "finished (exit 0)"
    sig = -code if code < 0 else (code - 128 if code > 128 else None)
    if sig == signal.SIGKILL:
        return (
            f"killed by SIGKILL (exit {code}): usually the kernel's out-of-memory killer because host RAM "
            "ran out; check the host memory warning and lower dataloader_train.num_workers or the batch size"
        )
    if sig is not None and sig > 0:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"killed by {name} (exit {code})"
    return f"failed with exit code {code}"


class Watchdog:
    """Keeps the memory needed to fire each event once."""

    def __init__(self, config: WatchdogConfig | None = None, *, run: str | None = None) -> None:
        self.config = config or WatchdogConfig()
        self.run = run
        self._stalled = False
        self._ended = False
        self._low_disk = False
        self._host_warned = False
        self._nonfinite_seen = 0
        self._unstable_seen = 0

    def _flags(
        self,
        event: Callable[[EventKind, str], None],
        progress: ProgressSnapshot,
        unstable_lines: tuple[str, ...],
        disk_free_bytes: int | None,
        host_warning: str | None,
        references: References | None,
    ) -> list[str]:
        """What is wrong beside the run's state (a NaN loss, 'Unstable loss' lines, low disk, host
        memory, the pace against the references); ``event`` is told of each the first time."""
        flags: list[str] = []
        if progress.nonfinite:
            flags.append(f"NaN/Inf loss at iteration {progress.last_nonfinite_iteration}")
            if progress.nonfinite > self._nonfinite_seen:
                event("unstable_loss", f"loss is NaN/Inf at iteration {progress.last_nonfinite_iteration}")
            self._nonfinite_seen = progress.nonfinite
        if unstable_lines:
            flags.append(f"{len(unstable_lines)} 'Unstable loss' line(s); last: {unstable_lines[-1]}")
            if len(unstable_lines) > self._unstable_seen:
                event("unstable_loss", unstable_lines[-1])
            self._unstable_seen = len(unstable_lines)
        if disk_free_bytes is not None and disk_free_bytes < self.config.low_disk_bytes:
            flags.append(f"low disk: {human_bytes(disk_free_bytes)} free")
            if not self._low_disk:
                event(
                    "low_disk",
                    f"only {human_bytes(disk_free_bytes)} free where the run writes checkpoints",
                )
            self._low_disk = True
        else:
            self._low_disk = False
        if host_warning:
            flags.append(host_warning)
            if not self._host_warned:
                event("host_memory", host_warning)
        self._host_warned = bool(host_warning)
        pace = pace_flag(progress, references, self.config)
        if pace:
            flags.append(pace)
        return flags

    def assess(
        self,
        *,
        now: float,
        wall: float,
        started_at: float,
        progress: ProgressSnapshot,
        last_progress_at: float | None,
        saving: bool,
        last_save_at: float | None = None,
        unstable_lines: tuple[str, ...] = (),
        exit_code: int | None = None,
        stopped: bool = False,
        disk_free_bytes: int | None = None,
        host_warning: str | None = None,
        references: References | None = None,
    ) -> tuple[Health, list[MonitorEvent]]:
        """Judge one poll. ``now``/``started_at``/``last_*_at`` are monotonic seconds, ``wall`` is
        wall-clock time for the events; ``unstable_lines`` are all such lines seen so far;
        ``references`` are the run's preset's measured expectations, if it has any."""
        cfg = self.config
        events: list[MonitorEvent] = []

        def event(kind: EventKind, message: str) -> None:
            events.append(MonitorEvent(kind, message, self.run, wall, progress.iteration))

        flags = self._flags(event, progress, unstable_lines, disk_free_bytes, host_warning, references)
        if exit_code is not None:
            message = describe_exit(exit_code)
            end: State = "stopped" if stopped else ("finished" if exit_code == 0 else "crashed")
            if stopped:
                message = "stopped on request" + ("" if exit_code == 0 else f"; torchrun {message}")
            if not self._ended:
                event(end, f"run {message}")  # type: ignore[arg-type]
            self._ended = True
            return Health(end, flags=tuple(flags), exit_message=message), events

        # Progress or a save in progress both count as activity.
        activity = max(x for x in (started_at, last_progress_at, last_save_at) if x is not None)
        idle = now - activity
        threshold: float | None = None
        if last_progress_at is None:
            threshold = cfg.startup_stall_s
        elif progress.expected_report_interval_s is not None:
            threshold = max(cfg.min_stall_s, cfg.stall_factor * progress.expected_report_interval_s)
        if saving:
            state: State = "saving"
        elif threshold is not None and idle > threshold:
            state = "stalled"
        else:
            state = "starting" if last_progress_at is None else "running"
        if state == "stalled" and not self._stalled:
            event("stalled", f"no progress for {idle:.0f} s (more than {threshold:.0f} s at the recent pace)")
        elif state != "stalled" and self._stalled:
            event("recovered", "progress resumed")
        self._stalled = state == "stalled"
        return Health(state, idle, threshold, tuple(flags)), events
