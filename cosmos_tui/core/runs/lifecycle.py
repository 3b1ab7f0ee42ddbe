"""Starting runs, finding them, and keeping their records true to what the processes did.

Every reader goes through :func:`reconcile`: a record that says a run is active is checked
against its processes (pid plus start time). If the supervisor is gone and nothing of the run is
alive, the record gets its recorded exit code, or ``lost`` with the last log lines when nothing
recorded one. So nothing stays "running" falsely, and nothing is lost after a UI restart.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.engines.base import LaunchSpec, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import Preset, apply_sets, preset_from_dict
from cosmos_tui.core.runs import outcome, procs, registry
from cosmos_tui.core.runs.record import SUPERVISOR_LOG, RunRecord, new_run_id, redact_env

START_GRACE_S = 60.0
"""A record still ``created`` with no supervisor after this long is lost (the spawn failed)."""


@dataclass(frozen=True)
class Prepared:
    """A launch worked out but not started: the preset with its port, the command, the job
    folder and the preflight verdicts."""

    preset: Preset
    """The effective preset (``--set`` applied, a free master port filled in)."""
    spec: LaunchSpec
    """The exact command, folder and environment."""
    job_dir: Path | None
    """Where the job writes."""
    job_dir_source: str
    """``dryrun``, ``adapter`` or ``unknown``."""
    checks: tuple  # tuple[preflight.Check, ...]
    """Preflight verdicts."""
    notes: tuple[str, ...] = ()
    """Things to tell the person (why the dry run was not used, resume details)."""
    sbatch: str | None = None
    """The sbatch script (``launch.target = "slurm"``), rendered with Slurm's own output pattern."""


def prepare(
    preset: Preset, *, sets: Iterable[str] = (), dryrun: bool = True, environ: dict[str, str] | None = None
) -> Prepared:
    """Apply ``sets``, pick a free port, render the command, find the job folder, run preflight.
    A multi-node preset gets its shared rendezvous id; ``launch.target = "slurm"`` is prepared
    for sbatch instead."""
    from cosmos_tui.core import launch, launch_multinode, preflight

    preset = apply_sets(preset, sets) if sets else preset
    if preset.launch.target == "slurm":
        from cosmos_tui.core.slurm.jobs import prepare_slurm

        return prepare_slurm(preset, dryrun=dryrun, environ=environ)
    preset = launch_multinode.for_node(preset)
    preset = launch.with_free_port(preset)
    spec = launch.render(preset, environ)
    job = launch.resolve_job_dir(preset, environ, dryrun=dryrun)
    checks = preflight.run_checks(preset, spec, job.path)  # includes the engine's warnings
    notes = (f"job folder from the preset, not the engine: {job.note}",) if job.note else ()
    return Prepared(preset, spec, job.path, job.source, tuple(checks), notes)


def _versions(preset: Preset) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    def dist(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "cosmos_tui": dist("cosmos-tui"),
        "python": sys.version.split()[0],
        "torch": dist("torch") if preset.engine.kind == "builtin" else None,
        "engine": get_adapter(preset.engine.kind).engine_version(preset),
    }


def launch_prepared(
    prepared: Prepared,
    *,
    base: Preset | None = None,
    preset_path: str | Path | None = None,
    sets: Iterable[str] = (),
    force: bool = False,
    origin: str = "run",
    parent: str | None = None,
    notes: Iterable[str] = (),
) -> RunRecord:
    """Create the run record and spawn its supervisor; returns at once (the run goes on alone).

    Refuses when a preflight check fails, unless ``force``. ``base`` is the preset to snapshot
    (the effective one without the auto-picked port); it defaults to ``prepared.preset``.
    """
    from cosmos_tui.core import launch, preflight

    bad = preflight.failed(list(prepared.checks))
    if bad and not force:
        raise UserError(
            "preflight failed: " + "; ".join(c.message for c in bad) + " (pass --force to launch anyway)"
        )
    preset, spec = prepared.preset, prepared.spec
    warnings = [f"{c.name}: {c.message}" for c in prepared.checks if c.level != "ok"]
    multinode = preset.launch.nnodes > 1 and preset.launch.target == "local"
    now = time.time()
    run_id = new_run_id(preset.experiment.name, now)
    record = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset=(base or preset).to_dict(),
        preset_path=str(preset_path) if preset_path else None,
        sets=tuple(sets),
        argv=spec.argv,
        exec_argv=tuple(spec.exec_argv()),
        shell=spec.shell(),
        cwd=str(spec.cwd),
        env=redact_env(spec.env),
        created_at=now,
        job_dir=str(prepared.job_dir) if prepared.job_dir else None,
        world_size=launch.world_size(preset),
        engine_kind=preset.engine.kind,
        experiment=preset.experiment.name,
        versions=_versions(preset),
        parent=parent,
        origin=origin,  # type: ignore[arg-type]
        notes=(*prepared.notes, *notes, *warnings),
        target=preset.launch.target,
        job_id=preset.launch.rdzv_id if multinode else None,
        node_rank=preset.launch.node_rank if multinode else None,
        nnodes=preset.launch.nnodes,
    )
    registry.create(record)
    if preset.launch.target == "slurm":
        from cosmos_tui.core.slurm.jobs import submit_run

        return submit_run(record, preset)
    env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
    with open(record.run_dir / SUPERVISOR_LOG, "ab") as log:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "cosmos_tui.core.runs.supervisor", str(record.run_dir)],
                cwd=spec.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            why = f"could not start the supervisor: {e}"
            registry.update(record.run_dir, lambda r: r.replace(status="failed", reason=why))
            raise UserError(f"{why}; check that {sys.executable} still exists") from None
    ref = procs.ref_of(child.pid, "supervisor")

    def started(r: RunRecord) -> RunRecord:
        if r.supervisor is None and ref is not None:
            r = r.replace(supervisor=ref)
        return r.replace(status="starting") if r.status == "created" else r

    return registry.update(record.run_dir, started)


