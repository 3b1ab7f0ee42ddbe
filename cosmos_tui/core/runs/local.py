"""Runs on this machine: torchrun under a detached supervisor, followed by pid, stopped by signal.

The supervisor (:mod:`~cosmos_tui.core.runs.supervisor`) owns torchrun and records its outcome.
A record read while the supervisor is gone is reconciled against the processes (pid plus start
time): the recorded exit code, or ``lost`` with the last log lines. A multi-node job started by
hand on each node is this target too, one record per node (``launch_multinode.for_node``).

Stopping follows torchrun's contract: torchrun starts each rank in its own session, so a stop
signals the ranks (each finishes its step, saves and exits; torchrun then ends with their exit
code), waits longer than torchrun's own 30 s escalation, and only then SIGKILLs what is left of
the tree recorded for this run, each process checked by pid and start time so a reused pid is
never hit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from cosmos_tui.core import launch, launch_multinode, preflight
from cosmos_tui.core.engines.base import NodeRole
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.gpus import default_sampler
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.runs import ownership, procs, registry, sentinel, steps, targets
from cosmos_tui.core.runs.record import ProcRef, RunRecord
from cosmos_tui.core.runs.targets import Prepared, StopReport
from cosmos_tui.core.units import human_bytes

START_GRACE_S = 60.0
"""A record still ``created`` with no supervisor after this long is lost (the spawn failed)."""
RECORD_WAIT_S = 10.0
"""How long to wait for the supervisor to record the outcome once the processes are gone."""


def _gone_reason(record: RunRecord) -> str:
    who = []
    if record.supervisor:
        who.append(f"the supervisor (pid {record.supervisor.pid})")
    if record.agent:
        who.append(f"torchrun (pid {record.agent.pid})")
    subject = " and ".join(who) or "the supervisor"
    text = f"{subject} ended without recording an exit code (killed, or the machine restarted)"
    tail = last_lines(record.console_log, 5)
    if tail:
        text += "; last log lines:\n" + "\n".join(tail)
    else:
        text += "; console.log is empty"
    return text


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


def submit_local(record: RunRecord, prepared: Prepared) -> RunRecord:
    """Spawn the run's supervisor in its own session; it starts torchrun and records the end."""
    env = {**os.environ, **prepared.spec.env, "PYTHONUNBUFFERED": "1"}
    with open(record.supervisor_log, "ab") as log:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "cosmos_tui.core.runs.supervisor", str(record.run_dir)],
                cwd=prepared.spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            why = f"could not start the supervisor: {e}"
            ownership.settle(record.run_dir, lambda r: r.replace(status="failed", reason=why))
            raise UserError(f"{why}; check that {sys.executable} still exists") from None
    ref = procs.ref_of(child.pid, "supervisor")

    def started(r: RunRecord) -> RunRecord:
        if r.supervisor is None and ref is not None:
            r = r.replace(supervisor=ref)
        return r.replace(status="starting") if r.status == "created" else r

    return registry.update(record.run_dir, started)


def reconcile_local(record: RunRecord) -> RunRecord:
    """An active local record checked against its processes: still running, orphaned ranks
    (said in the reason), or ended without a recorded outcome (``lost``)."""
    if not record.active:
        return record
    if procs.alive(record.supervisor):
        return record
    if record.supervisor is None and registry.age(record) < START_GRACE_S:
        return record  # being started right now
    survivors = [p for p in (record.agent, *record.procs) if p is not None and procs.alive(p)]
    if survivors:
        note = (
            f"the supervisor is gone but {len(survivors)} process(es) of the run still run "
            f"(pids {', '.join(str(p.pid) for p in survivors[:8])}); its exit code cannot be recorded, "
            "`cosmos-tui runs stop` ends them"
        )

        def orphaned(r: RunRecord) -> RunRecord:
            return r.replace(reason=note) if r.active and not procs.alive(r.supervisor) else r

        return registry.update(record.run_dir, orphaned)

    def lost(r: RunRecord) -> RunRecord:
        # Re-checked under the lock: the supervisor may have just written the outcome.
        if not r.active or procs.alive(r.supervisor):
            return r
        if r.supervisor is None and registry.age(r) < START_GRACE_S:
            return r
        why = _gone_reason(r)
        return r.replace(
            status="lost", reason=why, ended_at=time.time(), steps=steps.settle_active(r.steps, "lost", why)
        )

    return ownership.settle(record.run_dir, lost)


def stop_local(record: RunRecord, timeout: float) -> StopReport:
    """Signal the ranks (they save and exit), SIGKILL what is left of the run's tree after
    ``timeout``, and wait for the supervisor to record the outcome."""
    record = registry.update(
        record.run_dir, lambda r: r.replace(stop_requested=True, status="stopping") if r.active else r
    )
    tree = _tree(record)
    gpu_before = _gpu_memory({r.pid for r in tree})
    if procs.alive(record.agent):
        asked = sentinel.request_stop(record)  # an engine that saves on a file, not on SIGTERM
        if asked is not None:
            record = registry.update(
                record.run_dir, lambda r: r.replace(notes=(*r.notes, f"stop asked through {asked}"))
            )
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
            return r.replace(
                status="stopped",
                reason=reason,
                ended_at=time.time(),
                steps=steps.settle_active(r.steps, "stopped", reason),
            )

        current = ownership.settle(record.run_dir, mark)
        current = reconcile_local(current)
    gpu_after = _gpu_memory({r.pid for r in tree})
    if gpu_before is None:
        gpu_note = "GPU memory: not measurable here (no NVIDIA driver / NVML)"
    elif gpu_before == 0:
        gpu_note = "GPU memory: the run held none"
    else:
        gpu_note = f"GPU memory: {human_bytes(gpu_before)} held before, {human_bytes(gpu_after or 0)} after"
    return StopReport(current, tuple(signalled), killed, gpu_note)


class LocalTarget:
    """torchrun on this machine (``launch.target = "local"``)."""

    name = "local"

    def prepare(self, preset: Preset, *, dryrun: bool, environ: dict[str, str] | None) -> Prepared:
        preset = launch_multinode.for_node(preset)
        spec = launch.render(preset, environ, NodeRole(standalone=True))
        job = launch.resolve_job_dir(preset, environ, dryrun=dryrun)
        checks = preflight.check_dryrun(preset, job.source, job.note)
        checks += preflight.run_checks(preset, spec, job.path)  # includes the engine's warnings
        return Prepared(preset, spec, job.path, job.source, tuple(checks), (), config=job.config)

    def submit(self, record: RunRecord, prepared: Prepared) -> RunRecord:
        return submit_local(record, prepared)

    def reconcile(self, record: RunRecord) -> RunRecord:
        return reconcile_local(record)

    def stop(self, record: RunRecord, timeout: float) -> StopReport:
        return stop_local(record, timeout)

    def prefetch(self, records: Sequence[RunRecord]) -> None:
        """Nothing to ask in advance: each record's processes are looked up when reconciled."""


LOCAL = targets.register(LocalTarget())
