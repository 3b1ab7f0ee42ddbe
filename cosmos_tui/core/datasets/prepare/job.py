"""The recorded, resumable ``data prepare`` job: SRC's videos into OUT in the layout's form.

``OUT/.cosmos-tui-prepare/job.json`` records the settings (and their fingerprint) and the status;
``OUT/.cosmos-tui-prepare/done/<slug>.json`` marks one source video finished, with what it wrote
and what was dropped and why. Every file is written to a temp name and renamed, and a marker is
written only after its clip's files, so a kill at any moment leaves nothing half-written that
counts as done: the same command again sweeps the temp files and the outputs of unfinished
clips, skips the finished ones and goes on. Other settings on the same OUT are refused (``fresh``
starts over, clearing only the folders the job writes). SRC is only ever read.

Clips are prepared in worker processes (``jobs``, default: the cores this process may use), each
decoding and
encoding with one thread. Per-window hooks (``extra_steps``, e.g. controls or embeddings) run in
the worker after a window's video and caption are written (``worker.py``).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cosmos_tui.core.containment import contained, safe_rmtree, safe_unlink
from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.layouts import Layout, get_layout, min_frames_for
from cosmos_tui.core.datasets.prepare.caption_command import CaptionCommand
from cosmos_tui.core.datasets.prepare.clips import ClipCutter, ClipSettings, Dropped, Fit
from cosmos_tui.core.datasets.prepare.sources import (
    GroupViews,
    SourceClip,
    Sources,
    check_roots,
    gather,
)
from cosmos_tui.core.datasets.prepare.worker import (
    ClipStep,
    ItemResult,
    PreparedWindow,
    StepFailed,
    WorkerContext,
    caption_missing,
    init_worker,
    prepare_clip,
    run_item,
)
from cosmos_tui.core.datasets.prepare.writers import CaptionFormat, LayoutWriter, writer_for
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.datasets.vision_jsonl import MIN_WINDOW_FRAMES
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.preflight import cpu_cores
from cosmos_tui.core.safeio import CONFIG_CAP, RECORD_CAP, read_bytes_capped, read_text_capped

if TYPE_CHECKING:
    from cosmos_tui.core.datasets.findings import Report

__all__ = [
    "ClipStep",
    "FinishStep",
    "GroupViews",
    "Interrupted",
    "PrepareOptions",
    "PrepareResult",
    "PreparedWindow",
    "StepFailed",
    "prepare",
]

JOB_DIR = ".cosmos-tui-prepare"
JOB_FILE = f"{JOB_DIR}/job.json"
DONE_DIR = f"{JOB_DIR}/done"
VERSION = 1
_OWNED = "the output folder"


FinishStep = Callable[[Path, list[dict[str, Any]]], None]
"""A once-per-job hook, run in this process after every clip is done and before validation, with
OUT and every window kept (``{"name", "start", "frames", "fps", "size", "files", "caption"}``): what a whole
set needs once (Predict1's per-view prefix embeddings under ``cache/``). It writes under OUT only
(``paint.put`` with ``root=out``) and runs again on every resume, so it must be idempotent."""
Progress = Callable[[int, int, float], None]
"""``progress(done, total, elapsed_s)`` after each source video, from the calling thread."""


@dataclass(frozen=True)
class PrepareOptions:
    """Everything that decides what a job writes (all but ``jobs`` and the hooks are recorded)."""

    layout: str
    experiment: str | None = None
    frames: int | None = None
    """Frames per window (default: what the experiment, else the layout, needs)."""
    size: tuple[int, int] | None = None
    """Output (H, W) (default: the experiment's resolution; Cosmos 3: the source's)."""
    fit: Fit = "crop"
    max_crop: float = 0.25
    scene_threshold: float | None = 30.0
    max_windows: int | None = None
    captions_file: Path | None = None
    caption_command: str | None = None
    caption_timeout: float = 120.0
    caption_format: CaptionFormat = "auto"
    crf: int = 18
    preset: str = "veryfast"
    jobs: int | None = None
    extra_steps: tuple[ClipStep, ...] = ()
    finish_steps: tuple[FinishStep, ...] = ()
    group_views: GroupViews | None = None


@dataclass
class PlanItem:
    """A dry run's line: a source video and what it would give."""

    rel: str
    slug: str
    windows: int
    """Windows it would give at most (scene cuts can only lower it)."""
    reason: str | None
    """Why it would be dropped, or None."""
    done: bool = False
    """Finished by an earlier run of the same job."""
    files: list[str] = field(default_factory=list)


@dataclass
class PrepareResult:
    """What a job did (or, with ``dry_run``, would do)."""

    out: Path
    layout: str
    experiment: str | None
    frames: int
    size: tuple[int, int] | None
    sources: int
    clips: int
    """Windows written (in the whole job, earlier runs included)."""
    dropped: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    resumed: int
    """Source videos finished by an earlier run and skipped now."""
    elapsed_s: float
    dry_run: bool = False
    plan: list[PlanItem] = field(default_factory=list)
    report: Report | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok


class Interrupted(UserError):
    """Ctrl-C: the job stopped cleanly and resumes with the same command."""

    exit_code = 130


# ---------------------------------------------------------------- the job side


def _settings_record(
    opts: PrepareOptions, frames: int, size: tuple[int, int] | None, src: Path
) -> dict[str, Any]:
    captions_digest = None
    if opts.captions_file is not None:
        data = read_bytes_capped(opts.captions_file, CONFIG_CAP, what="captions file")
        captions_digest = hashlib.sha256(data).hexdigest()
    return {
        "src": str(src),
        "layout": opts.layout,
        "experiment": opts.experiment,
        "frames": frames,
        "size": list(size) if size else None,
        "fit": opts.fit,
        "max_crop": opts.max_crop,
        "scene_threshold": opts.scene_threshold,
        "max_windows": opts.max_windows,
        "captions_file": str(opts.captions_file) if opts.captions_file else None,
        "captions_sha256": captions_digest,
        "caption_command": opts.caption_command,
        "caption_format": opts.caption_format,
        "crf": opts.crf,
        "preset": opts.preset,
        "steps": [getattr(s, "__qualname__", repr(s)) for s in (*opts.extra_steps, *opts.finish_steps)],
        "group_views": getattr(opts.group_views, "__qualname__", None),
    }


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _read_json(path: Path, cap: int, what: str) -> dict[str, Any]:
    try:
        data = json.loads(read_text_capped(path, cap, what=what))
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is damaged ({e}); pass --fresh to start the job over.") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is damaged (not an object); pass --fresh to start the job over.")
    return data


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "; ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in keys[:4])


