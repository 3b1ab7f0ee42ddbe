"""Starting runs, finding them, and keeping their records true to what the processes did.

Every reader goes through :func:`reconcile`: a record that says a run is active is checked
against its processes (pid plus start time). If the supervisor is gone and nothing of the run is
alive, the record gets its recorded exit code, or ``lost`` with the last log lines when nothing
recorded one. So nothing stays "running" falsely, and nothing is lost after a UI restart.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from cosmos_tui.core import containment, launch, preflight
from cosmos_tui.core.checkpoints.scan import LATEST_FILE, checkpoint_files, scan_checkpoints, tree_stats
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.registry import DEFAULT_KIND
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import reason
from cosmos_tui.core.monitor.runmonitor import read_max_iter
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.paths import runs_root
from cosmos_tui.core.preflight import Check
from cosmos_tui.core.presets import Preset, apply_sets
from cosmos_tui.core.runs import joblock, ownership, registry, steps, targets
from cosmos_tui.core.runs.record import RunRecord, new_run_id, redact_env
from cosmos_tui.core.runs.resume import ResumePoint, latest_checkpoint
from cosmos_tui.core.runs.targets import Existing, Prepared, StopReport

STOP_TIMEOUT_S = 45.0
"""How long a stop waits for the run to save and exit before forcing it (torchrun itself
escalates after 30 s)."""


def next_job_name(job_dir: Path) -> str:
    """A job name beside ``job_dir`` that no folder uses yet: ``NAME-2``, ``NAME-3`` ... (a name
    already ending in ``-N`` counts on from N)."""
    base, _, number = job_dir.name.rpartition("-")
    start = int(number) + 1 if base and number.isdigit() else 2
    stem = base if base and number.isdigit() else job_dir.name
    n = start
    while os.path.lexists(job_dir.with_name(f"{stem}-{n}")):
        n += 1
    return f"{stem}-{n}"


def _max_iter(preset: Preset, config: object, job_dir: Path | None) -> int | None:
    """``trainer.max_iter`` as the launch will see it: the last override, else the engine's
    composed config, else the job's ``config.yaml``."""

    given = override_value(preset.experiment.overrides, "trainer.max_iter")
    if given is not None:
        return as_int(given)
    trainer = config.get("trainer") if isinstance(config, dict) else None
    value = trainer.get("max_iter") if isinstance(trainer, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return read_max_iter(job_dir) if job_dir is not None else None


def _job_checks(
    prepared_job: Path | None,
    point: ResumePoint | None,
    writer: str | None,
    existing: Existing,
    max_iter: int | None,
    group: str | None = None,
    fresh: str | None = None,
) -> list[Check]:
    if prepared_job is None:
        return []
    checks: list[Check] = []
    owner = joblock.read_owner(prepared_job)
    alive = joblock.owner_alive(owner) if owner is not None else False
    shared = owner is not None and group is not None and owner.group == group  # another node of it
    if owner is not None and alive is not False and not shared:
        checks.append(Check("job", "fail", joblock.busy_message(prepared_job, owner, alive)))
    if point is None or shared:
        return checks  # every node of a multi-node job launches onto the same job
    by = f", written by run {writer}" if writer else ""
    if point.state != "complete" and existing != "fresh":
        checks.append(
            Check(
                "job",
                "fail",
                f"the newest checkpoint of job {prepared_job}, {point.path.name}{by}, is {point.state} "
                f"(`cosmos-tui ckpt verify {point.path}` says more), so a resume would fail loading it; "
                "move it out of checkpoints/ (and point latest_checkpoint.txt at the one before) to resume "
                "from there, or start over with --fresh",
            )
        )
        return checks
    done = max_iter is not None and point.iteration >= max_iter
    if existing == "ask" and done:
        checks.append(
            Check(
                "job",
                "fail",
                f"job {prepared_job} already holds checkpoints up to iteration {point.iteration}{by}, "
                f"at trainer.max_iter={max_iter}, so a resume trains nothing; choose --fresh to start "
                f"over as job {fresh}, or --resume with --set "
                f"trainer.max_iter={max(max_iter, point.iteration) * 2} to train on",
            )
        )
    elif existing == "ask":
        checks.append(
            Check(
                "job",
                "fail",
                f"job {prepared_job} already holds checkpoints up to iteration {point.iteration}{by}; "
                f"choose --resume to continue it from iteration {point.iteration}, or --fresh to start "
                f"over as job {fresh}",
            )
        )
    elif done:
        checks.append(
            Check(
                "job",
                "fail",
                f"job {prepared_job} is already at trainer.max_iter={max_iter} (checkpoint iteration "
                f"{point.iteration}{by}), so a resume trains nothing; extend it with "
                f"--set trainer.max_iter={max(max_iter, point.iteration) * 2}",
            )
        )
    else:
        checks.append(Check("job", "ok", f"resumes job {prepared_job} from {point.describe()}{by}"))
    return checks


def prepare(
    preset: Preset,
    *,
    sets: Iterable[str] = (),
    dryrun: bool = True,
    environ: dict[str, str] | None = None,
    existing: Existing = "ask",
) -> Prepared:
    """Apply ``sets``, pick a free port, render the command, find the job folder, decide what
    happens to checkpoints already there (``existing``), run preflight. Writes nothing. A
    multi-node preset gets its shared rendezvous id; ``launch.target = "slurm"`` is prepared
    for sbatch instead."""
    preset = apply_sets(preset, sets) if sets else preset
    prepared = targets.get(preset.launch.target).prepare(preset, dryrun=dryrun, environ=environ)
    job_path, config = prepared.job_dir, prepared.config
    point = latest_checkpoint(job_path) if job_path is not None else None
    fresh_from = None
    if point is not None and existing == "fresh":
        fresh_from, name = job_path, next_job_name(job_path)
        again = prepare(apply_sets(prepared.preset, [f"job.name={name}"]), dryrun=False, environ=environ)
        job_path = fresh_from.with_name(name)
        own = tuple(c for c in again.checks if c.name != "job")  # recomputed below for job_path
        prepared = replace(again, job_dir=job_path, job_dir_source=prepared.job_dir_source, checks=own)
        point = None
    writer = _writer(job_path, point) if point is not None else None
    launch_ = prepared.preset.launch
    group = launch_.rdzv_id if launch_.nnodes > 1 and launch_.target == "local" else None
    max_iter = _max_iter(prepared.preset, config, job_path)
    fresh_name = next_job_name(job_path) if point is not None and job_path is not None else None
    job_checks = _job_checks(job_path, point, writer, existing, max_iter, group, fresh_name)
    notes = prepared.notes
    extra: tuple[str, ...] = ()
    if fresh_from is not None and job_path is not None:
        notes = (*notes, f"{fresh_from} holds checkpoints, so this run starts fresh as job {job_path}")
        extra = (f"job.name={job_path.name}",)
    return replace(
        prepared,
        checks=(*job_checks, *prepared.checks),
        notes=notes,
        resume_point=point,
        resume_writer=writer,
        fresh_from=fresh_from,
        extra_sets=extra,
        existing=existing,
        fresh_name=fresh_name,
        resume_trains_nothing=point is not None and max_iter is not None and point.iteration >= max_iter,
    )


def _writer(job_dir: Path | None, point: ResumePoint) -> str | None:
    if job_dir is None:
        return None
    records = [registry.read_or_unreadable(registry.run_dir_for(i)) for i in registry.run_ids()]
    found = ownership.writer_of(records, job_dir, point.path.name)
    return found.id if found else None


def _versions(preset: Preset) -> dict[str, str | None]:
    def dist(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    adapter = get_adapter(preset.engine.kind)
    return {
        "cosmos_tui": dist("cosmos-tui"),
        "python": sys.version.split()[0],
        "torch": dist("torch") if adapter.in_this_environment else None,
        "engine": adapter.engine_version(preset),
    }


def _refuse_failed(prepared: Prepared, force: bool) -> None:
    """Refuse a launch whose preflight failed, unless ``force``; a failed ``job`` check always
    (forcing it would resume silently or share a job)."""
    bad = preflight.failed(list(prepared.checks))
    job_bad = [c for c in bad if c.name == "job"]
    if job_bad:
        raise UserError(job_bad[0].message)
    if bad and not force:
        raise UserError(
            "preflight failed: " + "; ".join(c.message for c in bad) + " (pass --force to launch anyway)"
        )


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
    queue_entry: str | None = None,
) -> RunRecord:
    """Create the run record and spawn its supervisor; returns at once (the run goes on alone).

    Refuses when a preflight check fails, unless ``force``. ``base`` is the preset to snapshot
    (the effective one without the auto-picked port); it defaults to ``prepared.preset``.
    ``queue_entry`` names the queue entry this launch serves (written into the record).
    """
    _refuse_failed(prepared, force)
    preset, spec = prepared.preset, prepared.spec
    base = apply_sets(base or preset, prepared.extra_sets) if prepared.extra_sets else base
    sets = (*sets, *prepared.extra_sets)
    warnings = [f"{c.name}: {c.message}" for c in prepared.checks if c.level != "ok"]
    resumes = [c.message for c in prepared.checks if c.name == "job" and c.level == "ok"]
    multinode = preset.launch.nnodes > 1 and preset.launch.target == "local"
    now = time.time()
    run_id = new_run_id(preset.experiment.name, now)
    job_dir = Path(os.path.realpath(prepared.job_dir)) if prepared.job_dir else None
    group = preset.launch.rdzv_id if multinode else None
    taken = joblock.acquire(job_dir, run_id, group=group) if job_dir is not None else None
    try:
        point = latest_checkpoint(job_dir) if job_dir is not None else None
        expected = prepared.resume_point
        if point is not None and (expected is None or point.path != expected.path) and not group:
            raise UserError(
                f"job {job_dir} gained checkpoint iteration {point.iteration} since the preflight; "
                "launch again to choose --resume or --fresh"
            )
        pipeline = _pipeline(preset, job_dir, spec.env)
        stale = _withdraw_stale_save_request(job_dir, preset.engine.kind) if not group else None
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
            job_dir=str(job_dir) if job_dir else None,
            world_size=launch.world_size(preset),
            engine_kind=preset.engine.kind,
            experiment=preset.experiment.name,
            versions=_versions(preset),
            parent=parent or prepared.resume_writer,
            origin=origin,  # type: ignore[arg-type]
            notes=(
                *prepared.notes,
                *resumes,
                *notes,
                *([taken] if taken else []),
                *([stale] if stale else []),
                *warnings,
            ),
            target=preset.launch.target,
            job_id=preset.launch.rdzv_id if multinode else None,
            node_rank=preset.launch.node_rank if multinode else None,
            nnodes=preset.launch.nnodes,
            steps=pipeline,
            queue_entry=queue_entry,
            **ownership.start_fields(job_dir, expected, prepared.resume_writer),
        )
        registry.create(record)
    except BaseException:
        joblock.release(job_dir, run_id)
        raise
    return targets.get(preset.launch.target).submit(record, prepared)


