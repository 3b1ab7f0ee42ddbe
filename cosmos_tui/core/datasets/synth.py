"""Synthesize a small, valid dataset for any layout: real H.264 mp4s plus captions or embeddings.

The videos show moving patterns (a coloured square crossing scrolling stripes, with a speed and
direction drawn per clip and a shared world seen with an offset per view), so a model trained on
them has something to learn. Controls (depth, seg, HDMap) are painted from the same scene, and
captions describe the motion. Used by the demo and by the tests.
"""

from __future__ import annotations

import json
import os
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.layouts import (
    CaptionSource,
    CaptionSpec,
    EmbeddingSpec,
    Layout,
    VideoSet,
    get_layout,
    min_frames_for,
)
from cosmos_tui.core.datasets.synth_cosmos3 import synthesize_lerobot_v3, synthesize_vision_jsonl
from cosmos_tui.core.errors import UsageError, UserError

__all__ = ["caption_object", "synthesize"]

_DEFAULT_FRAMES_FPS = {"vision-jsonl": (61, 24), "lerobot-v3": (24, 10)}
"""Per layout format, the fewest ``frames`` and the ``fps`` a synthesized set gets by default
(folder layouts: 16 and 10): Cosmos 3's vision loader drops windows under 61 frames."""


def caption_object(
    src: CaptionSource, text: str, *, model: str = "synth", prompts: dict[str, str] | None = None
) -> dict[str, Any]:
    """A JSON caption in the schema the loader reads. ``model-prompts`` (Predict2.5): ``{model:
    {"long", "short", "medium"}}``, each ``text`` unless ``prompts`` gives it."""
    if src.json_schema == "model-prompts":
        given = prompts or {}
        return {model: {k: given.get(k) or text for k in ("long", "short", "medium")}}
    return {src.json_keys[0] if src.json_keys else "caption": text}


def _embedding(seed: int, key: str, length: int):
    import numpy as np  # deferred: numpy, only for embeddings and frames

    rng = np.random.default_rng([seed, *key.encode()])
    return (rng.standard_normal((length, 1024), dtype=np.float32) * 0.1).astype(np.float32)


def _video_jobs(layout: Layout, root: Path, clips: list[str]) -> list[tuple[Path, int, int, str]]:
    jobs = []
    view_dirs = layout.view_dirs() or (None,)
    for ci, clip in enumerate(clips):
        vs: VideoSet
        for vs in layout.videos:
            for vi, vd in enumerate(view_dirs if vs.per_view else (None,)):
                jobs.append((layout.video_path(root, vs, clip, vd), ci, vi, vs.pattern))
    return jobs


def missing_folders(root: Path) -> tuple[Path, ...]:
    """The folders a synthetic set at ``root`` would create (``..`` and links resolved, as
    :func:`synthesize` writes), outermost first; empty when it exists."""
    path = resolved(root)
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return tuple(reversed(missing))


def refuse_missing_parents(root: Path) -> None:
    """A :class:`UserError` when more than ``root``'s own folder is missing: a synthetic set
    creates its folder, never folders above it the person did not ask for."""
    missing = missing_folders(root)
    if len(missing) > 1:
        raise UserError(
            f"{missing[0]} does not exist; create {missing[-1].parent} first, or pass --parents "
            f"to create the {len(missing) - 1} missing folder(s) above {missing[-1].name}."
        )


def _write_captions(captions: CaptionSpec, root: Path, names: list[str], scenes: list[Any]) -> None:
    """Each clip's caption, in the layout's synthesised caption format (``.json`` or ``.txt``)."""
    src = captions.sources[captions.synth_source]
    folder = root / src.folder
    for name, scene in zip(names, scenes, strict=True):
        text = paint.caption_of(scene)
        if src.ext == ".json":
            paint.put(folder / f"{name}.json", json.dumps(caption_object(src, text)) + "\n", root)
        else:
            paint.put(folder / f"{name}.txt", text + "\n", root)


