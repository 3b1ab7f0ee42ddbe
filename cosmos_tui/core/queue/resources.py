"""What the machine has free for a queued run: GPUs (where NVML sees some) or slots.

A GPU is held while one of our active runs was given it (a queued run: the GPUs its entry was
assigned; any other run: its ``CUDA_VISIBLE_DEVICES``, else GPUs ``0..nproc_per_node-1``, where
torchrun's local ranks land) or an entry is being started on it. Where NVML is present, a GPU on
which processes that are not ours hold more than ``[queue] foreign_memory_fraction`` of its memory
counts as busy too (what others hold: the processes NVML lists that are not ours, or, where it
lists none, as in many containers, the device's used memory less our processes'). Without GPUs
the unit is slots: ``[queue] slots`` in ``config.toml`` (default 1); a queued run takes its
entry's ``slots``, any other active run of ours takes 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.core.queue.gpuset import GpuRequest, parse_gpus
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.core.runs.record import RunRecord


@dataclass(frozen=True)
class Machine:
    """What the machine is and what is taken, at one moment."""

    gpus: tuple[int, ...]
    """Indices of the GPUs NVML sees (empty: a machine without GPUs: slots apply)."""
    slots: int
    """Slots of a machine without GPUs."""
    held_gpus: frozenset[int]
    """GPUs our runs (or entries being started) hold."""
    foreign_gpus: frozenset[int]
    """GPUs other programs use beyond the threshold."""
    held_slots: int
    """Slots our runs hold."""

    @property
    def free_gpus(self) -> tuple[int, ...]:
        """GPUs nothing holds."""
        return tuple(g for g in self.gpus if g not in self.held_gpus and g not in self.foreign_gpus)

    @property
    def free_slots(self) -> int:
        """Slots nothing holds."""
        return max(0, self.slots - self.held_slots)


def request_of(entry: QueueEntry, has_gpus: bool) -> GpuRequest | None:
    """The entry's GPU request (``None``: it takes slots)."""
    nproc = int(entry.preset.get("launch", {}).get("nproc_per_node", 1) or 1)
    if entry.gpus:
        return parse_gpus(entry.gpus, nproc)
    return GpuRequest(None, nproc) if has_gpus else None


def _run_gpus(record: RunRecord, entries: dict[str, QueueEntry]) -> set[int]:
    entry = entries.get(record.queue_entry or "")
    if entry is not None and entry.assigned is not None:
        return set(entry.assigned)
    visible = record.env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return {int(x) for x in visible.split(",") if x.strip().isdigit()}
    launch = record.preset.get("launch", {}) if isinstance(record.preset, dict) else {}
    return set(range(int(launch.get("nproc_per_node", 1) or 1)))


def _our_pids(runs: Iterable[RunRecord]) -> set[int]:
    pids: set[int] = set()
    for r in runs:
        for ref in (r.supervisor, r.agent, *r.procs):
            if ref is not None:
                pids.add(ref.pid)
    return pids


def survey(
    runs: list[RunRecord],
    entries: list[QueueEntry],
    *,
    slots: int,
    foreign_fraction: float,
    sampler: GpuSampler | None,
) -> Machine:
    """The machine now: ``runs`` (reconciled records), ``entries`` (all of them)."""
    active = [r for r in runs if r.active and r.target == "local"]
    by_id = {e.id: e for e in entries}
    gpus: tuple[int, ...] = ()
    foreign: set[int] = set()
    if sampler is not None:
        snap = sampler.poll()
        if snap.available:
            gpus = tuple(d.index for d in snap.devices if d.error is None)
            ours = _our_pids(active)
            for d in snap.devices:
                total = d.mem_total_bytes or 0
                listed = sum(p.used_memory_bytes or 0 for p in d.processes if p.pid not in ours)
                mine = sum(p.used_memory_bytes or 0 for p in d.processes if p.pid in ours)
                # In a container NVML often lists no process (other pid namespace): the device's
                # used memory, less what our runs' processes hold, then tells what others use.
                used = max(listed, (d.mem_used_bytes or 0) - mine)
                if total and used > foreign_fraction * total:
                    foreign.add(d.index)
    held: set[int] = set()
    held_slots = 0
    for r in active:
        entry = by_id.get(r.queue_entry or "")
        held_slots += entry.slots if entry is not None else 1
        if gpus:
            held |= _run_gpus(r, by_id)
    starting = [
        e for e in entries if e.state == "starting" and not any(r.queue_entry == e.id for r in active)
    ]
    for e in starting:
        held_slots += e.slots
        held |= set(e.assigned or ())
    return Machine(gpus, slots, frozenset(held), frozenset(foreign), held_slots)


def fit(
    request: GpuRequest | None, free_gpus: list[int], free_slots: int, want_slots: int
) -> tuple[int, ...] | None:
    """The GPUs to give a request from ``free_gpus`` (``()`` for a slots request that fits), or
    ``None`` when it does not fit now."""
    if request is None:
        return () if want_slots <= free_slots else None
    if request.devices is not None:
        return request.devices if set(request.devices) <= set(free_gpus) else None
    return tuple(free_gpus[: request.count]) if len(free_gpus) >= request.count else None


def wait_reason(request: GpuRequest | None, machine: Machine, want_slots: int) -> str:
    """Why an entry waits, in a few words (for ``queue list`` and the runs list)."""
    if request is None:
        return f"waits for {want_slots} of {machine.slots} slot(s) ({machine.free_slots} free)"
    if request.devices is not None:
        busy = [g for g in request.devices if g in machine.held_gpus]
        foreign = [g for g in request.devices if g in machine.foreign_gpus]
        missing = [g for g in request.devices if g not in machine.gpus]
        parts = []
        if missing:
            parts.append(f"GPU {','.join(map(str, missing))} not on this machine")
        if busy:
            parts.append(f"GPU {','.join(map(str, busy))} held by our runs")
        if foreign:
            parts.append(f"GPU {','.join(map(str, foreign))} used by other programs")
        return f"waits for GPUs {request.text()}" + (f" ({'; '.join(parts)})" if parts else "")
    return f"waits for {request.count} free GPU(s) ({len(machine.free_gpus)} free)"