def _done_markers(out: Path) -> dict[str, dict[str, Any]]:
    folder = out / DONE_DIR
    done: dict[str, dict[str, Any]] = {}
    if folder.is_dir():
        for entry in os.scandir(folder):
            if entry.name.endswith(".json") and not entry.name.startswith("."):
                data = _read_json(Path(entry.path), RECORD_CAP, "prepare marker")
                done[data.get("slug", entry.name[:-5])] = data
    return done


_WINDOW_NAME = re.compile(r"^(?P<slug>.+)_\d{3,}\.[A-Za-z0-9]+$")
"""``<slug>_<nnn>.<ext>``: a window's video, caption, control or embedding."""


def _sweep(out: Path, writer: LayoutWriter, unfinished: set[str]) -> int:
    """Remove temp files (``.<name>.tmp``, also the job folder's) and the outputs of unfinished
    clips (an earlier run's, killed mid-clip)."""
    removed = 0
    for top in (*writer.outputs, JOB_DIR):
        base = out / top
        if not base.is_dir() or base.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for name in filenames:
                m = _WINDOW_NAME.match(name) if top != JOB_DIR else None
                stale = name.startswith(".") and name.endswith(".tmp")
                if stale or (m and m.group("slug") in unfinished):
                    safe_unlink(Path(dirpath) / name, out, what=_OWNED)
                    removed += 1
    return removed


