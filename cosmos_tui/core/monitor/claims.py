"""Which processes and devices each live run holds, from its run record, for the GPU sampler.

A record names the supervisor, the torchrun agent and the descendants seen while running; the
ranks that hold GPU memory are the agent's children. The claim is the live tree under those
roots (so a rank started after the record was written still counts) plus the devices the run was
given through ``CUDA_VISIBLE_DEVICES``, which the sampler falls back to inside containers where
NVML reports host pids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cosmos_tui.core.monitor.gpus import GpuClaim


def record_roots(record: Any) -> tuple[int, ...]:
    """The pids to watch for a run record: the agent (else the supervisor) and the recorded
    descendants; empty once the run has ended."""
    if not record.active:
        return ()
    head = record.agent or record.supervisor
    refs = ([head] if head is not None else []) + list(record.procs)
    return tuple(dict.fromkeys(r.pid for r in refs))


def assigned_devices(record: Any) -> frozenset[int] | None:
    """Device indices from the run's ``CUDA_VISIBLE_DEVICES`` (``None`` when unset or given as
    UUIDs, which the sampler cannot map without NVML)."""
    value = (record.env or {}).get("CUDA_VISIBLE_DEVICES")
    if not value:
        return None
    try:
        return frozenset(int(x) for x in value.split(",") if x.strip() and x.strip() != "-1")
    except ValueError:
        return None


def tree_pids(roots: Iterable[int]) -> frozenset[int]:
    """The live processes under ``roots``, roots included."""
    import psutil  # deferred: psutil, only when processes are polled

    pids: set[int] = set()
    for root in roots:
        try:
            proc = psutil.Process(root)
            pids.add(root)
            pids.update(c.pid for c in proc.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return frozenset(pids)


def claims_for(records: Iterable[Any]) -> dict[str, GpuClaim]:
    """``{run id: claim}`` for every live run among ``records`` (run records of ``core.runs``)."""
    claims = {}
    for record in records:
        roots = record_roots(record)
        if roots:
            claims[record.id] = GpuClaim(pids=tree_pids(roots), devices=assigned_devices(record))
    return claims
