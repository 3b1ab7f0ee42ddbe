"""Runs on Slurm: submit a prepared run with sbatch, keep its record true to Slurm, stop it.

A Slurm run has the same record as a local one (``run.json``, ``console.log``), with
``target = "slurm"`` and the Slurm job id. The sbatch script lives in the run folder and sends the
job's output to the run's ``console.log``, so ``runs logs -f``, the monitor and the TUI read it as
they read a local run. No supervisor is involved: :func:`reconcile_slurm` asks Slurm for the job's
state whenever a record is read, and :func:`stop_slurm_run` asks Slurm to signal the job.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from cosmos_tui.core import launch, preflight, shell
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.logline import AGENT_SIGTERMED_RE
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.runs import outcome, ownership, registry, sentinel, targets
from cosmos_tui.core.runs.record import RunRecord
from cosmos_tui.core.runs.targets import Prepared, StopReport
from cosmos_tui.core.safeio import POINTER_CAP, read_text_capped
from cosmos_tui.core.slurm import client
from cosmos_tui.core.slurm.script import NEXT_JOB_FILE, STOP_FILE, render_sbatch, signal_lead

SCRIPT_FILE = "job.sbatch"
"""The submitted script, in the run folder."""
EXIT_FILE = "slurm_exit_code"
"""srun's exit status, written by the script as its last act (for clusters without accounting)."""
SUBMIT_GRACE_S = 60.0
"""A Slurm record with no job id after this long is lost (the submission died)."""
STOP_POLL_S = 0.5


def prepare_slurm(preset: Preset, *, dryrun: bool = True, environ: dict[str, str] | None = None) -> Prepared:
    """:class:`~cosmos_tui.core.runs.lifecycle.Prepared` for a Slurm submission: the per-node
    command (its folder, environment and job folder as on one node), the preflight checks that
    make sense on a login node, a check that sbatch is here, and the engine's warnings."""
    node = preset.model_copy(deep=True)
    node.launch.nnodes, node.launch.node_rank = 1, None
    node.launch.rdzv_endpoint, node.launch.master_port = None, None
    spec = launch.render(node, environ)
    job = launch.resolve_job_dir(node, environ, dryrun=dryrun)
    script = render_sbatch(preset)
    # Checks of one node's share; the engine's warnings come from the whole job's world size below.
    skip = ("port", "gpus", "engine")
    checks = preflight.check_dryrun(node, job.source, job.note)
    checks += [c for c in preflight.run_checks(node, spec, job.path) if c.name not in skip]
    missing = client.available()
    checks.append(
        preflight.Check("slurm", "fail", missing)
        if missing
        else preflight.Check(
            "slurm",
            "ok",
            f"sbatch found; {script.nodes} node(s), "
            + (f"{script.gpus_per_node} GPU(s) per node" if script.gpus_per_node else "no GPU request"),
        )
    )
    checks += [preflight.Check("engine", "warn", w) for w in script.warnings]
    notes: tuple[str, ...] = ()  # a failed dry run is a preflight warning (check_dryrun)
    return Prepared(
        preset, spec, job.path, job.source, tuple(checks), notes, sbatch=script.text, config=job.config
    )


def submit_run(record: RunRecord, preset: Preset) -> RunRecord:
    """Write the run's sbatch script (output to its console.log), submit it, record the job id.
    A refused submission marks the record failed and raises :class:`UserError`."""
    script_path = record.run_dir / SCRIPT_FILE
    script = render_sbatch(
        preset,
        output=str(record.console_log),
        exit_file=record.run_dir / EXIT_FILE,
        source=record.preset_path,
        run_dir=record.run_dir,
    )
    script_path.write_text(script.text, encoding="utf-8")
    script_path.chmod(0o755)
    argv = ("sbatch", "--parsable", str(script_path))

    def submitting(r: RunRecord) -> RunRecord:
        return r.replace(
            argv=argv,
            exec_argv=argv,
            shell=shell.join(argv) + "\n# each node runs:\n" + script.srun,
            slurm_script=str(script_path),
            status="starting",
        )

    registry.update(record.run_dir, submitting)
    try:
        job_id = client.submit(script_path, cwd=Path(record.cwd or "."))
    except UserError as e:
        why = e.message
        registry.update(
            record.run_dir, lambda r: r.replace(status="failed", reason=why, ended_at=time.time())
        )
        raise
    return registry.update(
        record.run_dir,
        lambda r: r.replace(slurm_job_id=job_id, job_id=job_id, slurm_state="PENDING"),
    )


def _exit_file_code(record: RunRecord) -> int | None:
    try:
        text = read_text_capped(record.run_dir / EXIT_FILE, POINTER_CAP, what="exit code file").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.lstrip("-").isdigit() else None


_JOB_ID = re.compile(r"\d{1,20}(?:_\d{1,20})?")


