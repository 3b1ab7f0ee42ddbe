"""Checks before a launch: each says ok, warn or fail in one sentence.

``cosmos-tui run`` refuses when any check fails (unless ``--force``) and prints the warnings. The
checks are quick on purpose: a structural look at the dataset (``cosmos-tui data validate`` does
the deep one), a bind on the port, a write probe in the output folder, free disk, visible GPUs,
the engine adapter's warnings (e.g. Transfer2.5's context parallelism), and a forecast of the
disk the run's checkpoints will take (the real average size for a resumed job; for a new builtin
job an estimate from the parameter count ``python -m cosmos_engine.info`` reports).
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core import fit_cache, jobconfig
from cosmos_tui.core.checkpoints.job_forecast import forecast_job
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.datasets.layouts import detect_layout, get_layout
from cosmos_tui.core.engines.base import LaunchSpec, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fit_requirements import judge, requirement_for
from cosmos_tui.core.launch import port_is_free
from cosmos_tui.core.machine_fit import detect_gpus
from cosmos_tui.core.monitor.gpus import default_sampler
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.units import human_bytes

Level = Literal["ok", "warn", "fail"]

MIN_FREE_BYTES = 512 << 20
"""Below this much free space in the output folder a launch fails."""
LOW_FREE_BYTES = 5 << 30
"""Below this much free space a launch warns."""


@dataclass(frozen=True)
class Check:
    """One preflight check's verdict."""

    name: str
    """Short name: ``preset``, ``engine``, ``dryrun``, ``dataset``, ``port``, ``output``, ``disk``,
    ``forecast``, ``gpus``, ``fit``, ``resume``."""
    level: Level
    """``ok``, ``warn`` or ``fail``."""
    message: str
    """One sentence: what was found and, if not ok, what to do."""


def failed(checks: list[Check]) -> list[Check]:
    """The checks that fail."""
    return [c for c in checks if c.level == "fail"]


def check_preset(preset: Preset) -> list[Check]:
    """The engine adapter's objections to the preset."""
    problems = get_adapter(preset.engine.kind).problems(preset)
    if problems:
        return [Check("preset", "fail", p) for p in problems]
    return [Check("preset", "ok", f"valid; engine {preset.engine.kind}, experiment {preset.experiment.name}")]


def _has_mp4(folder: Path) -> bool:
    try:
        return any(e.name.endswith(".mp4") for e in os.scandir(folder))
    except OSError:
        return False


def _count_mp4(folder: Path) -> int:
    try:
        return sum(e.name.endswith(".mp4") for e in os.scandir(folder))
    except OSError:
        return 0


def _default_dataset_dir(job_dir: Path | None) -> str | None:
    """The engine's own ``dataloader_train.dataset.dataset_dir``, from the dry run's config.yaml."""
    return jobconfig.settings(job_dir).dataset_dir if job_dir is not None else None


