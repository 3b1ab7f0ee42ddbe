"""What a worker process does for one source video (or one multiview clip): cut every view's
windows, caption each (the person's caption, else their caption command), write its caption file
or index record, and run the job's per-window steps (:data:`ClipStep`, the extension point for
controls and embeddings). A window a step or the caption command fails on is removed and said.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import safe_unlink
from cosmos_tui.core.datasets.prepare.caption_command import CaptionCommand, CaptionFailed
from cosmos_tui.core.datasets.prepare.clips import ClipCutter, ClipSettings, Dropped, Window
from cosmos_tui.core.datasets.prepare.sources import Caption, SourceClip
from cosmos_tui.core.datasets.prepare.writers import LayoutWriter

_OWNED = "the output folder"


@dataclass(frozen=True)
class PreparedWindow:
    """What a per-window step gets: one window written under ``out``."""

    name: str
    """The clip name in the layout (``<slug>_<nnn>``)."""
    window: Window
    source: Path
    source_rel: str
    caption: Caption | None
    out: Path
    layout_id: str
    experiment: str | None
    views: dict[str | None, Window] = field(default_factory=dict)
    """Every view's window (multiview: view name -> window; single view: ``{None: window}``)."""


class StepFailed(Exception):
    """Raised by a step to drop its window; the message is the reason."""


ClipStep = Callable[[PreparedWindow], Iterable[Path] | None]
"""A per-window hook (a module-level function, so it reaches the worker processes), run after the
window's video and caption are written. It may write files under ``out`` (through
``paint.put``/``paint.write_mp4`` with ``root=out``, named ``<name>.<ext>`` so a resume sweeps a
half-done clip's) and returns them; :class:`StepFailed` drops the window. An optional ``provides``
attribute names the video folders it fills (``("depth",)``)."""


@dataclass
class ItemResult:
    """What one source video gave."""

    rel: str
    slug: str
    windows: list[dict[str, Any]] = field(default_factory=list)
    """``{"name", "start", "frames", "fps", "size", "files", "caption"}`` of each window kept."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """Index records (Cosmos 3)."""
    dropped: list[list[str]] = field(default_factory=list)
    """``[what, reason]``: the source (nothing kept) or one window of it."""
    note: str | None = None
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class WorkerContext:
    """What every clip of a job shares (sent once to each worker process)."""

    out: Path
    writer: LayoutWriter
    settings: ClipSettings
    command: CaptionCommand | None
    steps: tuple[ClipStep, ...]
    layout_id: str
    experiment: str | None


_CTX: WorkerContext | None = None


def init_worker(ctx: WorkerContext) -> None:
    global _CTX
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _CTX = ctx


def _remove(paths: Iterable[Path], out: Path) -> None:
    for p in paths:
        safe_unlink(p, out, what=_OWNED)


def run_item(clip: SourceClip) -> ItemResult:
    assert _CTX is not None
    return prepare_clip(clip, _CTX)


NO_CAPTION = "no caption: give a .txt beside it, a --captions file entry, or --caption-command"


def caption_missing(clip: SourceClip, has_command: bool) -> str | None:
    if clip.caption_problem:
        return f"no caption: {clip.caption_problem}"
    if clip.caption is None and not has_command:
        return NO_CAPTION
    return None


def _cut(clip: SourceClip, ctx: WorkerContext, res: ItemResult) -> list[dict[str | None, Window]]:
    """Phase one: every view's windows (single view: the view ``None``); the other views of a
    multiview clip are cut where its first view's windows are. Only windows every view has are
    kept (the others' files removed, each said); :class:`Dropped` when none is left."""
    w, out = ctx.writer, ctx.out
    views: dict[str | None, Path] = dict(clip.views) if clip.views else {None: clip.path}
    order = list(views)

    def target(view: str | None) -> Callable[[int], Path]:
        return lambda i: w.video_path(out, f"{clip.slug}_{i:03d}", view)

    cutters = {v: ClipCutter(p, ctx.settings, target(v), out) for v, p in views.items()}
    for v, cutter in cutters.items():
        try:
            cutter.check()  # unreadable, too short, wrong aspect: said before any caption problem
        except Dropped as e:
            raise Dropped(f"{v}: {e}" if v else str(e)) from None
    rates = {v: c.info.fps for v, c in cutters.items() if c.info is not None}
    if w.layout.fps_must_match and len({round(r, 3) for r in rates.values()}) > 1:
        raise Dropped(
            "views differ in frame rate (" + ", ".join(f"{v} {r:g}" for v, r in rates.items()) + ")"
        )
    problem = caption_missing(clip, ctx.command is not None)
    if problem:
        raise Dropped(problem)
    got: dict[str | None, dict[int, Window]] = {}
    for v in order:
        cutter = cutters[v]
        if v != order[0]:
            cutter.starts = tuple((i, win.start) for i, win in got[order[0]].items())
        try:
            got[v] = {win.index: win for win in cutter.windows()}
        except Dropped as e:
            if v == order[0]:
                raise Dropped(f"{v}: {e}" if v else str(e)) from None
            got[v] = {}
        if cutter.note:
            res.note = f"{v}: {cutter.note}" if v else cutter.note
    complete = []
    for i in got[order[0]]:
        short = [v for v in order if i not in got[v]]
        if short:
            _remove((got[v][i].path for v in order if i in got[v]), out)
            res.dropped.append(
                [f"{clip.rel} window {i}", f"view(s) {', '.join(map(str, short))} end before it"]
            )
        else:
            complete.append({v: got[v][i] for v in order})
    if not complete:
        raise Dropped("no window is whole in every view")
    return complete


def prepare_clip(clip: SourceClip, ctx: WorkerContext) -> ItemResult:
    """Cut, encode and caption one source video, or one multiview clip (in a worker process)."""
    started = time.perf_counter()
    res = ItemResult(clip.rel, clip.slug)
    w = ctx.writer
    try:
        windows = _cut(clip, ctx, res)
    except Dropped as e:
        res.dropped.append([clip.rel, str(e)])
        windows = []
    for views in windows:  # phase two: caption, index record and the per-window steps
        window = next(iter(views.values()))
        name = f"{clip.slug}_{window.index:03d}"
        files = [v.path for v in views.values()]
        try:
            caption = clip.caption
            if caption is None:
                assert ctx.command is not None
                caption = Caption(ctx.command.run(window.path, clip.path), None, "command")
            cap = w.write_caption(ctx.out, name, caption)
            if cap is not None:
                files.append(cap)
            record = w.record(name, window, caption)
            here = PreparedWindow(
                name, window, clip.path, clip.rel, caption, ctx.out, ctx.layout_id, ctx.experiment, views
            )
            for step in ctx.steps:
                files.extend(step(here) or ())
        except (CaptionFailed, StepFailed) as e:
            _remove(files, ctx.out)
            res.dropped.append([f"{clip.rel} window {window.index}", str(e)])
            continue
        if record is not None:
            res.records.append(record)
        res.windows.append(
            {
                "name": name,
                "start": window.start,
                "frames": window.frames,
                "fps": window.fps,
                "size": list(window.size),
                "files": [os.path.relpath(f, ctx.out) for f in files],
                "caption": caption.text,  # what a once-per-job step (T5 embeddings) encodes
            }
        )
    res.elapsed_s = time.perf_counter() - started
    return res