def next_segment(record: RunRecord) -> str | None:
    """The job id of the dependent segment the run's script submitted after an emergency save
    (``None``: none, or one the record already follows)."""
    try:
        text = read_text_capped(record.run_dir / NEXT_JOB_FILE, POINTER_CAP, what="next segment file").strip()
    except (OSError, UnicodeDecodeError, UserError):
        return None
    if not _JOB_ID.fullmatch(text) or text == record.slurm_job_id or text in record.slurm_segments:
        return None
    return text


def follow_segment(record: RunRecord, job_id: str) -> RunRecord:
    """The record moved on to its next segment (pure): the ended job joins ``slurm_segments``."""
    old = record.slurm_job_id or "?"
    saved = " after an emergency checkpoint" if sentinel.saved(record, old) else ""
    n = len(record.slurm_segments) + 2
    why = (
        f"segment {n}: Slurm job {old} was signalled (time limit or preemption) and saved{saved}; "
        f"job {job_id} continues from latest_checkpoint.txt"
    )
    return record.replace(
        slurm_segments=(*record.slurm_segments, old),
        slurm_job_id=job_id,
        job_id=job_id,
        slurm_state="PENDING",
        status="starting",
        reason=why,
        notes=(*record.notes, why),
    )


def _ended_reason(record: RunRecord, state: client.JobState, code: int | None) -> str:
    said = _ended_reason_plain(record, state, code)
    protocol = sentinel.of(record)
    if protocol is not None and sentinel.saved(record, state.job_id or record.slurm_job_id):
        said += f"; the engine saved an emergency checkpoint on the signal ({protocol.saved})"
    return said


def _ended_reason_plain(record: RunRecord, state: client.JobState, code: int | None) -> str:
    job = f"Slurm job {state.job_id} {state.state}"
    tail = last_lines(record.console_log, 400, max_bytes=256 << 10)
    if record.stop_requested:
        last = record.checkpoints[-1] if record.checkpoints else None
        said = outcome.describe_stop(code if code is not None else 1, tail, record.last_iteration, last)
        return f"{said} ({job})"
    if state.state == "COMPLETED":
        return f"{job}: torchrun exited 0 on every node"
    if state.state == "CANCELLED":
        return f"{job}: cancelled outside cosmos-tui (scancel), so no checkpoint was asked for"
    if state.state == "TIMEOUT":
        time_text = record.launched.launch.slurm.time if record.launched else None
        lead = signal_lead(time_text)
        return (
            f"{job}: it hit its time limit ({time_text or 'the partition default'}); the engine was "
            f"signalled {lead} s before to save; continue with `cosmos-tui runs resume {record.id}`"
        )
    if state.state == "NODE_FAIL":
        nodes = state.nodes or "unknown nodes"
        return f"{job}: a node failed ({nodes}); `runs resume` continues from the last checkpoint"
    if state.state == "OUT_OF_MEMORY":
        return f"{job}: a node ran out of host memory; lower the batch size or dataloader workers"
    if state.state == "PREEMPTED":
        return f"{job}: preempted by a higher-priority job; `runs resume` continues from the last checkpoint"
    if AGENT_SIGTERMED_RE.search("\n".join(tail)):
        return (
            f"{job}: its tasks were sent SIGTERM (Slurm's --signal before the time limit, or "
            f"`scancel --signal=TERM`), so the engine saved and stopped; continue with "
            f"`cosmos-tui runs resume {record.id}`"
        )
    if code is not None:
        return f"{job}: " + outcome.describe_exit(code, tail)
    return f"{job}" + (f" ({state.reason})" if state.reason else "") + "; see console.log"


def apply_state(record: RunRecord, state: client.JobState) -> RunRecord:
    """The record as Slurm's ``state`` says it is now (pure: nothing is written)."""
    changes: dict[str, object] = {"slurm_state": state.state}
    if state.pending:
        changes["status"] = "stopping" if record.stop_requested else "starting"
        changes["reason"] = f"pending in Slurm ({state.reason or 'waiting'})"
    elif not state.ended:
        changes["status"] = "stopping" if record.stop_requested else "running"
        changes["reason"] = None
        changes["started_at"] = record.started_at or state.start or time.time()
    else:
        code = state.exit_code if state.exit_code is not None else _exit_file_code(record)
        if record.stop_requested:
            status = "stopped"
        elif state.state == "COMPLETED":
            status = "finished"
        elif state.state == "CANCELLED":
            status = "stopped"
        else:
            status = "failed"
        record = record.replace(**ownership.end_fields(record))
        changes.update(
            status=status,
            exit_code=code,
            reason=_ended_reason(record, state, code),
            started_at=record.started_at or state.start,
            ended_at=state.end or time.time(),
        )
    return record.replace(**changes)