def check_dataset(preset: Preset, job_dir: Path | None = None) -> Check:
    """The dataset root exists and looks like its layout (folders and mp4s where the loader looks).

    The root is ``data.root``, else the experiment's default from the dry run's config.yaml; a
    relative path is taken from the folder the engine runs in (an upstream checkout's root)."""
    root_text, layout_id = preset.data.root, preset.data.layout
    source = "data.root"
    if not root_text:
        root_text, source = _default_dataset_dir(job_dir), "the experiment's default dataset_dir"
    if not root_text:
        if not get_adapter(preset.engine.kind).has_default_dataset:
            return Check(
                "dataset",
                "fail",
                "no dataset: data.root is not set and the experiment has no default; "
                "set one with --set data.root=PATH (`cosmos-tui data synth` makes a small one)",
            )
        return Check(
            "dataset",
            "warn",
            "no data.root set, so the engine uses its own default dataset_dir; "
            "set one with --set data.root=PATH",
        )
    root = Path(root_text).expanduser()
    if not root.is_absolute():
        try:
            root = get_adapter(preset.engine.kind).cwd(preset) / root
        except UserError:
            root = root.resolve()
    if source != "data.root" and not root.is_dir():
        return Check(
            "dataset",
            "fail",
            f"{root} ({source}) is not a folder; point data.root at your dataset with --set data.root=PATH",
        )
    if not root.is_dir():
        return Check("dataset", "fail", f"{root} is not a folder; point data.root at the dataset root")
    if not layout_id:
        return Check("dataset", "ok", f"{root} exists (no data.layout given, so its layout is not checked)")
    try:
        layout = get_layout(layout_id)
    except UserError as e:
        return Check("dataset", "fail", e.message)
    if layout.format != "folders":  # an index file, not video folders: the validator reads it
        return Check(
            "dataset", "ok", f"{root} exists; run `cosmos-tui data validate {root} --layout {layout_id}`"
        )
    video = layout.video
    folders = (
        [root / video.folder / d for d in layout.view_dirs()] if video.per_view else [root / video.folder]
    )
    empty = [f for f in folders if not _has_mp4(f)]
    if empty:
        shown = ", ".join(str(f.relative_to(root)) for f in empty[:3])
        return Check(
            "dataset",
            "fail",
            f"{root} does not look like {layout_id}: no .mp4 in {shown}; "
            f"run `cosmos-tui data validate {root} --layout {layout_id}`",
        )
    held_out = job_settings(preset, job_dir).val_clips  # the launch's override, else config.yaml
    if held_out:
        clips = _count_mp4(folders[0])
        if held_out >= clips:
            return Check(
                "dataset",
                "fail",
                f"dataloader_train.dataset.val_clips={held_out} holds out every clip of the {clips} "
                f"in {root}; lower it (--set dataloader_train.dataset.val_clips=N) or add clips",
            )
    detected = detect_layout(root)
    if detected and detected != layout_id:
        return Check("dataset", "warn", f"{root} looks like {detected}, not {layout_id}; check data.layout")
    return Check("dataset", "ok", f"{root} has the {layout_id} folders")


def check_port(preset: Preset) -> Check:
    """torchrun's master port is free on this machine (single-node runs)."""

    launch = preset.launch
    if launch.nnodes > 1 or launch.rdzv_endpoint:
        return Check("port", "ok", "multi-node rendezvous; the port is checked by torchrun on the host")
    if launch.master_port is None:
        return Check("port", "ok", "torchrun --standalone binds a free port at launch")
    if port_is_free(launch.master_port):
        return Check("port", "ok", f"port {launch.master_port} is free")
    return Check(
        "port",
        "fail",
        f"port {launch.master_port} is in use (another run?); unset launch.master_port "
        "or pick another with --set launch.master_port=N",
    )


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _shared_with_others(job_dir: Path, base: Path) -> str | None:
    """Why another local user could read or replace what the job writes, or ``None``. ``base``
    is the job folder or its nearest existing parent: owned by another user (root aside), or
    world-writable with the job folder still to be created in it (``/tmp``, where upstream's
    default output root lies), where anyone can create it first and own it."""
    try:
        st = base.stat()
    except OSError:
        return None
    if st.st_uid not in (os.geteuid(), 0):
        return (
            f"{base} belongs to another user (uid {st.st_uid}), who can read or replace what the job writes"
        )
    if base != job_dir and st.st_mode & stat.S_IWOTH:
        return (
            f"{job_dir} would be created in {base}, which every user can write "
            "(another user could create it first)"
        )
    return None


def check_output(job_dir: Path | None) -> list[Check]:
    """The job folder can be written, and its disk has room."""
    if job_dir is None:
        return [Check("output", "warn", "the job folder is not known before launch; it is found after")]
    base = _existing_parent(job_dir)
    if not os.access(base, os.W_OK | os.X_OK):
        return [
            Check(
                "output",
                "fail",
                f"cannot write {base} (for {job_dir}); set env.output_root to a folder you own",
            )
        ]
    checks = [Check("output", "ok", f"job folder {job_dir} is writable")]
    shared = _shared_with_others(job_dir, base)
    if shared:
        checks.append(Check("output", "warn", f"{shared}; set env.output_root to a folder you own"))
    free = shutil.disk_usage(base).free
    left = human_bytes(free)
    if free < MIN_FREE_BYTES:
        checks.append(Check("disk", "fail", f"only {left} free under {base}; free some space first"))
    elif free < LOW_FREE_BYTES:
        checks.append(Check("disk", "warn", f"only {left} free under {base}; checkpoints may not fit"))
    else:
        checks.append(Check("disk", "ok", f"{left} free under {base}"))
    return checks