def _withdraw_stale_save_request(job_dir: Path | None, kind: str) -> str | None:
    """Delete a save-now request an earlier run left in the job (it ended before saving): the new
    run, which holds the job's lock now, would otherwise save at its first step. What was done."""
    name = get_adapter(kind).save_request_file
    if job_dir is None or name is None or not os.path.lexists(job_dir / name):
        return None
    try:
        (job_dir / name).unlink()
    except OSError as e:
        return f"could not remove the {name} an earlier run left in the job ({reason(e)})"
    return f"removed the {name} an earlier run left in the job (it would have saved at the first step)"


def _pipeline(preset: Preset, job_dir: Path | None, env: dict[str, str]) -> tuple[steps.StepRecord, ...]:
    """The run's steps as its engine declares them at launch; ``()`` when it only trains."""
    specs = get_adapter(preset.engine.kind).pipeline(preset, job_dir, {**os.environ, **env})
    if [s.name for s in specs] == [steps.TRAIN]:
        return ()
    return steps.planned(specs)


def start_run(
    preset: Preset,
    *,
    preset_path: str | Path | None = None,
    sets: Iterable[str] = (),
    detach: bool = True,
    force: bool = False,
    existing: Existing = "ask",
) -> RunRecord:
    """Launch ``preset`` with ``sets`` applied: preflight, record, supervisor. Returns at once;
    the run always runs detached in its own session (``detach`` is accepted for symmetry with the
    CLI, which follows the log itself with :func:`follow`). ``existing`` says what to do with a
    job folder that already holds checkpoints (see :data:`Existing`)."""
    sets = tuple(sets)
    base = apply_sets(preset, sets) if sets else preset
    prepared = prepare(base, existing=existing)
    return launch_prepared(prepared, base=base, preset_path=preset_path, sets=sets, force=force)