def _resolve(opts: PrepareOptions) -> tuple[Layout, LayoutWriter, int, tuple[int, int] | None]:
    layout = get_layout(opts.layout)
    multiview = bool(layout.views) and opts.group_views is not None
    writer = writer_for(opts.layout, opts.experiment, opts.caption_format, multiview=multiview)
    frames = min_frames_for(layout, opts.experiment, opts.frames)
    if layout.format == "vision-jsonl" and frames < MIN_WINDOW_FRAMES:
        raise UsageError(
            f"--frames {frames} is too few for Cosmos 3: the loader drops windows shorter than "
            f"{MIN_WINDOW_FRAMES} frames; pass --frames {MIN_WINDOW_FRAMES} or more."
        )
    size = opts.size if opts.size is not None else layout.resolution_for(opts.experiment)
    if size is not None:
        h, w = size
        if h < 16 or w < 16 or h % 2 or w % 2:
            raise UsageError(f"--size {h}x{w} is not usable: height and width must be even and at least 16.")
    if not 0.0 <= opts.max_crop < 1.0:
        raise UsageError(f"--max-crop must be from 0 to below 1, not {opts.max_crop:g}.")
    if opts.max_windows is not None and opts.max_windows < 1:
        raise UsageError(f"--windows-per-clip must be at least 1, not {opts.max_windows}.")
    provided = {f for s in (*opts.extra_steps, *opts.finish_steps) for f in getattr(s, "provides", ())}
    for vs in layout.videos[1:]:
        if layout.set_needed(vs, opts.experiment) and vs.folder not in provided:
            raise UsageError(
                f"experiment {opts.experiment} needs {vs.folder}/ control videos ({vs.description}), "
                "which data prepare does not make from raw videos yet; pick an experiment without them."
            )
    if layout.embeddings is not None and layout.embeddings.clip_folder not in provided:
        raise UsageError(
            f"{layout.id} needs T5 text embeddings ({layout.embeddings.clip_folder}/), and no step of "
            "this job computes them."
        )
    return layout, writer, frames, size


def _plan(
    sources: list[SourceClip],
    settings: ClipSettings,
    writer: LayoutWriter,
    out: Path,
    done: dict[str, dict[str, Any]],
    has_command: bool,
) -> list[PlanItem]:
    items = []
    for clip in sources:
        item = PlanItem(clip.rel, clip.slug, 0, None, done=clip.slug in done)
        cutter = ClipCutter(clip.path, settings, lambda i: out, out)
        try:
            info = cutter.check()
            problem = caption_missing(clip, has_command)
            if problem:
                raise Dropped(problem)
            n = info.frames // settings.frames if info.frames else 1
            item.windows = min(n, settings.max_windows or n)
        except Dropped as e:
            item.reason = str(e)
        for i in range(item.windows):
            name = f"{clip.slug}_{i:03d}"
            for view in [v for v, _ in writer.view_dirs] or [None]:
                item.files.append(os.path.relpath(writer.video_path(out, name, view), out))
            if writer.caption_path:
                item.files.append(writer.caption_path.format(name=name))
        items.append(item)
    return items


def prepare(
    src: Path,
    out: Path,
    opts: PrepareOptions,
    *,
    dry_run: bool = False,
    fresh: bool = False,
    progress: Progress | None = None,
    validate_result: bool = True,
    stop: Callable[[], bool] | None = None,
) -> PrepareResult:
    """Run (or resume) the job that prepares SRC into OUT; see the module docstring. ``stop``
    (asked after each source video) ends it the way Ctrl-C does, for a caller in another thread."""
    started = time.perf_counter()
    _, writer, frames, size = _resolve(opts)
    command = (
        CaptionCommand.parse(opts.caption_command, opts.caption_timeout) if opts.caption_command else None
    )
    src_r, out_r = check_roots(src, out)
    settings = ClipSettings(
        frames=frames,
        size=size,
        fit=opts.fit,
        max_crop=opts.max_crop,
        scene_threshold=opts.scene_threshold,
        max_windows=opts.max_windows,
        max_seconds=writer.max_seconds,
        crf=opts.crf,
        preset=opts.preset,
    )
    if out_r.exists() and not out_r.is_dir():
        raise UserError(f"{out} exists and is not a folder; pick another OUT.")
    args = (src_r, out_r, out, opts, writer, settings, command, fresh, progress, validate_result, started)
    if dry_run:
        return _prepare(*args, dry_run=True)
    _refuse_foreign(out_r, out)  # before anything is created there
    out_r.mkdir(parents=True, exist_ok=True)
    with _locked(out_r, out):
        return _prepare(*args, dry_run=False, stop=stop)


def _refuse_foreign(out_r: Path, out: Path) -> None:
    """A :class:`UserError` for an OUT that holds files but no prepare job (only the job folder,
    left by a run killed before it wrote its record, counts as empty)."""
    if (
        out_r.is_dir()
        and not (out_r / JOB_FILE).is_file()
        and any(e.name != JOB_DIR for e in out_r.iterdir())
    ):
        raise UserError(
            f"{out} is not empty and holds no data-prepare job; pick an empty or new OUT so nothing "
            "of yours is overwritten."
        )


