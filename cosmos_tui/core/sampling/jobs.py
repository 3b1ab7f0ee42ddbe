"""Samples jobs: drawing samples from a job's checkpoints as a recorded process of its own.

A samples job is not a training run (no preset, no torchrun, no job lock: it only reads the
checkpoints), so it is recorded beside the runs, not among them: ``<state>/samples/<id>/`` holds
``sample.json`` (what it draws, the engine commands, the supervisor's and the engine's pid with
start time, status, exit code), ``prompts.json`` (the samples, as the engine reads them) and
``console.log`` (the engine's output). A small supervisor (:mod:`.supervise`), started in its own
session, runs the engine's sampler once per checkpoint and records how it ended; ``stop`` signals
it and escalates only to the processes recorded. Reading a record reconciles it with reality: a
"running" job whose supervisor is gone is ``lost``.

Outputs land in the job folder (``samples/iter_%09d/``, ``samples/base/``); an output folder
that already holds an ``index.json`` is replaced only with ``overwrite``, and one that resolves
outside the job folder (a planted link) is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.checkpoints.export import find_checkpoint
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.containment import contained, resolved, write_contained
from cosmos_tui.core.engines.base import SampleArgs
from cosmos_tui.core.engines.inference import SampleContext
from cosmos_tui.core.engines.registry import DEFAULT_KIND, get_adapter
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.idmatch import match_id
from cosmos_tui.core.monitor.samples import IterationSamples, list_samples
from cosmos_tui.core.paths import samples_root
from cosmos_tui.core.runs import list_runs, procs
from cosmos_tui.core.runs.jobs import get_job
from cosmos_tui.core.runs.record import ProcRef, RunRecord
from cosmos_tui.core.runs.registry import flocked
from cosmos_tui.core.safeio import RECORD_CAP, read_text_capped
from cosmos_tui.core.sampling.prompts import SampleRequest, requests_json

Status = Literal["running", "finished", "failed", "stopped", "lost"]
RECORD_FILE = "sample.json"
PROMPTS_FILE = "prompts.json"
CONSOLE_LOG = "console.log"
LOCK_FILE = ".lock"
STOP_TIMEOUT_S = 20.0
"""How long ``stop`` waits for the supervisor to end the engine before it kills both."""
DEFAULT_STEPS = 20


@dataclass(frozen=True)
class SampleJob:
    """One samples job, as ``sample.json`` holds it."""

    id: str
    """``YYYYMMDD-HHMMSS-<job name>-<4 hex>``."""
    folder: Path
    """Its folder in the state root (not stored; where it was read from)."""
    job_dir: str
    """The job folder sampled (resolved)."""
    engine_kind: str
    targets: tuple[str, ...]
    """What is sampled, in order: ``iter_%09d`` or ``base``."""
    outputs: tuple[str, ...]
    """The output folder of each target."""
    commands: tuple[tuple[str, ...], ...]
    """The engine command of each target."""
    samples: int
    """Samples per target."""
    steps: int
    ema: bool | None
    status: Status = "running"
    reason: str | None = None
    exit_code: int | None = None
    created_at: float = 0.0
    ended_at: float | None = None
    done: tuple[str, ...] = ()
    """Targets finished so far."""
    supervisor: ProcRef | None = None
    engine: ProcRef | None = None
    """The engine process drawing now."""
    stop_requested: bool = False
    shown: tuple[str, ...] = ()
    """Per target, the engine's own inference commands as shell text (upstream engines: the
    conversion, then the script's calls, which the command of :attr:`commands` runs); empty for
    the builtin engine, whose command is its sampler."""

    @property
    def log_path(self) -> Path:
        """The engine's output."""
        return self.folder / CONSOLE_LOG


@dataclass(frozen=True)
class SamplePlan:
    """What :func:`start_samples` would launch (``--dry-run`` shows it)."""

    job: SampleJob
    requests: tuple[SampleRequest, ...]


# -- the record on disk -------------------------------------------------------------------------


def _to_json(job: SampleJob) -> str:
    data = dataclasses.asdict(job)
    data.pop("folder")
    return json.dumps(data, indent=2) + "\n"


def _ref(data: Any) -> ProcRef | None:
    return ProcRef(int(data["pid"]), data.get("create_time"), data.get("role", "process")) if data else None