def _write_embeddings(
    emb: EmbeddingSpec, views: tuple[str, ...], root: Path, names: list[str], seed: int
) -> None:
    """Per view, the prefix embedding and one T5-shaped embedding pickle per clip."""
    for vi, view in enumerate(views):
        prefix = root / emb.prefix_folder / f"{emb.prefix_stem.format(view=view)}{emb.ext}"
        paint.put(prefix, pickle.dumps(_embedding(seed, f"prefix/{view}", 12 + vi)), root)
        folder = root / emb.clip_folder / view
        for ci, name in enumerate(names):
            paint.put(
                folder / f"{name}{emb.ext}",
                pickle.dumps([_embedding(seed, f"{view}/{name}", 16 + ci % 8)]),
                root,
            )


def synthesize(
    root: Path,
    layout: str,
    *,
    clips: int = 4,
    frames: int | None = None,
    size: tuple[int, int] = (64, 96),
    fps: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    experiment: str | None = None,
) -> Path:
    """Write a small valid dataset of layout ``layout`` under ``root`` and return ``root``.

    ``size`` is (height, width) and must be even (yuv420p). Videos are real H.264 mp4s of moving
    patterns; per-layout extras are written as the loaders read them (captions, controls, T5
    embedding pickles). ``root`` must be new, empty, or an earlier synthesized dataset.
    ``workers`` threads encode in parallel (default: the CPU count). ``frames`` defaults
    to what ``experiment`` (else the layout's default experiment) needs, so that ``data validate``
    accepts the set, and at least the layout format's floor (:data:`_DEFAULT_FRAMES_FPS`); ``fps``
    to the format's.
    """
    spec = get_layout(layout)
    default_frames, default_fps = _DEFAULT_FRAMES_FPS.get(spec.format, (16, 10))
    if frames is None:
        frames = max(default_frames, min_frames_for(spec, experiment))
    fps = default_fps if fps is None else fps
    if spec.format == "vision-jsonl":
        return synthesize_vision_jsonl(
            root, clips=clips, frames=frames, size=size, fps=fps, seed=seed, workers=workers
        )
    if spec.format == "lerobot-v3":
        return synthesize_lerobot_v3(root, episodes=clips, frames=frames, size=size, fps=fps, seed=seed)
    h, w = size
    if clips < 1 or frames < 1 or fps < 1:
        raise UsageError("--clips, --frames and --fps must each be at least 1.")
    if h < 16 or w < 16 or h % 2 or w % 2:
        raise UsageError(f"--size {h}x{w} is not usable: height and width must be even and at least 16.")
    root = resolved(root)  # the folder the person named, wherever a link of theirs leads
    paint.check_target(root)
    root.mkdir(parents=True, exist_ok=True)

    names = [f"clip_{i:04d}" for i in range(clips)]
    scenes = [paint.make_scene(seed, i) for i in range(clips)]
    jobs = _video_jobs(spec, root, names)

    def encode(job: tuple[Path, int, int, str]) -> None:
        path, ci, vi, kind = job
        paint.write_mp4(path, paint.render_frames(scenes[ci], vi, frames, (h, w), kind), fps, root=root)

    n = workers or os.cpu_count() or 1
    if n > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=min(n, len(jobs)), thread_name_prefix="synth") as pool:
            list(pool.map(encode, jobs))
    else:
        for job in jobs:
            encode(job)

    if spec.captions is not None:
        _write_captions(spec.captions, root, names, scenes)
    if spec.embeddings is not None:
        _write_embeddings(spec.embeddings, spec.views, root, names, seed)

    paint.put(
        root / paint.MARKER,
        json.dumps(
            {"layout": layout, "clips": clips, "frames": frames, "size": [h, w], "fps": fps, "seed": seed},
            indent=2,
        )
        + "\n",
        root,
    )
    return root