def _prepare(
    src_r: Path,
    out_r: Path,
    out: Path,
    opts: PrepareOptions,
    writer: LayoutWriter,
    settings: ClipSettings,
    command: CaptionCommand | None,
    fresh: bool,
    progress: Progress | None,
    validate_result: bool,
    started: float,
    *,
    dry_run: bool,
    stop: Callable[[], bool] | None = None,
) -> PrepareResult:
    frames, size = settings.frames, settings.size
    record = _settings_record(opts, frames, size, src_r)
    fingerprint = _fingerprint(record)
    job_file = out_r / JOB_FILE
    existing = _read_json(job_file, CONFIG_CAP, "prepare job record") if job_file.is_file() else None
    if existing is None:
        _refuse_foreign(out_r, out)
    if existing is not None and existing.get("fingerprint") != fingerprint and not fresh:
        raise UsageError(
            f"{out} holds a data-prepare job with other settings "
            f"({_differences(existing.get('settings', {}), record)}); "
            "run the same command as before to resume it, or pass --fresh to start over there."
        )
    sources = gather(src_r, opts.captions_file, opts.group_views, get_layout(opts.layout))
    if existing is not None and fresh and not dry_run:
        for top in (*writer.outputs, *_layout_outputs(existing), JOB_FILE, DONE_DIR):  # the lock stays
            safe_rmtree(out_r / top, out_r, what=_OWNED)
        existing = None
    done = _done_markers(out_r) if existing is not None and not (fresh and dry_run) else {}
    if dry_run:
        plan = _plan(sources.clips, settings, writer, out_r, done, command is not None)
        return PrepareResult(
            out_r,
            opts.layout,
            opts.experiment,
            frames,
            size,
            len(sources.clips),
            sum(p.windows for p in plan),
            [*sources.dropped, *((p.rel, p.reason) for p in plan if p.reason)],
            sources.skipped,
            sum(p.done for p in plan),
            time.perf_counter() - started,
            dry_run=True,
            plan=plan,
        )

    return _run_job(
        src_r,
        out_r,
        opts,
        writer,
        settings,
        command,
        record,
        fingerprint,
        existing,
        sources,
        done,
        progress,
        validate_result,
        started,
        stop,
    )


@contextmanager
def _locked(out_r: Path, out: Path) -> Iterator[None]:
    """Hold ``OUT/.cosmos-tui-prepare/lock`` (``flock``: the kernel frees it when the process dies,
    so a kill -9 leaves no stale lock); a second job on the same OUT is refused."""
    import fcntl  # deferred: POSIX only

    folder = out_r / JOB_DIR
    contained(folder, out_r, what=_OWNED)
    folder.mkdir(exist_ok=True)
    path = folder / "lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(
                f"another data prepare is writing {out} now; wait for it to finish (or stop it), "
                "then run this command again."
            ) from None
        yield
    finally:
        os.close(fd)


def _run_job(
    src_r: Path,
    out_r: Path,
    opts: PrepareOptions,
    writer: LayoutWriter,
    settings: ClipSettings,
    command: CaptionCommand | None,
    record: dict[str, Any],
    fingerprint: str,
    existing: dict[str, Any] | None,
    sources: Sources,
    done: dict[str, dict[str, Any]],
    progress: Progress | None,
    validate_result: bool,
    started: float,
    stop: Callable[[], bool] | None = None,
) -> PrepareResult:
    job_file = out_r / JOB_FILE
    job = {
        "version": VERSION,
        "fingerprint": fingerprint,
        "settings": record,
        "status": "running",
        "outputs": list(writer.outputs),
        "started": existing.get("started") if existing else time.time(),
    }
    paint.put(job_file, json.dumps(job, indent=2) + "\n", out_r)
    todo = [c for c in sources.clips if c.slug not in done]
    _sweep(out_r, writer, {c.slug for c in todo})
    ctx = WorkerContext(out_r, writer, settings, command, opts.extra_steps, opts.layout, opts.experiment)
    resumed = len(sources.clips) - len(todo)
    total = len(sources.clips)

    count = [resumed]

    def finished(res: ItemResult) -> None:
        paint.put(out_r / DONE_DIR / f"{res.slug}.json", json.dumps(asdict(res)) + "\n", out_r)
        done[res.slug] = asdict(res)
        count[0] += 1
        if progress is not None:
            progress(count[0], total, time.perf_counter() - started)

    if progress is not None:
        progress(resumed, total, 0.0)
    _run_all(todo, ctx, opts.jobs, finished, lambda: count[0], total, stop)

    results = [done[c.slug] for c in sources.clips if c.slug in done]
    writer.finish(out_r, [r for res in results for r in res["records"]])
    kept = [w for res in results for w in res["windows"]]
    for step in opts.finish_steps:
        step(out_r, kept)
    clips = sum(len(r["windows"]) for r in results)
    dropped = [*sources.dropped, *((d[0], d[1]) for r in results for d in r["dropped"])]
    job.update(status="complete", finished=time.time(), clips=clips, dropped=dropped, skipped=sources.skipped)
    paint.put(job_file, json.dumps(job, indent=2) + "\n", out_r)
    result = PrepareResult(
        out_r,
        opts.layout,
        opts.experiment,
        settings.frames,
        settings.size,
        total,
        clips,
        dropped,
        sources.skipped,
        resumed,
        time.perf_counter() - started,
    )
    if validate_result:
        result.report = validate(out_r, opts.layout, experiment=opts.experiment, min_frames=opts.frames)
    return result