# -- reading and reconciling ----------------------------------------------------------------------


def reconcile(record: RunRecord) -> RunRecord:
    """Bring an active record in line with what is really happening (see the module doc); returns
    the current record. Cheap for finished runs. The run's launch target answers (its processes
    here, or Slurm)."""
    return targets.reconcile(record)


_reconcile = reconcile  # list_runs's parameter is called reconcile


def stop_run(run_id: str, timeout: float = STOP_TIMEOUT_S) -> StopReport:
    """Stop a run gracefully: its launch target asks it to save and stop, and forces it only after
    ``timeout`` seconds."""
    record = get_run(run_id)
    if not record.active:
        raise UserError(f"run {record.id} is not running (it is {record.status}); nothing to stop")
    return targets.of(record).stop(record, timeout)


def get_run(run_id_or_prefix: str, *, reconcile_: bool = True) -> RunRecord:
    """The run with this id (or unique prefix, or ``latest``); UserError with close matches."""
    record = registry.read_or_unreadable(registry.run_dir_for(registry.resolve_id(run_id_or_prefix)))
    return reconcile(record) if reconcile_ else record


def list_runs(reconcile: bool = True) -> list[RunRecord]:
    """Every run, oldest first, reconciled; a run whose ``run.json`` is damaged is listed as
    ``unreadable`` with the reason, and never hides the others. Each launch target is asked once
    about its active runs first (Slurm: one ``squeue`` call)."""
    records = [registry.read_or_unreadable(registry.run_dir_for(i)) for i in registry.run_ids()]
    if not reconcile:
        return records
    for name in sorted({r.target for r in records if r.active}):
        targets.get(name).prefetch([r for r in records if r.target == name])
    return [_reconcile(r) for r in records]