def reconcile_slurm(record: RunRecord) -> RunRecord:
    """Bring an active Slurm record in line with Slurm (cheap for ended runs). When Slurm cannot
    be asked from here, the record is returned as it is."""
    if not record.active:
        return record
    if not record.slurm_job_id:
        if registry.age(record) < SUBMIT_GRACE_S:
            return record

        def lost_submit(r: RunRecord) -> RunRecord:
            if not r.active or r.slurm_job_id:
                return r
            why = "the submission ended before sbatch returned a job id (killed?); nothing was queued"
            return r.replace(status="lost", reason=why, ended_at=time.time())

        return ownership.settle(record.run_dir, lost_submit)
    try:
        state = client.query(record.slurm_job_id)
    except client.SlurmError:
        return record
    if state is None:
        code = _exit_file_code(record)

        def forgotten(r: RunRecord) -> RunRecord:
            if not r.active:
                return r
            if code is not None:
                gone = client.JobState(r.slurm_job_id or "", "COMPLETED" if code == 0 else "FAILED", code)
                return apply_state(r, gone)
            tail = "\n".join(last_lines(r.console_log, 5))
            why = (
                f"Slurm no longer knows job {r.slurm_job_id} (it ended long ago and the cluster keeps "
                "no accounting) and it left no exit code"
            ) + (f"; last log lines:\n{tail}" if tail else "")
            return r.replace(status="lost", reason=why, ended_at=time.time())

        return ownership.settle(record.run_dir, forgotten)
    if state.ended and not record.stop_requested:
        following = next_segment(record)
        if following is not None:
            moved = registry.update(
                record.run_dir,
                lambda r: follow_segment(r, following) if r.active and not r.stop_requested else r,
            )
            return reconcile_slurm(moved) if moved.slurm_job_id == following else moved
    return ownership.settle(record.run_dir, lambda r: apply_state(r, state) if r.active else r)


def stop_slurm_run(record: RunRecord, timeout: float) -> StopReport:
    """Stop a Slurm run: a pending job is cancelled; a running one first gets
    ``scancel --signal=TERM`` (each node's torchrun passes SIGTERM to its ranks, which save and
    exit), and only after ``timeout`` seconds a plain ``scancel``. Returns a StopReport."""
    if not record.slurm_job_id:
        raise UserError(f"run {record.id} has no Slurm job id yet; wait a moment and try again")
    job = record.slurm_job_id
    record = registry.update(
        record.run_dir, lambda r: r.replace(stop_requested=True, status="stopping") if r.active else r
    )
    state = client.query(job)
    actions: list[str] = []
    forced = False
    if state is not None and not state.ended:
        if state.pending:
            client.cancel(job)
            actions.append(f"scancel {job} (it had not started, so there was nothing to save)")
        elif sentinel.of(record) is not None and _ask_sentinel(record):
            actions.append(
                f"created {sentinel.folder(record)}/{sentinel.of(record).request}: "  # type: ignore[union-attr]
                "the engine saves at its next step end and exits"
            )
        else:
            client.cancel(job, "TERM")
            actions.append(f"scancel --signal=TERM {job}: each node's torchrun has its ranks save and exit")
        deadline = time.monotonic() + timeout
        while state is not None and not state.ended and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)
            state = client.query(job)
        if state is not None and not state.ended:
            client.cancel(job)
            forced = True
            actions.append(f"scancel {job} after {timeout:.0f} s without an exit")
            end = time.monotonic() + 30.0
            while state is not None and not state.ended and time.monotonic() < end:
                time.sleep(STOP_POLL_S)
                state = client.query(job)
    following = next_segment(record)
    if following is not None:  # a segment submitted as the stop arrived never runs
        client.cancel(following)
        actions.append(f"scancel {following} (the next segment, submitted as the stop arrived)")
    final = reconcile_slurm(registry.read(record.run_dir))
    note = "GPU memory: held on the Slurm nodes, not measured from here"
    return StopReport(final, (), (), note, actions=tuple(actions), forced=forced)


def _ask_sentinel(record: RunRecord) -> bool:
    """Ask a sentinel engine to save and stop: the stop marker first (so the script chains no
    next segment), then the request file; ``False`` when the segment's folder is not there."""
    where = sentinel.folder(record)
    if where.is_symlink() or not where.is_dir():
        return False
    try:
        (where / STOP_FILE).touch()
    except OSError:
        return False
    return sentinel.request_stop(record) is not None


class SlurmTarget:
    """An sbatch job (``launch.target = "slurm"``): no supervisor; Slurm is asked for the state."""

    name = "slurm"

    def prepare(self, preset: Preset, *, dryrun: bool, environ: dict[str, str] | None) -> Prepared:
        return prepare_slurm(preset, dryrun=dryrun, environ=environ)

    def submit(self, record: RunRecord, prepared: Prepared) -> RunRecord:
        return submit_run(record, prepared.preset)

    def reconcile(self, record: RunRecord) -> RunRecord:
        return reconcile_slurm(record)

    def stop(self, record: RunRecord, timeout: float) -> StopReport:
        return stop_slurm_run(record, timeout)

    def prefetch(self, records: Sequence[RunRecord]) -> None:
        """One ``squeue`` for every active job (each record is then answered from it)."""
        ids = [r.slurm_job_id for r in records if r.active and r.slurm_job_id]
        if ids:
            try:
                client.prefetch(ids)
            except client.SlurmError:
                pass  # each record is then asked for (or left as it is) by reconcile


SLURM = targets.register(SlurmTarget())