def visible_gpus() -> int | None:
    """NVIDIA GPUs NVML sees, limited by ``CUDA_VISIBLE_DEVICES``; ``None`` when NVML is absent."""
    devices = default_sampler().inventory()
    if devices is None:
        return None
    count = len(devices)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = min(count, len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))
    return count


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask, as a container or ``taskset`` sets it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def nproc_problem(preset: Preset, gpus: int | None, cores: int | None = None) -> str | None:
    """Why ``launch.nproc_per_node`` does not fit this machine, in one sentence saying what to do:
    more ranks than GPUs on a GPU run, or than CPU cores on a CPU run (``None``: it fits, or the
    run is not a CPU run and there is no GPU, which :func:`check_gpus` fails on its own)."""
    nproc = preset.launch.nproc_per_node
    if gpus:
        if nproc > gpus:
            return (
                f"{gpus} GPU(s) visible but launch.nproc_per_node is {nproc}; "
                f"use --set launch.nproc_per_node={gpus}"
            )
        return None
    if get_adapter(preset.engine.kind).cpu_fallback is None:
        return None
    cores = cpu_cores() if cores is None else cores
    if nproc > cores:
        return (
            f"launch.nproc_per_node is {nproc} CPU processes but this machine has {cores} CPU core(s), "
            f"so the ranks would crowd each other and run slower; use --set launch.nproc_per_node={cores} "
            "or fewer"
        )
    return None


def check_gpus(preset: Preset, gpus: int | None = None, cores: int | None = None) -> Check:
    """Enough GPUs for nproc_per_node (fails when there are not), or the CPU fallback explained (a
    warning when it runs more ranks than there are CPU cores)."""
    gpus = visible_gpus() if gpus is None else gpus
    nproc = preset.launch.nproc_per_node
    cpu_fallback = get_adapter(preset.engine.kind).cpu_fallback
    problem = nproc_problem(preset, gpus, cores)
    if not gpus:
        if cpu_fallback is not None:
            if problem:
                return Check("gpus", "warn", f"no NVIDIA GPU visible: {problem}")
            return Check("gpus", "ok", "no NVIDIA GPU visible: " + cpu_fallback.format(nproc=nproc))
        return Check(
            "gpus",
            "fail",
            f"no NVIDIA GPU visible, and {preset.engine.kind} needs {nproc}; run on a GPU machine "
            "or check `nvidia-smi` and CUDA_VISIBLE_DEVICES",
        )
    if problem:
        return Check("gpus", "fail", problem)
    return Check("gpus", "ok", f"{gpus} GPU(s) visible for {nproc} process(es) per node")


def check_dryrun(preset: Preset, source: str, note: str | None) -> list[Check]:
    """When the engine's own ``--dryrun`` was tried and did not answer: a failure when it refused
    the config (the run would die the same way: an unknown key, a bad override), else a warning
    that the job folder (and the defaults read from the composed config) are cosmos-tui's own
    reckoning. Nothing when the dry run answered or none was run."""
    if source == "dryrun" or not note:
        return []
    if get_adapter(preset.engine.kind).dryrun_refuses(note):
        return [Check("dryrun", "fail", f"{note.rstrip('.')}; fix the override or preset it names")]
    fallback = (
        f"the job folder comes from {get_adapter(preset.engine.kind).job_dir_fallback}"
        if source == "adapter"
        else "the job folder is not known before launch"
    )
    return [
        Check(
            "dryrun",
            "warn",
            f"{note.rstrip('.')}; so {fallback}, not from the engine's composed config "
            "(fix what the dry run says, or check the job folder after launch)",
        )
    ]


def check_engine_warnings(preset: Preset) -> list[Check]:
    """What the engine adapter warns about though the command renders (never fatal)."""
    return [Check("engine", "warn", w) for w in get_adapter(preset.engine.kind).warnings(preset)]


def checkpoint_bytes_from_params(params: int, params_with_ema: int) -> int:
    """Bytes of one builtin-engine checkpoint: fp32 weights (and EMA weights) in ``model``, AdamW's
    two fp32 moments in ``optim``; ``scheduler`` and ``trainer`` are a few KB."""
    return 4 * params_with_ema + 8 * params + (64 << 10)


