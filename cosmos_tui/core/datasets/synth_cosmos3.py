"""Synthesize small Cosmos 3 sets. Vision SFT: real H.264 clips under ``train/videos/`` and the
``train/video_dataset_file.jsonl`` index the loader reads, one record a clip with one window that
spans the clip, a structured ``caption_json`` and the dense ``caption`` backup. LeRobot v3.0: the
``meta/`` files, one data parquet and one mp4 per LIBERO camera holding every episode."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.lerobot_v3 import CODEBASE_VERSION, LIBERO_CAMERAS
from cosmos_tui.core.datasets.vision_jsonl import JSONL, MIN_WINDOW_FRAMES
from cosmos_tui.core.errors import UsageError


def aspect_ratio(h: int, w: int) -> str:
    """The ``aspect_ratio`` field of a structured caption (``"16,9"``, ``"4,3"``, ...)."""
    return "16,9" if w / h >= 1.55 else "4,3" if w / h >= 1.16 else "1,1" if w / h >= 0.88 else "3,4"


def vision_record(
    uuid: str,
    vision_path: str,
    *,
    frames: int,
    fps: float,
    size: tuple[int, int],
    caption: str,
    caption_json: dict[str, Any] | None,
) -> dict[str, Any]:
    """One line of ``video_dataset_file.jsonl``: a clip with one window spanning all its frames,
    the structured ``caption_json`` (when given) and the dense ``caption`` backup."""
    h, w = size
    window: dict[str, Any] = {"start_frame": 0, "end_frame": frames - 1, "temporal_interval": 1}
    if caption_json is not None:
        window["caption_json"] = caption_json
    window["caption"] = caption
    return {
        "uuid": uuid,
        "duration": round(frames / fps, 3),
        "width": w,
        "height": h,
        "vision_path": vision_path,
        "nb_frames": frames,
        "framerate": round(fps, 3) if fps != int(fps) else int(fps),
        "t2w_windows": [window],
    }


def _caption_json(scene: dict[str, Any], h: int, w: int, seconds: float, fps: int) -> dict[str, Any]:
    """A structured caption in the fields of cosmos-framework's ``StructuredCaption``."""
    ratio = aspect_ratio(h, w)
    return {
        "subjects": [
            {
                "description": f"a {scene['colour_name']} square",
                "action": f"moves {paint.DIRECTIONS[scene['direction']]}",
            }
        ],
        "background_setting": "a striped road scene seen from a car",
        "cinematography": {"camera_motion": "static", "framing": "wide shot"},
        "actions": [{"time": f"0:00-0:{int(seconds):02d}", "description": "the square crosses the frame"}],
        "temporal_caption": paint.caption_of(scene),
        "resolution": {"H": h, "W": w},
        "aspect_ratio": ratio,
        "duration": f"{round(seconds)}s",
        "fps": fps,
    }


def synthesize_vision_jsonl(
    root: Path,
    *,
    clips: int = 4,
    frames: int = MIN_WINDOW_FRAMES,
    size: tuple[int, int] = (64, 96),
    fps: int = 24,
    seed: int = 0,
    workers: int | None = None,
) -> Path:
    """Write a valid ``cosmos3-vision-jsonl`` set under ``root`` (new, empty, or an earlier synth)."""
    h, w = size
    if clips < 1 or fps < 1:
        raise UsageError("--clips and --fps must each be at least 1.")
    if frames < MIN_WINDOW_FRAMES:
        raise UsageError(
            f"--frames {frames} is too few for Cosmos 3: the loader drops windows shorter than "
            f"{MIN_WINDOW_FRAMES} frames; pass --frames {MIN_WINDOW_FRAMES} or more."
        )
    if frames / fps > 61.0:
        raise UsageError(f"{frames} frames at {fps} fps last over 61 s, which the loader drops; raise --fps.")
    if h < 16 or w < 16 or h % 2 or w % 2:
        raise UsageError(f"--size {h}x{w} is not usable: height and width must be even and at least 16.")
    root = resolved(root)
    paint.check_target(root)
    root.mkdir(parents=True, exist_ok=True)
    train = root / Path(JSONL).parent
    names = [f"clip_{i:04d}" for i in range(clips)]
    scenes = [paint.make_scene(seed, i) for i in range(clips)]

    def encode(i: int) -> None:
        paint.write_mp4(
            train / "videos" / f"{names[i]}.mp4",
            paint.render_frames(scenes[i], 0, frames, (h, w), "rgb"),
            fps,
            root=root,
        )

    n = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, min(n, clips)), thread_name_prefix="synth") as pool:
        list(pool.map(encode, range(clips)))
    seconds = frames / fps
    lines = []
    for name, scene in zip(names, scenes, strict=True):
        record = vision_record(
            name,
            f"videos/{name}.mp4",
            frames=frames,
            fps=fps,
            size=(h, w),
            caption=paint.caption_of(scene),
            caption_json=_caption_json(scene, h, w, seconds, fps),
        )
        lines.append(json.dumps(record, ensure_ascii=False))
    paint.put(root / JSONL, "\n".join(lines) + "\n", root)
    meta = {"layout": "cosmos3-vision-jsonl", "clips": clips, "frames": frames, "size": [h, w], "fps": fps}
    paint.put(root / paint.MARKER, json.dumps({**meta, "seed": seed}, indent=2) + "\n", root)
    return root


