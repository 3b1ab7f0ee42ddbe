"""A run's processes via psutil: CPU and host RSS of the whole tree, and host memory pressure.

Host RAM exhaustion ends upstream runs with a silent ``exitcode: -9`` (cosmos-predict2.5 #72,
#132), so the snapshot carries a warning before that happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from cosmos_tui.core.units import human_bytes

#: Warn when less than this fraction of host memory is available...
LOW_MEMORY_FRACTION = 0.10
#: ...or less than this many bytes, whichever is larger.
LOW_MEMORY_BYTES = 4 << 30


@dataclass(frozen=True)
class HostMemory:
    """Host memory as the kernel reports it."""

    total_bytes: int
    """Physical memory."""
    available_bytes: int
    """Memory available to new allocations without swapping."""
    warning: str | None
    """Set when memory is nearly exhausted."""


@dataclass(frozen=True)
class ProcTreeSnapshot:
    """The process trees under some root pids, summed."""

    roots: tuple[int, ...]
    """The pids asked about."""
    pids: tuple[int, ...]
    """Every live process of the trees (roots included), sorted."""
    alive: bool
    """Whether any root is still running."""
    cpu_percent: float
    """CPU use of the trees since the previous poll, in % of one core (can exceed 100)."""
    rss_bytes: int
    """Resident memory of the trees (sum of RSS; shared pages counted once per process)."""
    host: HostMemory
    """Host memory and its warning."""


def host_memory(
    *, low_fraction: float = LOW_MEMORY_FRACTION, low_bytes: int = LOW_MEMORY_BYTES
) -> HostMemory:
    """Read host memory and decide whether to warn."""
    import psutil  # deferred: psutil, only when processes are polled

    vm = psutil.virtual_memory()
    threshold = max(int(vm.total * low_fraction), min(low_bytes, vm.total // 4))
    warning = None
    if vm.available < threshold:
        warning = (
            f"host memory nearly exhausted: {human_bytes(vm.available)} of {human_bytes(vm.total)} "
            "available; the kernel may kill the run with signal 9 (exit -9) - lower "
            "dataloader_train.num_workers or the batch size"
        )
    return HostMemory(vm.total, vm.available, warning)


class ProcSampler:
    """Samples the trees under ``roots`` each poll; CPU % comes from cpu-time deltas between polls,
    keyed by (pid, create_time) so a reused pid is never mistaken for the old process."""

    def __init__(self, roots: Iterable[int], *, clock=time.monotonic) -> None:
        self.roots = tuple(roots)
        self._clock = clock
        self._cpu: dict[tuple[int, float], float] = {}
        self._last_at: float | None = None

    def poll(self) -> ProcTreeSnapshot:
        """One sample of the trees."""
        import psutil  # deferred: psutil, only when processes are polled

        now = self._clock()
        seen: dict[tuple[int, float], psutil.Process] = {}
        alive = False
        for root in self.roots:
            try:
                proc = psutil.Process(root)
                family = [proc, *proc.children(recursive=True)]
                alive = alive or (proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            for p in family:
                try:
                    seen[(p.pid, p.create_time())] = p
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
        cpu_now: dict[tuple[int, float], float] = {}
        rss = 0
        delta = 0.0
        for key, p in seen.items():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    mem = p.memory_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            total = t.user + t.system
            cpu_now[key] = total
            rss += mem.rss
            if key in self._cpu:
                delta += max(0.0, total - self._cpu[key])
        elapsed = (now - self._last_at) if self._last_at is not None else None
        self._cpu, self._last_at = cpu_now, now
        cpu_percent = 100.0 * delta / elapsed if elapsed else 0.0
        return ProcTreeSnapshot(
            roots=self.roots,
            pids=tuple(sorted(pid for pid, _ in cpu_now)),
            alive=alive,
            cpu_percent=cpu_percent,
            rss_bytes=rss,
            host=host_memory(),
        )