def read_job(folder: Path) -> SampleJob:
    """The record in ``folder`` (a :class:`UserError` when it is damaged)."""
    path = folder / RECORD_FILE
    try:
        data = json.loads(read_text_capped(path, RECORD_CAP, what="samples record"))
        data["supervisor"], data["engine"] = _ref(data.get("supervisor")), _ref(data.get("engine"))
        for key in ("targets", "outputs", "done", "shown"):
            data[key] = tuple(data.get(key, ()))
        data["commands"] = tuple(tuple(c) for c in data.get("commands", ()))
        return SampleJob(folder=folder, **data)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
        raise UserError(
            f"the samples record {path} is damaged ({type(e).__name__}); remove its folder."
        ) from None


def write_job(job: SampleJob) -> None:
    """Write ``sample.json`` atomically."""
    write_contained(job.folder / RECORD_FILE, _to_json(job), job.folder, what="the samples job's folder")


def update_job(folder: Path, **changes: Any) -> SampleJob:
    """Read, change and rewrite the record under its lock."""
    with flocked(folder / LOCK_FILE):
        job = dataclasses.replace(read_job(folder), **changes)
        write_job(job)
        return job


def reconcile(job: SampleJob) -> SampleJob:
    """A running job whose supervisor is gone is ``lost`` (recorded so)."""
    if job.status != "running" or procs.alive(job.supervisor):
        return job
    with flocked(job.folder / LOCK_FILE):
        job = read_job(job.folder)
        if job.status != "running" or procs.alive(job.supervisor):
            return job
        reason = "its supervisor is gone without recording an end"
        if procs.alive(job.engine):
            reason += f"; its sampler (pid {job.engine.pid}) still runs: `cosmos-tui samples stop` ends it"
        job = dataclasses.replace(job, status="lost", ended_at=time.time(), reason=reason)
        write_job(job)
        return job


def _ids() -> list[str]:
    root = samples_root()
    return sorted(
        e.name
        for e in os.scandir(root)
        if e.is_dir(follow_symlinks=False) and (Path(e.path) / RECORD_FILE).exists()
    )


def list_sample_jobs() -> list[SampleJob]:
    """Every samples job with a readable record, oldest first, reconciled."""
    jobs = []
    for i in _ids():
        try:
            jobs.append(reconcile(read_job(samples_root() / i)))
        except (UserError, OSError):
            continue  # a damaged record: `samples stop` names it when asked for it
    return jobs


def get_sample_job(ref: str) -> SampleJob:
    """A samples job by id, unique prefix or part, or ``latest``."""
    found = match_id(
        ref,
        _ids(),
        what="samples job",
        listing="cosmos-tui samples list",
        none_yet="start one with `cosmos-tui samples RUN`",
    )
    return reconcile(read_job(samples_root() / found))


def is_drawing(job: SampleJob) -> bool:
    """``job`` is running, or was lost while its sampler process lives on (and still reads and
    writes)."""
    return job.status == "running" or (job.status == "lost" and procs.alive(job.engine))


def checkpoints_in_use() -> dict[Path, str]:
    """The checkpoint folders samples jobs read now or will read (resolved path -> the samples
    job's id), so a prune keeps them: every target not yet done of a job :func:`is_drawing`."""
    in_use: dict[Path, str] = {}
    for job in list_sample_jobs():
        if not is_drawing(job):
            continue
        for label in job.targets:
            if label != "base" and label not in job.done:
                in_use[resolved(Path(job.job_dir) / "checkpoints" / label)] = job.id
    return in_use


# -- planning -----------------------------------------------------------------------------------


def _runs_on(job_dir: Path) -> list[RunRecord]:
    return [r for r in list_runs(reconcile=False) if r.job_dir and resolved(r.job_dir) == job_dir]


def engine_kind_of(job_dir: Path) -> str:
    """The engine kind of the newest run on ``job_dir`` (the default engine when none is recorded)."""
    kinds = [r.engine_kind for r in _runs_on(job_dir)]
    return kinds[-1] if kinds else DEFAULT_KIND


def sample_context(job_dir: Path, kind: str) -> SampleContext | None:
    """The checkout, interpreter, experiment and dataset of the newest run on ``job_dir`` (for
    engines that run from a checkout); ``None`` for the others, or with no such run recorded."""
    adapter = get_adapter(kind)
    runs = [r for r in _runs_on(job_dir) if r.engine_kind == kind]
    preset = runs[-1].launched if runs and adapter.runs_from_checkout else None
    if preset is None or not preset.engine.repo:
        return None
    root = preset.data.root
    data_root = None
    if root:
        data_root = Path(root).expanduser()
        data_root = resolved(data_root if data_root.is_absolute() else adapter.cwd(preset) / data_root)
    return SampleContext(
        checkout=resolved(adapter.cwd(preset)),
        python=adapter.python(preset),
        experiment=preset.experiment.name,
        data_root=data_root,
        layout=preset.data.layout,
    )


