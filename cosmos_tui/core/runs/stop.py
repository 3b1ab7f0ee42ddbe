"""Stopping a run the way torchrun expects, and only ever signalling the run's own processes.

torchrun starts each rank in its own session, so a stop signals the torchrun agent (which
forwards SIGTERM to the ranks; the engine finishes its step, saves and exits), waits longer than
torchrun's own 30 s escalation, and only then SIGKILLs what is left of the tree recorded for this
run, each process checked by pid and start time so a reused pid is never hit.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.gpus import default_sampler
from cosmos_tui.core.runs import ownership, procs, registry
from cosmos_tui.core.runs.lifecycle import get_run, reconcile
from cosmos_tui.core.runs.record import ProcRef, RunRecord

STOP_TIMEOUT_S = 45.0
"""How long to wait after SIGTERM before SIGKILL (torchrun itself escalates after 30 s)."""
RECORD_WAIT_S = 10.0
"""How long to wait for the supervisor to record the outcome once the processes are gone."""


@dataclass(frozen=True)
class StopReport:
    """What ``stop`` did."""

    record: RunRecord
    """The run's record afterwards."""
    signalled: tuple[ProcRef, ...]
    """Processes sent SIGTERM."""
    killed: tuple[ProcRef, ...]
    """Processes still alive after the wait and sent SIGKILL (empty: a clean stop)."""
    gpu_note: str
    """GPU memory held by the run before and after, or why it could not be measured."""
    actions: tuple[str, ...] = ()
    """What was asked of a scheduler (Slurm runs: the ``scancel`` calls), in order."""
    forced: bool = False
    """The scheduler had to end the job without waiting for it (Slurm: a plain ``scancel``)."""

    @property
    def graceful(self) -> bool:
        """Everything exited on SIGTERM."""
        return not self.killed and not self.forced


def _gpu_memory(pids: set[int]) -> int | None:
    """Bytes of GPU memory used by ``pids`` (``None`` when NVML is unavailable)."""
    return default_sampler().memory_of(pids)


def _tree(record: RunRecord) -> list[ProcRef]:
    """The run's processes alive now: the agent, its descendants, and the recorded tree."""
    found: dict[int, ProcRef] = {}
    for ref in (record.agent, *procs.descendants(record.agent), *record.procs):
        if ref is not None and ref.pid not in found and procs.alive(ref):
            found[ref.pid] = ref
    return list(found.values())


def _wait(refs: list[ProcRef], deadline: float, poll: float = 0.2) -> list[ProcRef]:
    while True:
        alive = [r for r in refs if procs.alive(r)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(poll)


def _wait_for_stop(
    record: RunRecord, watch: list[ProcRef], signalled: list[ProcRef], deadline: float, poll: float = 0.2
) -> list[ProcRef]:
    """Wait for the run's processes to end. A torchrun with ``--max_restarts`` may answer ranks
    that exited on our SIGTERM by starting new ones: those are never left to train on, torchrun
    itself then gets the SIGTERM (and stops its new ranks)."""
    agent_told = any(r.role == "agent" for r in signalled)
    seen = {r.pid for r in watch}
    while True:
        if not agent_told and record.agent is not None and procs.alive(record.agent):
            fresh = [r for r in procs.ranks_of(record.agent) if r.pid not in seen]
            if fresh:
                procs.signal_if_same(record.agent, signal.SIGTERM)
                agent_told = True
                watch = [*watch, *fresh]
                seen.update(r.pid for r in fresh)
        alive = [r for r in watch if procs.alive(r)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(poll)


def stop_run(run_id: str, timeout: float = STOP_TIMEOUT_S) -> StopReport:
    """Stop a run gracefully; SIGKILL the leftovers of its recorded tree after ``timeout``."""
    record = get_run(run_id)
    if not record.active:
        raise UserError(f"run {record.id} is not running (it is {record.status}); nothing to stop")
    if record.target == "slurm":
        from cosmos_tui.core.slurm.jobs import stop_slurm_run

        return stop_slurm_run(record, timeout)
    record = registry.update(
        record.run_dir, lambda r: r.replace(stop_requested=True, status="stopping") if r.active else r
    )
    tree = _tree(record)
    gpu_before = _gpu_memory({r.pid for r in tree})
    signalled: list[ProcRef] = procs.terminate_ranks(record.agent)
    if signalled:
        pass  # the ranks save and exit; torchrun then ends with their exit code (no SignalException)
    elif record.agent is not None and procs.signal_if_same(record.agent, signal.SIGTERM):
        signalled.append(record.agent)
    elif record.supervisor is not None and procs.signal_if_same(record.supervisor, signal.SIGTERM):
        signalled.append(record.supervisor)  # torchrun not started yet: the supervisor passes it on
    else:
        # Supervisor and agent are gone: the orphaned ranks get SIGTERM themselves (they save and exit).
        signalled += [r for r in tree if procs.signal_if_same(r, signal.SIGTERM)]
    deadline = time.monotonic() + timeout
    watch = [*tree, *(r for r in signalled if r not in tree)]
    survivors = _wait_for_stop(record, watch, signalled, deadline)
    killed = tuple(r for r in survivors if procs.signal_if_same(r, signal.SIGKILL))
    if killed:
        _wait(list(killed), time.monotonic() + 5.0)
    # The supervisor records the outcome when torchrun exits; give it a moment.
    end = time.monotonic() + RECORD_WAIT_S
    current = registry.read(record.run_dir)
    while current.active and procs.alive(current.supervisor) and time.monotonic() < end:
        time.sleep(0.1)
        current = registry.read(record.run_dir)
    if current.active:
        reason = "stopped by `cosmos-tui runs stop`; no supervisor was left to record an exit code"
        if killed:
            reason += f" (SIGKILLed {len(killed)} process(es) that ignored SIGTERM)"

        def mark(r: RunRecord) -> RunRecord:
            if not r.active or procs.alive(r.supervisor):
                return r
            return r.replace(status="stopped", reason=reason, ended_at=time.time())

        current = ownership.settle(record.run_dir, mark)
        current = reconcile(current)
    gpu_after = _gpu_memory({r.pid for r in tree})
    if gpu_before is None:
        gpu_note = "GPU memory: not measurable here (no NVIDIA driver / NVML)"
    elif gpu_before == 0:
        gpu_note = "GPU memory: the run held none"
    else:
        before, after = gpu_before / 2**20, (gpu_after or 0) / 2**20
        gpu_note = f"GPU memory: {before:.0f} MiB held before, {after:.0f} MiB after"
    return StopReport(current, tuple(signalled), killed, gpu_note)