# -- relaunching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePlan:
    """What ``runs resume`` will do, worked out before it does it."""

    record: RunRecord
    """The run being resumed."""
    preset: Preset
    """The preset to relaunch (the recorded one, ``--set`` applied)."""
    point: ResumePoint | None
    """The checkpoint the engine will load (``None``: none found)."""
    writer: str | None
    """The run that wrote :attr:`point`, when one of ours did."""
    world_size_from: int
    """World size of the recorded run."""
    world_size_to: int
    """World size of the relaunch."""
    notes: tuple[str, ...]
    """What to tell the person."""


def _usable(record: RunRecord) -> RunRecord:
    if record.status == "unreadable":
        raise UserError(f"run {record.id} cannot be used: {record.reason}")
    return record


def plan_resume(run_id: str, *, sets: Iterable[str] = (), force: bool = False) -> ResumePlan:
    """Work out a resume: the job's latest checkpoint, who wrote it, the states restored, whether
    anything is left to train, and a world-size check (a change is refused for upstream engines
    unless ``force``, and warned about for the builtin engine, whose DCP checkpoints reshard)."""

    record = _usable(get_run(run_id))
    if record.active:
        raise UserError(
            f"run {record.id} is still {record.status}; stop it first with `cosmos-tui runs stop`"
        )
    preset = apply_sets(record.launched_preset(), sets)
    if not record.job_dir:
        raise UserError(f"run {record.id} has no recorded job folder, so there is nothing to resume from")
    job = Path(record.job_dir)
    point = latest_checkpoint(job)
    writer = _writer(job, point) if point is not None else None
    notes: list[str] = []
    if point is None:
        if not force:
            raise UserError(
                f"{record.job_dir} holds no complete checkpoint, so a resume would start at iteration 0; "
                "use `cosmos-tui runs rerun` (or --force)"
            )
        notes.append("no complete checkpoint found: the job starts at iteration 0")
    else:
        by = f"written by run {writer}" if writer else "not written by a run cosmos-tui knows"
        notes.append(f"continues job {job} from {point.describe()} ({by})")
        max_iter = _max_iter(preset, None, job)
        todo = steps.unfinished_after_train(record.steps)
        if max_iter is not None and point.iteration >= max_iter and todo:
            notes.append(f"training is at trainer.max_iter={max_iter}; the resume runs {', '.join(todo)}")
        elif max_iter is not None and point.iteration >= max_iter:
            raise UserError(
                f"job {job} is already at trainer.max_iter={max_iter} (checkpoint iteration "
                f"{point.iteration}), so a resume trains nothing; extend it with "
                f"`cosmos-tui runs resume {record.id} --set trainer.max_iter={2 * point.iteration}`"
            )
    before, after = record.world_size, launch.world_size(preset)
    if before != after:
        text = f"the world size changes from {before} to {after} processes"
        reshard_note = get_adapter(preset.engine.kind).reshard_note
        if reshard_note:
            notes.append(f"{text}; {reshard_note}")
        elif not force:
            raise UserError(text + f"; {preset.engine.kind} may fail to load its checkpoint (pass --force)")
        else:
            notes.append(text + " (forced)")
    return ResumePlan(record, preset, point, writer, before, after, tuple(notes))