def _layout_outputs(job: dict[str, Any]) -> tuple[str, ...]:
    """The output folders an earlier job recorded (only plain top-level names)."""
    names = job.get("outputs") or ()
    return tuple(n for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", ".."))


def _run_all(
    todo: list[SourceClip],
    ctx: WorkerContext,
    jobs: int | None,
    finished: Callable[[ItemResult], None],
    done: Callable[[], int],
    total: int,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Prepare ``todo`` in ``jobs`` worker processes (inline for one), calling ``finished`` in this
    thread as each is done; Ctrl-C (or ``stop()`` turning true) stops after the clips in hand
    (:class:`Interrupted`)."""

    def check() -> None:
        if stop is not None and stop():
            raise KeyboardInterrupt

    if jobs is None:
        jobs = cpu_cores()  # the affinity mask a container or Slurm sets, not the host's cores
    n = max(1, min(jobs, len(todo) or 1))
    if n == 1:
        try:
            for clip in todo:
                try:
                    res = prepare_clip(clip, ctx)
                except OSError as e:
                    raise _write_failed(clip, e) from None
                finished(res)
                check()
        except KeyboardInterrupt:
            raise _interrupted(ctx.out, done(), total) from None
        return
    # spawn: no fork of a process that may run threads (the TUI); each worker imports PyAV once
    _start_resource_tracker()
    pool = ProcessPoolExecutor(
        n, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker, initargs=(ctx,)
    )
    queue = iter(todo)
    running: dict[Future[ItemResult], SourceClip] = {}
    try:
        for clip in queue:
            running[pool.submit(run_item, clip)] = clip
            if len(running) >= 2 * n:
                break
        while running:
            ready, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in ready:
                clip = running.pop(fut)
                try:
                    res = fut.result()
                except UserError:
                    raise
                except OSError as e:
                    raise _write_failed(clip, e) from None
                finished(res)
                check()
                nxt = next(queue, None)
                if nxt is not None:
                    running[pool.submit(run_item, nxt)] = nxt
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        raise _interrupted(ctx.out, done(), total) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a stderr it can pass on. Under a TUI
    ``sys.stderr`` is a capture whose ``fileno()`` is -1 (Textual's), and the tracker's spawn then
    fails with "bad value(s) in fds_to_keep"; there it gets /dev/null (it only warns of leaks)."""
    from multiprocessing import resource_tracker  # deferred: only when worker processes start

    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (OSError, ValueError, AttributeError):
        usable = False
    if usable:
        return
    saved = sys.stderr
    with open(os.devnull, "w") as sink:
        sys.stderr = sink
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


def _write_failed(clip: SourceClip, e: OSError) -> UserError:
    return UserError(
        f"preparing {clip.rel} failed ({e.strerror or e}); fix it (disk space? permissions?) and run "
        "the same command again to resume."
    )


def _interrupted(out: Path, done: int, total: int) -> Interrupted:
    return Interrupted(
        f"stopped: {done} of {total} source videos are done and kept in {out}; run the same command "
        "again to resume where it stopped."
    )