def estimate_checkpoint_bytes(preset: Preset) -> tuple[int | None, str]:
    """An estimate of one checkpoint's size for a job with no checkpoint yet, and where it came
    from (or why there is none: upstream checkpoint sizes are not published)."""
    found = get_adapter(preset.engine.kind).param_count(preset)
    if found is None:
        return None, f"no size estimate for {preset.engine.kind} checkpoints before the first save"
    if isinstance(found, str):
        return None, found
    params, with_ema = found
    return checkpoint_bytes_from_params(params, with_ema), f"estimated from {params:,} parameters"


def job_settings(preset: Preset, job_dir: Path | None) -> jobconfig.JobSettings:
    """``max_iter``, ``save_iter``, ``keep_last_n`` from the launch's overrides (the engine's config
    file's own first, :meth:`~.EngineAdapter.planned_overrides`), else the job's ``config.yaml``."""
    return jobconfig.settings(job_dir, get_adapter(preset.engine.kind).planned_overrides(preset))


def check_disk_forecast(preset: Preset, job_dir: Path | None) -> Check:
    """Will the checkpoints still to come fit? Saves remaining x checkpoint size vs free space."""

    if job_dir is None:
        return Check("forecast", "ok", "disk forecast skipped: the job folder is not known before launch")
    settings = job_settings(preset, job_dir)
    if not settings.max_iter or not settings.save_iter:  # known before the estimate is paid for
        return Check(
            "forecast",
            "ok",
            "disk forecast skipped: trainer.max_iter and checkpoint.save_iter are not known before launch",
        )
    ckdir = job_dir / "checkpoints"
    done = [c for c in scan_checkpoints(ckdir) if c.complete] if ckdir.is_dir() else []
    source = f"average of {len(done)} saved checkpoint(s)" if done else ""
    estimate = None
    if not done:
        estimate, source = estimate_checkpoint_bytes(preset)
        if estimate is None:
            why = source.rstrip(". ")
            return Check("forecast", "ok", f"disk forecast skipped: {why}; the dashboard forecasts live")
    result = forecast_job(ckdir, done, settings=settings, checkpoint_bytes=estimate)
    level: Level = {"fail": "fail", "warn": "warn"}.get(result.verdict, "ok")  # type: ignore[assignment]
    return Check("forecast", level, f"{result.message.rstrip('.')} (checkpoint size {source}).")


def check_fit(preset: Preset) -> Check:
    """Will it fit, cheaply: for upstream engines the requirements table against the GPUs NVML
    reports; for the builtin engine the last ``cosmos-tui fit`` probe of the same config (the probe
    itself takes seconds to minutes, so preflight never runs it)."""
    if get_adapter(preset.engine.kind).fit_module is None:
        req = requirement_for(preset)
        if req is None:
            return Check("fit", "ok", f"no requirement known for {preset.model.id}")
        verdict = judge(req, detect_gpus(), preset.launch.nnodes, preset.model.id)
        return Check("fit", "ok" if verdict.fits else "warn", verdict.message)
    cached = fit_cache.load_cached(preset)
    if cached is None:
        return Check(
            "fit",
            "ok",
            "not probed yet: `cosmos-tui fit PRESET` (same --set) measures memory, step time, ETA and cost",
        )
    return Check("fit", "ok" if cached.get("fits") else "warn", f"last probe: {fit_cache.one_line(cached)}")


def run_checks(preset: Preset, spec: LaunchSpec | None = None, job_dir: Path | None = None) -> list[Check]:
    """Every preflight check for launching ``preset`` (``spec`` and ``job_dir`` as resolved)."""
    job_dir = job_dir if job_dir is not None else (spec.job_dir if spec else None)
    checks = check_preset(preset)
    checks += check_engine_warnings(preset)
    checks.append(check_dataset(preset, job_dir))
    checks.append(check_port(preset))
    checks += check_output(job_dir)
    checks.append(check_disk_forecast(preset, job_dir))
    checks.append(check_gpus(preset))
    checks.append(check_fit(preset))
    return checks