def resolve_job_dir(target: str) -> tuple[Path, str]:
    """The job folder ``target`` names (a folder, a run id, a job name) and its engine kind."""
    path = Path(target).expanduser()
    if path.is_dir():
        real = resolved(path)
        if not (real / "config.yaml").is_file() and not (real / "checkpoints").is_dir():
            raise UserError(
                f"{path} is not a job folder (no config.yaml, no checkpoints/); pass the job folder."
            )
        return real, engine_kind_of(real)
    if path.exists() or "/" in target:
        raise UserError(f"{path} is not a job folder; pass a job folder, a run id or a job name.")
    job = get_job(target)
    return resolved(job.path), job.latest.engine_kind


def _targets(job_dir: Path, iteration: str | None, base: bool) -> list[int | None]:
    """Iterations to sample (``None``: the base weights)."""
    found = scan_checkpoints(job_dir / "checkpoints")
    done = [c for c in found if c.complete]
    picked: list[int | None] = []
    if iteration == "all":
        if not done:
            raise UserError(
                f"{job_dir} has no complete checkpoint yet; `--base` samples the initial weights."
            )
        picked = [c.iteration for c in done]
    elif iteration is None and base and not done:
        picked = []
    else:
        if iteration not in (None, "latest") and not str(iteration).isdigit():
            raise UsageError(f"--iter must be an iteration number, latest or all; got {iteration!r}.")
        number = None if iteration in (None, "latest") else int(str(iteration))
        if number is None and not done:
            raise UserError(
                f"{job_dir} has no complete checkpoint yet; `--base` samples the initial weights."
            )
        chosen = find_checkpoint(found, number)
        verdict = verify_checkpoint(chosen)
        if not verdict.ok:
            raise UserError(f"Not sampling: {verdict.message}")
        picked = [chosen.iteration]
    return [*picked, None] if base else picked


@dataclass(frozen=True)
class TrainerSamples:
    """The images an engine's trainer draws itself (Cosmos 3's ``EveryNDrawSample``), listed
    instead of sampling: nothing runs."""

    job_dir: Path
    folder: Path
    """Where the trainer writes them."""
    iterations: tuple[IterationSamples, ...]


def trainer_samples(target: str) -> TrainerSamples | None:
    """For a job whose engine draws its own samples while training (its adapter's
    ``sample_layout``: cosmos-tui runs no sampler for it): the images there; ``None`` otherwise."""
    job_dir, kind = resolve_job_dir(target)
    layout = get_adapter(kind).sample_layout
    if layout is None:
        return None
    return TrainerSamples(job_dir, job_dir / layout.folder, list_samples(job_dir, layout))