def resume_run(run_id: str, *, sets: Iterable[str] = (), force: bool = False) -> RunRecord:
    """Relaunch the same job (same job folder) as a new run; the engine resumes from the latest
    complete checkpoint. The new record's notes say which run and checkpoint it continues from."""
    plan = plan_resume(run_id, sets=sets, force=force)
    prepared = prepare(plan.preset, existing="resume")
    notes = list(plan.notes)
    if (
        prepared.job_dir
        and plan.record.job_dir
        and not ownership.same_job(plan.record.job_dir, prepared.job_dir)
    ):
        notes.append(f"the job folder changed to {prepared.job_dir}, so it will not find the old checkpoints")
    said = [c for c in prepared.checks if not (c.name == "job" and c.level == "ok")]  # plan's note says it
    if prepared.resume_trains_nothing and steps.unfinished_after_train(plan.record.steps):
        # Training is complete but the pipeline is not: the resume runs the steps left.
        said = [c for c in said if not (c.name == "job" and "trains nothing" in c.message)]
    prepared = replace(prepared, checks=tuple(said))
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


def rerun(
    run_id: str, *, sets: Iterable[str] = (), force: bool = False, existing: Existing = "ask"
) -> RunRecord:
    """The same preset and overrides as a new run. When the job folder holds checkpoints the
    person chooses (``existing``): continue the job, or start fresh under a new job name."""
    record = _usable(get_run(run_id))
    preset = apply_sets(record.launched_preset(), sets)
    prepared = prepare(preset, existing=existing)
    return launch_prepared(
        prepared,
        base=preset,
        preset_path=record.preset_path,
        sets=(*record.sets, *sets),
        force=force,
        origin="rerun",
        parent=record.id,
        notes=[f"rerun of {record.id}"],
    )


# -- removing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemovalItem:
    """One path a removal deletes or keeps, with its size and the reason."""

    path: Path
    """The file or folder."""
    size_bytes: int
    """Bytes on disk under it."""
    why: str
    """Why it is deleted, or why it is kept."""


@dataclass(frozen=True)
class Removal:
    """What ``remove_run`` deletes (or would delete), and what it keeps and why."""

    run_id: str
    """The run."""
    delete: tuple[RemovalItem, ...]
    """Deleted: the run folder, and with outputs the checkpoints no other run needs (and the
    job's own files, or the whole job folder, when this is its last run and nothing else stays)."""
    keep: tuple[RemovalItem, ...]
    """Left alone, each with the reason."""
    pointer: str | None = None
    """The job's new ``latest_checkpoint.txt`` text when the checkpoint it names is deleted
    (``""``: remove the pointer, no complete checkpoint is left)."""
    job_dir: Path | None = None
    """The job folder the outputs are in."""

    @property
    def paths(self) -> tuple[Path, ...]:
        """The deleted paths."""
        return tuple(i.path for i in self.delete)

    @property
    def kept(self) -> tuple[Path, ...]:
        """The kept paths."""
        return tuple(i.path for i in self.keep)

    @property
    def size_bytes(self) -> int:
        """Bytes freed."""
        return sum(i.size_bytes for i in self.delete)


def _tree_bytes(path: Path) -> int:
    """Bytes under ``path``; 0 for a symlink (removed as a link, its target kept)."""
    return 0 if path.is_symlink() else tree_stats(path)[0]