def start_run(
    preset: Preset,
    *,
    preset_path: str | Path | None = None,
    sets: Iterable[str] = (),
    detach: bool = True,
    force: bool = False,
) -> RunRecord:
    """Launch ``preset`` with ``sets`` applied: preflight, record, supervisor. Returns at once;
    the run always runs detached in its own session (``detach`` is accepted for symmetry with the
    CLI, which follows the log itself with :func:`follow`)."""
    sets = tuple(sets)
    base = apply_sets(preset, sets) if sets else preset
    prepared = prepare(base)
    return launch_prepared(prepared, base=base, preset_path=preset_path, sets=sets, force=force)


# -- reading and reconciling ----------------------------------------------------------------------


def _gone_reason(record: RunRecord) -> str:
    who = []
    if record.supervisor:
        who.append(f"the supervisor (pid {record.supervisor.pid})")
    if record.agent:
        who.append(f"torchrun (pid {record.agent.pid})")
    subject = " and ".join(who) or "the supervisor"
    text = f"{subject} ended without recording an exit code (killed, or the machine restarted)"
    tail = outcome.last_lines(record.console_log, 5)
    if tail:
        text += "; last log lines:\n" + "\n".join(tail)
    else:
        text += "; console.log is empty"
    return text


def reconcile(record: RunRecord) -> RunRecord:
    """Bring an active record in line with its processes (see the module doc); returns the
    current record. Cheap for finished runs (no process lookups). Slurm runs are asked of Slurm."""
    if not record.active:
        return record
    if record.target == "slurm":
        from cosmos_tui.core.slurm.jobs import reconcile_slurm

        return reconcile_slurm(record)
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
        return r.replace(status="lost", reason=_gone_reason(r), ended_at=time.time())

    return registry.update(record.run_dir, lost)


_reconcile = reconcile


def get_run(run_id_or_prefix: str, *, reconcile_: bool = True) -> RunRecord:
    """The run with this id (or unique prefix, or ``latest``); UserError with close matches."""
    record = registry.read(registry.run_dir_for(registry.resolve_id(run_id_or_prefix)))
    return reconcile(record) if reconcile_ else record


def list_runs(reconcile: bool = True) -> list[RunRecord]:
    """Every run, oldest first, reconciled (unreadable records are skipped). Active Slurm runs
    are asked of Slurm in one ``squeue`` call."""
    records = []
    for run_id in registry.run_ids():
        try:
            records.append(registry.read(registry.run_dir_for(run_id)))
        except UserError:
            continue
    if not reconcile:
        return records
    slurm_ids = [r.slurm_job_id for r in records if r.active and r.target == "slurm" and r.slurm_job_id]
    if slurm_ids:
        from cosmos_tui.core.slurm import client

        try:
            client.prefetch(slurm_ids)
        except client.SlurmError:
            pass  # each record is then asked for (or left as it is) by reconcile
    return [_reconcile(r) for r in records]


# -- relaunching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePlan:
    """What ``runs resume`` will do, worked out before it does it."""

    record: RunRecord
    """The run being resumed."""
    preset: Preset
    """The preset to relaunch (the recorded one, ``--set`` applied)."""
    point: object | None  # resume.ResumePoint
    """The checkpoint the engine will load (``None``: none found)."""
    world_size_from: int
    """World size of the recorded run."""
    world_size_to: int
    """World size of the relaunch."""
    notes: tuple[str, ...]
    """What to tell the person."""