def synthesize_lerobot_v3(
    root: Path,
    *,
    episodes: int = 2,
    frames: int = 24,
    size: tuple[int, int] = (64, 96),
    fps: int = 10,
    seed: int = 0,
) -> Path:
    """Write a valid ``lerobot-v3`` set (LIBERO's cameras and columns) under ``root``."""
    import pyarrow as pa  # deferred: pyarrow, only for LeRobot datasets
    import pyarrow.parquet as pq  # deferred: pyarrow, only for LeRobot datasets

    h, w = size
    if episodes < 1 or frames < 17 or fps < 1:
        raise UsageError(
            "--clips (episodes) >= 1, --frames >= 17 (LIBERO windows are 17 frames), --fps >= 1."
        )
    if h < 16 or w < 16 or h % 2 or w % 2:
        raise UsageError(f"--size {h}x{w} is not usable: height and width must be even and at least 16.")
    root = resolved(root)
    paint.check_target(root)
    root.mkdir(parents=True, exist_ok=True)
    scenes = [paint.make_scene(seed, i) for i in range(episodes)]
    video_path = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    for vi, key in enumerate(LIBERO_CAMERAS):
        import numpy as np  # deferred: numpy, only for frames

        clip = np.concatenate([paint.render_frames(s, vi, frames, (h, w), "rgb") for s in scenes])
        paint.write_mp4(
            root / video_path.format(video_key=key, chunk_index=0, file_index=0), clip, fps, root=root
        )
    total = episodes * frames
    info = _lerobot_info(episodes, frames, (h, w), fps, video_path)
    paint.put(root / "meta/info.json", json.dumps(info, indent=2) + "\n", root)

    def parquet(rel: str, columns: dict[str, list[Any]]) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table(columns), sink)
        paint.put(root / rel, sink.getvalue().to_pybytes(), root)

    parquet(
        "meta/tasks.parquet",
        {"task": [paint.caption_of(s) for s in scenes], "task_index": list(range(episodes))},
    )
    parquet("meta/episodes/chunk-000/file-000.parquet", _episode_columns(scenes, frames, fps))
    rows = range(total)
    parquet(
        "data/chunk-000/file-000.parquet",
        {
            "index": list(rows),
            "episode_index": [r // frames for r in rows],
            "frame_index": [r % frames for r in rows],
            "task_index": [r // frames for r in rows],
            "timestamp": [(r % frames) / fps for r in rows],
            "action": [[0.01 * ((r % 7) - 3)] * 6 + [1.0] for r in rows],
        },
    )
    meta = {"layout": "lerobot-v3", "clips": episodes, "frames": frames, "size": [h, w], "fps": fps}
    paint.put(root / paint.MARKER, json.dumps({**meta, "seed": seed}, indent=2) + "\n", root)
    return root


def _lerobot_info(
    episodes: int, frames: int, size: tuple[int, int], fps: int, video_path: str
) -> dict[str, Any]:
    """``meta/info.json`` of a synthetic LIBERO-shaped set: its counts, paths and features."""
    h, w = size
    feature = {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"]}
    return {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": "synthetic",
        "total_episodes": episodes,
        "total_frames": episodes * frames,
        "total_tasks": episodes,
        "chunks_size": 1000,
        "fps": fps,
        "splits": {"train": f"0:{episodes}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": video_path,
        "features": {
            **{k: {**feature, "info": {"video.fps": fps, "video.codec": "h264"}} for k in LIBERO_CAMERAS},
            "action": {"dtype": "float32", "shape": [7], "names": None},
            **{
                n: {"dtype": "int64", "shape": [1], "names": None}
                for n in ("index", "episode_index", "task_index", "frame_index")
            },
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        },
    }


def _episode_columns(scenes: list[Any], frames: int, fps: int) -> dict[str, list[Any]]:
    """The columns of ``meta/episodes``: one row an episode of ``frames``, every camera's video
    in file 0 of chunk 0, one after another."""
    episodes = len(scenes)
    ep: dict[str, list[Any]] = {"episode_index": list(range(episodes)), "length": [frames] * episodes}
    ep["tasks"] = [[paint.caption_of(s)] for s in scenes]
    ep["dataset_from_index"] = [i * frames for i in range(episodes)]
    ep["dataset_to_index"] = [(i + 1) * frames for i in range(episodes)]
    ep["data/chunk_index"] = ep["data/file_index"] = [0] * episodes
    for key in LIBERO_CAMERAS:
        ep[f"videos/{key}/chunk_index"] = ep[f"videos/{key}/file_index"] = [0] * episodes
        ep[f"videos/{key}/from_timestamp"] = [i * frames / fps for i in range(episodes)]
        ep[f"videos/{key}/to_timestamp"] = [(i + 1) * frames / fps for i in range(episodes)]
    return ep
