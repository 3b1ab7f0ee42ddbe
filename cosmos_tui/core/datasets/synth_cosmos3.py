"""Synthesize a small Cosmos 3 vision SFT set: real H.264 clips under ``train/videos/`` and the
``train/video_dataset_file.jsonl`` index the loader reads, one record a clip with one window that
spans the clip, a structured ``caption_json`` and the dense ``caption`` backup."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.datasets.paint import (
    _DIRECTIONS,
    MARKER,
    _caption,
    _check_target,
    _frames,
    _put,
    _scene,
    write_mp4,
)
from cosmos_tui.core.datasets.vision_jsonl import JSONL, MIN_WINDOW_FRAMES
from cosmos_tui.core.errors import UsageError


def _caption_json(scene: dict[str, Any], h: int, w: int, seconds: float, fps: int) -> dict[str, Any]:
    """A structured caption in the fields of cosmos-framework's ``StructuredCaption``."""
    ratio = "16,9" if w / h >= 1.55 else "4,3" if w / h >= 1.16 else "1,1" if w / h >= 0.88 else "3,4"
    return {
        "subjects": [
            {
                "description": f"a {scene['colour_name']} square",
                "action": f"moves {_DIRECTIONS[scene['direction']]}",
            }
        ],
        "background_setting": "a striped road scene seen from a car",
        "cinematography": {"camera_motion": "static", "framing": "wide shot"},
        "actions": [{"time": f"0:00-0:{int(seconds):02d}", "description": "the square crosses the frame"}],
        "temporal_caption": _caption(scene),
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
    _check_target(root)
    root.mkdir(parents=True, exist_ok=True)
    train = root / Path(JSONL).parent
    names = [f"clip_{i:04d}" for i in range(clips)]
    scenes = [_scene(seed, i) for i in range(clips)]

    def encode(i: int) -> None:
        write_mp4(
            train / "videos" / f"{names[i]}.mp4", _frames(scenes[i], 0, frames, (h, w), "rgb"), fps, root=root
        )

    n = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=max(1, min(n, clips)), thread_name_prefix="synth") as pool:
        list(pool.map(encode, range(clips)))
    seconds = frames / fps
    lines = []
    for name, scene in zip(names, scenes, strict=True):
        record = {
            "uuid": name,
            "duration": round(seconds, 3),
            "width": w,
            "height": h,
            "vision_path": f"videos/{name}.mp4",
            "nb_frames": frames,
            "framerate": fps,
            "t2w_windows": [
                {
                    "start_frame": 0,
                    "end_frame": frames - 1,
                    "temporal_interval": 1,
                    "caption_json": _caption_json(scene, h, w, seconds, fps),
                    "caption": _caption(scene),
                }
            ],
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    _put(root / JSONL, "\n".join(lines) + "\n", root)
    meta = {"layout": "cosmos3-vision-jsonl", "clips": clips, "frames": frames, "size": [h, w], "fps": fps}
    _put(root / MARKER, json.dumps({**meta, "seed": seed}, indent=2) + "\n", root)
    return root