def _new_id(job_dir: Path) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in job_dir.name)[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{name}-{secrets.token_hex(2)}"


def plan_samples(
    target: str,
    requests: tuple[SampleRequest, ...],
    *,
    iteration: str | None = None,
    base: bool = False,
    steps: int = DEFAULT_STEPS,
    ema: bool | None = None,
    overwrite: bool = False,
) -> SamplePlan:
    """What sampling ``target`` would run: one engine command per checkpoint (and the base)."""
    if not 1 <= steps <= 1000:
        raise UsageError(f"--steps must be between 1 and 1000; got {steps}.")
    job_dir, kind = resolve_job_dir(target)
    adapter = get_adapter(kind)
    iterations = _targets(job_dir, iteration, base)
    job_id = _new_id(job_dir)
    folder = samples_root() / job_id
    context = sample_context(job_dir, kind)
    if adapter.runs_from_checkout and context is None:
        raise UserError(
            f"no recorded {kind} run on {job_dir} names its checkout (engine.repo); sample a job "
            "launched by cosmos-tui, whose run record holds it"
        )
    labels, outputs, commands, shown = [], [], [], []
    for it in iterations:
        label = "base" if it is None else f"iter_{it:09d}"
        out = contained(job_dir / "samples" / label, job_dir, what="the job folder")
        if (out / "index.json").exists() and not overwrite:
            raise UserError(f"{out} already holds samples; pass --yes to replace them.")
        request = SampleArgs(it, folder / PROMPTS_FILE, out, steps, ema, overwrite, requests, context)
        argv = adapter.sample_argv(job_dir, request)
        if argv is None:
            raise UserError(
                f"sampling is not yet supported for {kind} jobs (only the builtin engine's, for now)."
            )
        inference = adapter.inference_plan(job_dir, request)
        labels.append(label)
        outputs.append(str(out))
        commands.append(tuple(argv))
        if inference is not None:
            shown.append(inference.shell())
    job = SampleJob(
        id=job_id,
        folder=folder,
        job_dir=str(job_dir),
        engine_kind=kind,
        targets=tuple(labels),
        outputs=tuple(outputs),
        commands=tuple(commands),
        shown=tuple(shown),
        samples=len(requests),
        steps=steps,
        ema=ema,
        created_at=time.time(),
    )
    return SamplePlan(job, requests)


# -- launching and stopping ---------------------------------------------------------------------


def refuse_busy_outputs(job: SampleJob) -> None:
    """A :class:`UserError` when a running samples job draws into one of ``job``'s output folders
    (two samplers writing one folder would mix their samples and indexes)."""
    mine = {resolved(o) for o in job.outputs}
    for other in list_sample_jobs():
        if other.id == job.id or not is_drawing(other):
            continue
        pending = [o for t, o in zip(other.targets, other.outputs, strict=False) if t not in other.done]
        clash = sorted(str(o) for o in mine & {resolved(o) for o in pending})
        if clash:
            raise UserError(
                f"samples job {other.id} is drawing into {clash[0]} now; wait for it to end "
                f"(`cosmos-tui samples list`) or stop it (`cosmos-tui samples stop {other.id}`)."
            )


def start_samples(plan: SamplePlan) -> SampleJob:
    """Write the job's folder and start its supervisor in a session of its own; refused while
    another samples job draws into the same output folders (checked and recorded under one lock,
    so two starts at once cannot both pass)."""
    job = plan.job
    with flocked(samples_root() / LOCK_FILE):
        refuse_busy_outputs(job)
        job.folder.mkdir(parents=True)
        prompts = requests_json(plan.requests)
        write_contained(job.folder / PROMPTS_FILE, prompts, job.folder, what="the samples job's folder")
        # The record is written and its supervisor recorded under the job's lock, so a reader
        # reconciling meanwhile waits instead of finding a running job without a supervisor (lost).
        with flocked(job.folder / LOCK_FILE):
            write_job(job)
            with open(job.folder / "supervisor.log", "ab") as log:
                child = subprocess.Popen(
                    [sys.executable, "-m", "cosmos_tui.core.sampling.supervise", str(job.folder)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            ref = procs.ref_of(child.pid, "supervisor") or ProcRef(child.pid, None, "supervisor")
            current = dataclasses.replace(read_job(job.folder), supervisor=ref)
            write_job(current)
    return current


def wait_sample_job(ref: str, timeout: float | None = None, poll: float = 0.2) -> SampleJob:
    """Wait until the samples job ends (or ``timeout`` passes); returns its record."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get_sample_job(ref)
        if job.status != "running" or (deadline is not None and time.monotonic() > deadline):
            return job
        time.sleep(poll)


def stop_sample_job(ref: str, timeout: float = STOP_TIMEOUT_S) -> SampleJob:
    """Ask the supervisor to stop (it ends the engine and records ``stopped``); after ``timeout``
    kill the recorded engine and supervisor processes themselves. A lost job's sampler that
    still runs (its supervisor was killed) is ended the same way."""
    job = get_sample_job(ref)
    if job.status == "lost" and job.engine is not None and procs.alive(job.engine):
        procs.signal_if_same(job.engine, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while procs.alive(job.engine) and time.monotonic() < deadline:
            time.sleep(0.2)
        procs.signal_if_same(job.engine, signal.SIGKILL)
        return update_job(job.folder, reason="its supervisor was gone; `samples stop` ended its sampler")
    if job.status != "running":
        return job
    job = update_job(job.folder, stop_requested=True)
    if job.supervisor is not None:
        procs.signal_if_same(job.supervisor, signal.SIGTERM)
    job = wait_sample_job(job.id, timeout)
    if job.status == "running":
        for proc in (job.engine, job.supervisor):
            if proc is not None:
                procs.signal_if_same(proc, signal.SIGKILL)
        job = update_job(
            job.folder, status="stopped", ended_at=time.time(), reason="killed after a stop timed out"
        )
    return job