def _output_root(record: RunRecord) -> Path | None:
    try:
        preset = record.launched_preset()
        return get_adapter(preset.engine.kind).output_root(preset, {**os.environ, **record.env})
    except UserError:
        return None


def _job_problem(record: RunRecord, job: Path) -> str | None:
    """Why the recorded job folder must not be touched (``None``: it is a folder inside the
    run's output root, reached without symlinks)."""
    if job.is_symlink():
        return f"{job} is a symbolic link; cosmos-tui deletes nothing through it (remove the link by hand)"
    root = _output_root(record)
    if root is None:
        return f"the output root of run {record.id} is not known, so nothing under {job} is deleted"
    real_job = containment.resolved(job)
    if real_job == containment.resolved(root) or not containment.is_within(job, root):
        return f"{job} is not inside the output root {root}; cosmos-tui deletes nothing outside it"
    if real_job != Path(os.path.abspath(job)):
        return f"{job} reaches {real_job} through a symbolic link or '..'; nothing there is deleted"
    return None


def _needed_by(others: list[RunRecord]) -> dict[str, str]:
    """Checkpoint name -> why another run of the job needs it (it wrote it, or resumed from it)."""
    needed: dict[str, str] = {}
    for other in others:
        if other.resumed_from and other.resumed_from.get("checkpoint"):
            needed.setdefault(str(other.resumed_from["checkpoint"]), f"run {other.id} resumed from it")
        for name in other.checkpoints or ():
            needed.setdefault(name, f"run {other.id} wrote it")
    return needed


def plan_removal(run_id: str, *, delete_outputs: bool = False) -> Removal:
    """What :func:`remove_run` would delete and keep, path by path, with sizes; refuses an
    active run. Outputs (``delete_outputs``): the checkpoints this run wrote that no other run
    of the job wrote or resumed from, never one no run record says this run wrote; when no other
    run of the job is left and no checkpoint stays, the engine's files too, and the whole job
    folder when nothing else (an export, notes) is in it. Nothing outside the run's output root,
    nothing reached through a symlink."""

    record = get_run(run_id)
    if record.active:
        raise UserError(f"run {record.id} is {record.status}; stop it first with `cosmos-tui runs stop`")
    delete = [RemovalItem(record.run_dir, _tree_bytes(record.run_dir), "the run's record and logs")]
    keep: list[RemovalItem] = []
    job = Path(record.job_dir) if record.job_dir else None
    if job is None or not os.path.lexists(job):
        return Removal(record.id, tuple(delete), ())
    if not delete_outputs:
        why = "the job folder (pass --outputs to delete what only this run needs)"
        return Removal(record.id, tuple(delete), (RemovalItem(job, _tree_bytes(job), why),), job_dir=job)
    problem = _job_problem(record, job)
    if problem:
        return Removal(record.id, tuple(delete), (RemovalItem(job, 0, problem),), job_dir=job)
    others = [r for r in list_runs() if r.id != record.id and ownership.same_job(r.job_dir, job)]
    last = not others
    piece = ownership.run_slice(record)
    if piece is None and not last:
        why = "this run was recorded before runs owned checkpoints, so none are deleted"
        return Removal(record.id, tuple(delete), (RemovalItem(job, _tree_bytes(job), why),), job_dir=job)
    found = scan_checkpoints(job / "checkpoints")
    needed = _needed_by(others)
    gone: set[str] = set()
    outputs: list[RemovalItem] = []
    for info in found:
        name = info.path.name
        # A record from before runs owned their checkpoints, left alone on its job: all are its.
        if not (piece.owns(name) if piece is not None else last):
            if last:
                why = "no run record left says it wrote it; `cosmos-tui ckpt prune` or by hand"
                keep.append(RemovalItem(info.path, info.size_bytes, f"not written by this run ({why})"))
            continue
        if name in needed:
            keep.append(RemovalItem(info.path, info.size_bytes, needed[name]))
        elif info.pinned:
            keep.append(RemovalItem(info.path, info.size_bytes, "pinned (`cosmos-tui ckpt unpin` first)"))
        else:
            gone.add(name)
            for path in checkpoint_files(info):
                outputs.append(
                    RemovalItem(path, _tree_bytes(path), "written by this run; no other run needs it")
                )
    engine_files = _engine_job_files(record)
    pointer = None
    latest = next((c for c in found if c.is_latest), None)
    if latest is not None and latest.path.name in gone:
        left = [c for c in found if c.complete and c.path.name not in gone]
        pointer = left[-1].path.name if left else ""
    if not last:
        shared = ", ".join(r.id for r in others[:3]) + (" ..." if len(others) > 3 else "")
        for name in engine_files:
            if (job / name).exists():
                keep.append(RemovalItem(job / name, _tree_bytes(job / name), f"shared with run(s) {shared}"))
        return Removal(record.id, (*delete, *outputs), tuple(keep), pointer, job)
    if keep:  # checkpoints stay, so the job's config and metrics stay with them
        for name in engine_files:
            if (job / name).exists():
                why = "the job still holds checkpoints this run did not write"
                keep.append(RemovalItem(job / name, _tree_bytes(job / name), why))
        return Removal(record.id, (*delete, *outputs), tuple(keep), pointer, job)
    # The job's last run and every checkpoint goes: the engine's files go too; whatever else is in
    # the folder (an export, notes) is the person's and stays, and so does the folder then.
    foreign = _foreign_entries(job, {c.path.name for c in found}, engine_files)
    if not foreign:
        why = "the job's last run: its config, metrics and every checkpoint go with it"
        return Removal(record.id, (*delete, RemovalItem(job, _tree_bytes(job), why)), (), job_dir=job)
    for name in (*engine_files, *JOB_LOCK_FILES, "SAVE_NOW"):
        if os.path.lexists(job / name):
            outputs.append(RemovalItem(job / name, _tree_bytes(job / name), "the engine's file of this job"))
    for path in foreign:
        keep.append(RemovalItem(path, _tree_bytes(path), "not written by a run of this job, so it is yours"))
    return Removal(record.id, (*delete, *outputs), tuple(keep), "" if found else None, job)


