"""One validator, driven by the layout spec: what would the loader open, and would it work?

Folder and name checks (views, clip names across views and modalities, captions, embedding file
names) run on directory listings in the calling thread. Per-clip checks (open every video with
PyAV, count frames, read embeddings with the restricted unpickler, read captions) run in a thread
pool, in bounded chunks, so memory stays flat with the clip count; PyAV releases the GIL while it
opens and decodes, so threads spread over the cores without process start-up costs.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from cosmos_tui.core.datasets.captions import (
    STAND_IN,
    CaptionPlan,
    check_clip,
    fallback_title,
    orphans,
    plan_captions,
)
from cosmos_tui.core.datasets.embeddings import check_embedding
from cosmos_tui.core.datasets.findings import Report, Tally, ValidationPass
from cosmos_tui.core.datasets.layouts import (
    Layout,
    get_layout,
    is_builtin_experiment,
    min_frames_for,
)
from cosmos_tui.core.datasets.lerobot_v3 import validate_lerobot_v3
from cosmos_tui.core.datasets.names import RULE_TEXT, companion_stem
from cosmos_tui.core.datasets.probe import ProbeError, VideoInfo, probe_video
from cosmos_tui.core.datasets.vision_jsonl import validate_vision_jsonl
from cosmos_tui.core.datasets.walk import check_file, scan_entries
from cosmos_tui.core.errors import UserError

Progress = Callable[[int, int], None]
"""Called as ``progress(clips_done, clips_total)`` from the calling thread."""

GOOD_CODECS = frozenset({"h264", "hevc", "mpeg4", "vp9", "av1"})
CHUNK = 32


@dataclass
class _Listing:
    """Directory listings: names of clips per (folder, view dir), captions, embeddings."""

    videos: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)
    captions: CaptionPlan | None = None
    t5: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)  # view -> (.pkl, .pickle)


def _scan(
    folder: Path,
    ext: str,
    tally: Tally,
    rel: str,
    *,
    flag_others: bool,
    hidden: bool = False,
    again: bool = False,
) -> tuple[set[str], set[str]]:
    """Stems of files ending in ``ext`` in ``folder`` and names of sub-folders; flags other files.

    Hidden names are skipped, except names ending in ``ext`` when ``hidden`` (a loader that lists
    the folder opens ``._clip.mp4``, the macOS resource file, as a clip). ``again``: the folder was
    scanned already, its file-system findings are not repeated.
    """
    stems: set[str] = set()
    dirs: set[str] = set()
    report = (lambda fid, example: None) if again else tally.add
    for e in scan_entries(folder, rel, report):  # file-system errors become findings
        if e.name.startswith(".") and not (hidden and e.name.endswith(ext) and e.kind != "dir"):
            continue
        if e.kind == "dir":
            dirs.add(e.name)
        elif e.kind == "other":
            continue  # a symlink loop, a device, an entry that cannot be looked at: reported
        elif e.name.endswith(ext):
            stems.add(e.name[: -len(ext)])
        elif e.kind == "broken":
            tally.add("broken-symlink", f"{rel}/{e.name} -> {os.readlink(e.path)}".lstrip("/"))
        elif flag_others:
            tally.add("not-mp4", f"{rel}/{e.name}")
    return stems, dirs


def _every_entry(folder: Path, rel: str, tally: Tally) -> None:
    """A loader that opens every entry of ``folder`` as a video: what is not an .mp4 file fails it."""
    with os.scandir(folder) as it:
        for e in sorted(it, key=lambda e: e.name):
            try:
                is_dir = e.is_dir()
            except OSError:  # a symlink loop: the file-system finding names it
                continue
            if is_dir:
                tally.add("listed-non-video", f"{rel}/{e.name}/ (a folder)")
            elif not e.name.endswith(".mp4"):
                tally.add("listed-non-video", f"{rel}/{e.name}")


def _list(root: Path, spec: Layout, experiment: str | None, tally: Tally) -> _Listing:
    listing = _Listing()
    view_dirs = spec.view_dirs()
    for vs in spec.videos:
        listed = vs.role == "video" and spec.clip_list != "caption-stems"  # the loader lists it
        needed = spec.set_needed(vs, experiment)
        base = root / vs.folder
        if needed is False:
            continue
        if not base.is_dir():
            if vs.role == "video" or needed:
                tally.add("missing-folder", f"{vs.folder}/ ({vs.description})")
            continue
        if not vs.per_view:
            stems, dirs = _scan(base, ".mp4", tally, vs.folder, flag_others=True, hidden=listed)
            for d in sorted(dirs):
                tally.add("unknown-view", f"{vs.folder}/{d}/ (this layout has no view folders)")
            listing.videos[(vs.folder, None)] = stems
            continue
        stems, dirs = _scan(base, ".mp4", tally, vs.folder, flag_others=True)
        for s in sorted(stems):
            tally.add("orphan-file", f"{vs.folder}/{s}.mp4 (not in a view folder)")
        for d in sorted(dirs - set(view_dirs)):
            tally.add("unknown-view", f"{vs.folder}/{d}/ (views: {', '.join(view_dirs)})")
        for vd in view_dirs:
            if vd not in dirs:
                tally.add("missing-view", f"{vs.folder}/{vd}/")  # not also every clip in it
                continue
            first = listed and vd == view_dirs[0]  # the folder the loader lists
            every = first and spec.clip_list == "every-entry"
            if every:
                _every_entry(base / vd, f"{vs.folder}/{vd}", tally)
            listing.videos[(vs.folder, vd)] = _scan(
                base / vd, ".mp4", tally, f"{vs.folder}/{vd}", flag_others=not every, hidden=first
            )[0]
    listing.captions, refusal = plan_captions(root, spec, experiment, tally.add)
    if refusal:
        tally.add("no-captions", refusal)
    emb = spec.embeddings
    if emb is not None:
        t5_root = root / emb.clip_folder
        if not t5_root.is_dir():
            tally.add("missing-folder", f"{emb.clip_folder}/ (per-clip T5 embeddings)")
        else:
            for view in spec.views:
                folder = t5_root / view
                if folder.is_dir():
                    rel = f"{emb.clip_folder}/{view}"
                    pkl = _scan(folder, emb.ext, tally, rel, flag_others=False)[0]
                    pickle_ = _scan(folder, emb.wrong_ext, tally, rel, flag_others=False, again=True)[0]
                    listing.t5[view] = (pkl, pickle_)
                elif view in emb.clip_views_read:
                    tally.add("missing-view", f"{emb.clip_folder}/{view}/")
    return listing


def _cross_checks(
    root: Path, spec: Layout, experiment: str | None, listing: _Listing, tally: Tally
) -> list[str]:
    """Name checks across views and modalities; returns the sorted clip names."""
    video = spec.video
    per_view = [(vd, names) for (folder, vd), names in listing.videos.items() if folder == video.folder]
    clips: set[str] = set().union(*(names for _, names in per_view)) if per_view else set()
    if not clips:
        if per_view:
            tally.add("no-clips", f"{video.folder}/ has no .mp4 files")
        if spec.embeddings is not None:
            _check_prefixes(root, spec, tally)
        return []  # names elsewhere cannot be matched against nothing
    if len(per_view) > 1:
        for vd, names in per_view:
            for clip in sorted(clips - names):
                tally.add("clip-missing-in-view", f"{clip}: no {video.folder}/{vd}/{clip}.mp4", subject=clip)
    _check_names(spec, listing, sorted(clips), tally)
    for (folder, vd), names in listing.videos.items():
        if folder == video.folder:
            continue
        where = f"{folder}/{vd}" if vd else folder
        wanted = {clip: companion_stem(clip, ".mp4", spec.names) for clip in clips}
        for clip in sorted(clips):
            if wanted[clip] not in names:
                tally.add("missing-control", f"{clip}: no {where}/{wanted[clip]}.mp4", subject=clip)
        for name in sorted(names - set(wanted.values())):
            tally.add("orphan-file", f"{where}/{name}.mp4")
    if listing.captions is not None:
        stems = {companion_stem(clip, ext, spec.names) for clip in clips for ext in (".json", ".txt")}
        for rel in orphans(listing.captions, stems):
            tally.add("orphan-file", rel)
    emb = spec.embeddings
    if emb is not None and listing.t5:
        stems = {clip: companion_stem(clip, emb.ext, spec.names) for clip in clips}
        for view, (pkl, pickle_) in listing.t5.items():
            for name in sorted((pkl | pickle_) - set(stems.values())):
                tally.add(
                    "orphan-file",
                    f"{emb.clip_folder}/{view}/{name}{emb.ext if name in pkl else emb.wrong_ext}",
                )
            if view not in emb.clip_views_read:
                continue
            for clip in sorted(clips):
                stem = stems[clip]
                if stem in pkl:
                    continue
                if stem in pickle_:
                    tally.add(
                        "wrong-pickle-ext", f"{emb.clip_folder}/{view}/{stem}{emb.wrong_ext}", subject=clip
                    )
                else:
                    where = f"{emb.clip_folder}/{view}/{stem}{emb.ext}"
                    tally.add("missing-embedding", f"{clip}: no {where}", subject=clip)
    if emb is not None:
        _check_prefixes(root, spec, tally)
    return sorted(clips)


def _companions(
    spec: Layout, clip: str, controls: set[str], captions: CaptionPlan | None
) -> list[tuple[str, str]]:
    """``(path, stem)`` of the files the loader opens beside video ``clip`` (captions, ``controls``, T5)."""
    out = []
    if captions is not None:
        for s in captions.read:
            stem = companion_stem(clip, s.ext, spec.names)
            out.append((f"{s.folder}/{stem}{s.ext}", stem))
    for vs in spec.videos[1:]:
        if vs.folder not in controls:
            continue
        stem = companion_stem(clip, ".mp4", spec.names)
        view = f"{spec.view_dirs()[0]}/" if vs.per_view else ""
        out.append((f"{vs.folder}/{view}{stem}.mp4", stem))
    if spec.embeddings is not None:
        e = spec.embeddings
        stem = companion_stem(clip, e.ext, spec.names)
        out.append((f"{e.clip_folder}/{e.clip_views_read[0]}/{stem}{e.ext}", stem))
    return out


def _check_names(spec: Layout, listing: _Listing, clips: list[str], tally: Tally) -> None:
    """Video names the loader turns into other companion names than ``<clip>.<ext>``."""
    view = f"{spec.view_dirs()[0]}/" if spec.video.per_view else ""
    controls = {folder for folder, _ in listing.videos}  # the control sets this experiment opens
    for clip in clips:
        odd = [path for path, stem in _companions(spec, clip, controls, listing.captions) if stem != clip]
        if odd:
            tally.add(
                "mangled-name",
                f"{spec.video.folder}/{view}{clip}.mp4: the loader {RULE_TEXT[spec.names]}, "
                f"so it opens {', '.join(odd)}",
                subject=clip,
            )


def _check_prefixes(root: Path, spec: Layout, tally: Tally) -> None:
    emb = spec.embeddings
    assert emb is not None
    cache = root / emb.prefix_folder
    if not cache.is_dir():
        tally.add("missing-folder", f"{emb.prefix_folder}/ (per-view prefix embeddings)")
        return
    for view in spec.views:
        right = emb.prefix_stem.format(view=view)
        wrong = emb.wrong_prefix_stem.format(view=view)
        path = cache / f"{right}{emb.ext}"
        if not path.is_file() and not path.is_symlink():
            alternatives = [(right, emb.wrong_ext, "wrong-pickle-ext")] + [
                (wrong, ext, "wrong-prefix-name") for ext in (emb.ext, emb.wrong_ext)
            ]
            for stem, ext, fid in alternatives:
                alt = cache / f"{stem}{ext}"
                if alt.is_file():
                    tally.add(fid, f"{emb.prefix_folder}/{alt.name} (loader opens {right}{emb.ext})")
                    path = alt
                    break
            else:
                tally.add("missing-prefix", f"{emb.prefix_folder}/{right}{emb.ext}")
                continue
        rel = f"{emb.prefix_folder}/{path.name}"
        tally.merge(check_embedding(path, rel, "prefix", emb).findings)


@dataclass(frozen=True)
class _Job:
    root: Path
    spec: Layout
    listing: _Listing
    need: int
    deep: bool
    resolution: tuple[int, int] | None

    @property
    def root_s(self) -> str:
        """The root as a string (cheaper to join in the per-file loop)."""
        return str(self.root)


def _fps(info: VideoInfo) -> str:
    return f"{info.fps:g} fps" if info.fps else "unknown fps"


def _size(info: VideoInfo) -> str:
    return f"{info.height}x{info.width}"


def _check_streams(
    spec: Layout, clip: str, infos: dict[tuple[str, str | None], VideoInfo]
) -> list[tuple[str, str]]:
    """What the loader needs to agree between the views of a clip and between a control and its clip."""
    out: list[tuple[str, str]] = []
    views = {vd: info for (folder, vd), info in infos.items() if folder == spec.video.folder}
    if len({info.fps for info in views.values() if info.fps}) > 1:
        out.append(
            ("view-fps-mismatch", f"{clip}: " + ", ".join(f"{vd}={_fps(i)}" for vd, i in views.items()))
        )
    if len({_size(info) for info in views.values()}) > 1:
        detail = ", ".join(f"{vd}={_size(i)}" for vd, i in views.items())
        out.append(("view-resolution-mismatch", f"{clip}: {detail}"))
    for (folder, vd), info in infos.items():
        rgb = views.get(vd)
        if folder == spec.video.folder or rgb is None:
            continue
        name = companion_stem(clip, ".mp4", spec.names)
        rel = f"{folder}/{vd}/{name}.mp4" if vd else f"{folder}/{name}.mp4"
        if _size(info) != _size(rgb):
            same = info.width * rgb.height == rgb.width * info.height
            how = "scaled to the clip's size" if same else "another aspect ratio, stretched onto the clip"
            out.append(
                ("control-resolution-mismatch", f"{rel}: {_size(info)}, clip has {_size(rgb)} ({how})")
            )
        if info.fps and rgb.fps and info.fps != rgb.fps:
            out.append(("control-fps-mismatch", f"{rel}: {_fps(info)}, clip has {_fps(rgb)}"))
    return out


def _check_clip(job: _Job, clip: str) -> tuple[list[tuple[str, str]], int, int]:
    """Every per-file check for one clip: ``(findings, videos probed, embeddings read)``."""
    spec, out = job.spec, []
    videos = embeddings = 0
    lengths: dict[str | None, int] = {}  # view dir -> frames of the clip's video
    infos: dict[tuple[str, str | None], VideoInfo] = {}
    for (folder, vd), names in job.listing.videos.items():
        name = clip if folder == spec.video.folder else companion_stem(clip, ".mp4", spec.names)
        if name not in names:
            continue
        rel = f"{folder}/{vd}/{name}.mp4" if vd else f"{folder}/{name}.mp4"
        path = f"{job.root_s}/{rel}"
        if not check_file(path, rel, out):
            continue
        videos += 1
        try:
            info = probe_video(path, deep=job.deep)
        except ProbeError as e:
            out.append(("broken-video", f"{rel}: {e}"))
            continue
        infos[(folder, vd)] = info
        frames = info.best_frames
        if info.decoded_frames is not None and info.frames and info.decoded_frames != info.frames:
            out.append(
                ("frame-count-mismatch", f"{rel}: states {info.frames}, decodes {info.decoded_frames}")
            )
        if frames == 0 and not job.deep:
            out.append(("frame-count-unknown", rel))
        if folder == spec.video.folder:
            lengths[vd] = frames
            if frames and frames < job.need:
                out.append(("too-few-frames", f"{rel}: {frames} frames < {job.need}"))
            if job.resolution and (info.height < job.resolution[0] or info.width < job.resolution[1]):
                out.append(
                    (
                        "low-resolution",
                        f"{rel}: {info.height}x{info.width} < {job.resolution[0]}x{job.resolution[1]}",
                    )
                )
            if spec.fps_range and info.fps and not spec.fps_range[0] <= info.fps <= spec.fps_range[1]:
                out.append(
                    (
                        "odd-fps",
                        f"{rel}: {info.fps:g} fps (docs: {spec.fps_range[0]:g}-{spec.fps_range[1]:g})",
                    )
                )
        elif vd in lengths and frames and lengths[vd] and frames != lengths[vd]:
            out.append(("control-length-mismatch", f"{rel}: {frames} frames, clip has {lengths[vd]}"))
        if info.codec not in GOOD_CODECS:
            out.append(("unusual-codec", f"{rel}: {info.codec or 'unknown'}"))
    known = {n for n in lengths.values() if n}
    if len(known) > 1:
        detail = ", ".join(f"{vd}={n}" for vd, n in lengths.items())
        out.append(("view-length-mismatch", f"{clip}: {detail}"))
    out.extend(_check_streams(spec, clip, infos))
    if job.listing.captions is not None:
        check_clip(job.root, spec, job.listing.captions, clip, out)
    emb = spec.embeddings
    if emb is not None:
        name = companion_stem(clip, emb.ext, spec.names)
        for view, (pkl, pickle_) in job.listing.t5.items():
            ext = emb.ext if name in pkl else emb.wrong_ext if name in pickle_ else None
            if ext is None:
                continue
            rel = f"{emb.clip_folder}/{view}/{name}{ext}"
            embeddings += 1
            out.extend(check_embedding(f"{job.root_s}/{rel}", rel, "clip", emb).findings)
    return out, videos, embeddings


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def validate(
    root: Path,
    layout_id: str,
    *,
    experiment: str | None = None,
    min_frames: int | None = None,
    deep: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    max_caption_tokens: int | None = None,
) -> Report:
    """Validate the dataset at ``root`` as layout ``layout_id`` and return the grouped report.

    ``experiment`` sets the frames each clip needs (``min_frames`` overrides it); ``deep`` decodes
    every video to count its real frames; ``workers`` threads check clips (default: CPU count);
    ``max_caption_tokens`` is the recipe's caption cap (Cosmos 3 vision layouts only).
    Raises :class:`UsageError` for an unknown layout or experiment and :class:`UserError` when
    ``root`` is not a folder.
    """
    spec = get_layout(layout_id)
    need = min_frames_for(spec, experiment, min_frames)
    root = Path(root)
    checking = ValidationPass(root, spec.id, experiment, need, deep)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder; pass the dataset root (the folder holding videos/).")
    if spec.format == "vision-jsonl":
        return validate_vision_jsonl(
            root,
            spec,
            experiment=experiment,
            need=need,
            deep=deep,
            workers=workers,
            max_caption_tokens=max_caption_tokens,
        )
    if spec.format == "lerobot-v3":
        return validate_lerobot_v3(root, spec, experiment=experiment, need=need, deep=deep)
    tally = Tally()
    if spec.captions is not None:
        tally.severity["missing-caption"] = spec.captions.missing_severity
    if spec.fps_must_match:  # the loader raises on these instead of training on them
        tally.severity["view-fps-mismatch"] = tally.severity["control-fps-mismatch"] = "error"
    listing = _list(root, spec, experiment, tally)
    clips = _cross_checks(root, spec, experiment, listing, tally)
    resolution = None if is_builtin_experiment(experiment) else spec.resolution_for(experiment)
    job = _Job(root, spec, listing, need, deep, resolution)
    n_videos, n_emb = _check_clips(job, clips, tally, workers, progress)
    if spec.captions is not None and tally.counts[STAND_IN]:
        tally.titles[STAND_IN] = fallback_title(spec.captions, len(tally.subjects[STAND_IN]))
    return checking.report(tally, clips=len(clips), videos=n_videos, embeddings=n_emb)


def _check_clips(
    job: _Job, clips: list[str], tally: Tally, workers: int | None, progress: Progress | None
) -> tuple[int, int]:
    """Check every clip in threads, merging the findings into ``tally`` in clip order; the videos
    and embeddings read."""
    n_videos = n_emb = done = 0
    total = len(clips)
    # PyAV drops the GIL while it opens and decodes; two threads per core keep the cores busy.
    n = max(1, workers or min(16, 2 * (os.cpu_count() or 1)))
    if progress:
        progress(0, total)

    def run_chunk(chunk: list[str]) -> tuple[list[tuple[str, list[tuple[str, str]]]], int, int, int]:
        items: list[tuple[str, list[tuple[str, str]]]] = []
        v = e = 0
        for clip in chunk:
            found, dv, de = _check_clip(job, clip)
            if found:
                items.append((clip, found))
            v += dv
            e += de
        return items, v, e, len(chunk)

    # Results are merged in clip order (so examples are the first clips, whatever the thread count);
    # at most 2n chunks are in flight, so memory does not grow with the clip count.
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="validate") as pool:
        pending: deque[Future] = deque()
        chunks = _chunks(clips, CHUNK)
        while True:
            while len(pending) < 2 * n and (chunk := next(chunks, None)) is not None:
                pending.append(pool.submit(run_chunk, chunk))
            if not pending:
                break
            items, v, e, k = pending.popleft().result()
            for clip, found in items:
                tally.merge(found, subject=clip)
            n_videos += v
            n_emb += e
            done += k
            if progress:
                progress(done, total)
    return n_videos, n_emb
