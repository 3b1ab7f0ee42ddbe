"""The queue as readers show it: waiting entries in start order, each with its position and what
it waits for (``queue list``, the TUI's Queue screen and runs list)."""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.dispatch import machine_now, reconcile
from cosmos_tui.core.queue.resources import fit, request_of, wait_reason
from cosmos_tui.core.queue.store import QueueEntry


@dataclass(frozen=True)
class QueueRow:
    """One entry with where it stands."""

    entry: QueueEntry
    position: int | None
    """1 for the next to start; ``None`` once it is no longer waiting."""
    wait: str
    """``ready``, ``queue paused``, ``waits for GPUs 0-3 (...)``, or empty once not waiting."""

    @property
    def needs(self) -> str:
        """``0-3`` / ``any:2`` / ``1 slot(s)``."""
        return self.entry.gpus or f"{self.entry.slots} slot(s)"


def queue_rows(*, include_done: bool = False, sampler: GpuSampler | None = None) -> list[QueueRow]:
    """Waiting entries in start order (then, with ``include_done``, the rest by last change);
    ``sampler``: the NVML sampler to ask (default: the process-wide one)."""
    entries = reconcile()
    waiting = store.in_order(entries)
    machine = machine_now(entries, sampler) if any(e.state == "queued" for e in waiting) else None
    paused = store.paused()
    rows = []
    for n, e in enumerate(waiting, start=1):
        why = ""
        if e.state == "starting":
            why = "starting now"
        elif paused:
            why = "queue paused"
        elif machine is not None:
            request = request_of(e, bool(machine.gpus))
            got = fit(request, list(machine.free_gpus), machine.free_slots, e.slots)
            why = "ready" if got is not None else wait_reason(request, machine, e.slots)
        rows.append(QueueRow(e, n, why))
    if include_done:
        done = sorted((e for e in entries if not e.waiting), key=lambda e: e.updated_at)
        rows += [QueueRow(e, None, "") for e in done]
    return rows