JOB_LOCK_FILES = (joblock.LOCK_FILE, joblock.GUARD_FILE)


def _engine_job_files(record: RunRecord) -> tuple[str, ...]:
    """What the run's engine writes into its job folder besides checkpoints (its adapter says)."""
    preset = record.launched
    return get_adapter(preset.engine.kind if preset else DEFAULT_KIND).job_files


def _foreign_entries(job: Path, checkpoints: set[str], engine_files: tuple[str, ...]) -> list[Path]:
    """What a job folder holds that neither its engine nor cosmos-tui wrote (an export, notes): a
    removal never deletes those."""

    ours = {*engine_files, *JOB_LOCK_FILES, "checkpoints", "SAVE_NOW"}
    found = []
    try:
        found += [job / e.name for e in os.scandir(job) if e.name not in ours]
        ckpts = job / "checkpoints"
        if ckpts.is_dir() and not ckpts.is_symlink():
            found += [ckpts / e.name for e in os.scandir(ckpts) if e.name not in {*checkpoints, LATEST_FILE}]
    except OSError:
        return [job]  # cannot list it: keep all of it
    return sorted(found)


def remove_run(run_id: str, delete_outputs: bool = False) -> Removal:
    """Delete what :func:`plan_removal` lists (the CLI asks for ``--yes`` first)."""

    plan = plan_removal(run_id, delete_outputs=delete_outputs)
    runs = runs_root()
    for item in plan.delete:
        path = item.path
        if plan.job_dir is None or path == registry.run_dir_for(plan.run_id):
            root, what = runs, "the runs folder"
        elif path == plan.job_dir:
            root, what = plan.job_dir.parent, "the output root"  # inside it: checked by the plan
        else:
            root, what = plan.job_dir, "the job folder"
        if path.is_dir() and not path.is_symlink():
            containment.safe_rmtree(path, root, what=what)
        else:
            containment.safe_unlink(path, root, what=what)
    if plan.pointer is not None and plan.job_dir is not None:
        pointer = plan.job_dir / "checkpoints" / LATEST_FILE
        if plan.pointer:
            tmp = pointer.with_name(f".{LATEST_FILE}.tmp")
            tmp.write_text(plan.pointer + "\n", encoding="utf-8")
            os.replace(tmp, pointer)
        else:
            pointer.unlink(missing_ok=True)
    return plan