def plan_resume(run_id: str, *, sets: Iterable[str] = (), force: bool = False) -> ResumePlan:
    """Work out a resume: the checkpoint and states restored, and a world-size check (a change
    is refused for upstream engines unless ``force``, and warned about for the builtin engine,
    whose DCP checkpoints reshard on load)."""
    from cosmos_tui.core import launch
    from cosmos_tui.core.runs.resume import latest_checkpoint

    record = get_run(run_id)
    if record.active:
        raise UserError(
            f"run {record.id} is still {record.status}; stop it first with `cosmos-tui runs stop`"
        )
    preset = apply_sets(preset_from_dict(record.preset, source=f"run {record.id}"), sets)
    if not record.job_dir:
        raise UserError(f"run {record.id} has no recorded job folder, so there is nothing to resume from")
    point = latest_checkpoint(Path(record.job_dir))
    notes: list[str] = []
    if point is None:
        if not force:
            raise UserError(
                f"{record.job_dir} holds no complete checkpoint, so a resume would start at iteration 0; "
                "use `cosmos-tui runs rerun` (or --force)"
            )
        notes.append("no complete checkpoint found: the job starts at iteration 0")
    else:
        notes.append("resumes from " + point.describe())  # type: ignore[attr-defined]
    before, after = record.world_size, launch.world_size(preset)
    if before != after:
        text = f"the world size changes from {before} to {after} processes"
        if preset.engine.kind == "builtin":
            notes.append(text + "; the builtin engine's DCP checkpoints reshard on load (data order changes)")
        elif not force:
            raise UserError(text + f"; {preset.engine.kind} may fail to load its checkpoint (pass --force)")
        else:
            notes.append(text + " (forced)")
    return ResumePlan(record, preset, point, before, after, tuple(notes))


def resume_run(run_id: str, *, sets: Iterable[str] = (), force: bool = False) -> RunRecord:
    """Relaunch the same job (same job folder) as a new run; the engine resumes from the latest
    complete checkpoint. The new record's notes say which checkpoint and states."""
    plan = plan_resume(run_id, sets=sets, force=force)
    prepared = prepare(plan.preset)
    notes = list(plan.notes)
    if prepared.job_dir and plan.record.job_dir and Path(plan.record.job_dir) != prepared.job_dir:
        notes.append(f"the job folder changed to {prepared.job_dir}, so it will not find the old checkpoints")
    return launch_prepared(
        prepared,
        base=plan.preset,
        preset_path=plan.record.preset_path,
        sets=tuple(sets),
        force=force,
        origin="resume",
        parent=plan.record.id,
        notes=notes,
    )


def rerun(run_id: str, *, sets: Iterable[str] = (), force: bool = False) -> RunRecord:
    """The same preset and overrides as a new run that starts fresh. If the old job folder holds
    checkpoints (which the engine would resume from), the rerun gets its own job name."""
    from cosmos_tui.core.runs.resume import latest_checkpoint

    record = get_run(run_id)
    preset = apply_sets(preset_from_dict(record.preset, source=f"run {record.id}"), sets)
    notes = [f"rerun of {record.id}"]
    if record.job_dir and latest_checkpoint(Path(record.job_dir)) is not None:
        fresh = f"{Path(record.job_dir).name}_rerun_{os.urandom(2).hex()}"
        preset = apply_sets(preset, [f"job.name={fresh}"])
        notes.append(
            f"{record.job_dir} holds checkpoints, so this rerun writes to job name {fresh} and starts "
            "fresh (`cosmos-tui runs resume` continues the old one)"
        )
    prepared = prepare(preset)
    return launch_prepared(
        prepared,
        base=preset,
        preset_path=record.preset_path,
        sets=(*record.sets, *sets),
        force=force,
        origin="rerun",
        parent=record.id,
        notes=notes,
    )


# -- removing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Removal:
    """What ``remove_run`` deleted (or would delete)."""

    run_id: str
    """The run."""
    paths: tuple[Path, ...]
    """Folders removed: the run folder, plus the job folder when outputs were asked for."""
    kept: tuple[Path, ...]
    """Folders left alone (the job folder, with its checkpoints, unless outputs were asked for)."""


def plan_removal(run_id: str, *, delete_outputs: bool = False) -> Removal:
    """What :func:`remove_run` would delete; refuses an active run."""
    record = get_run(run_id)
    if record.active:
        raise UserError(f"run {record.id} is {record.status}; stop it first with `cosmos-tui runs stop`")
    job = Path(record.job_dir) if record.job_dir else None
    paths = [record.run_dir]
    kept = []
    if job is not None and job.exists():
        (paths if delete_outputs else kept).append(job)
    return Removal(record.id, tuple(paths), tuple(kept))


def remove_run(run_id: str, delete_outputs: bool = False) -> Removal:
    """Delete the run's record and logs; the job folder (checkpoints) only with ``delete_outputs``
    (the CLI asks for ``--yes`` first)."""
    plan = plan_removal(run_id, delete_outputs=delete_outputs)
    for path in reversed(plan.paths):
        if path == Path(path.anchor) or path == Path.home():
            raise UserError(f"refusing to delete {path}")
        shutil.rmtree(path, ignore_errors=False)
    return plan
