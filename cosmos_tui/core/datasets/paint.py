"""The synthesizer's paint box: moving-pattern scenes, their frames and captions, H.264 mp4
writing, and small files written inside the dataset folder only. Shared by every synthesizer
(``synth.py`` for the folder layouts, ``synth_cosmos3.py`` for Cosmos 3's index)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import contained, safe_unlink, write_contained
from cosmos_tui.core.errors import UserError

MARKER = ".cosmos-tui-synth.json"
"""File that marks a folder as made by :func:`synthesize` (so a re-run may overwrite it)."""

_COLOURS = (
    ("red", (230, 40, 40)),
    ("green", (40, 210, 60)),
    ("blue", (50, 80, 240)),
    ("yellow", (240, 220, 40)),
)
DIRECTIONS = ("left to right", "right to left")


def make_scene(seed: int, clip: int) -> dict[str, Any]:
    """The per-clip scene parameters: colour, speed, direction, stripe period."""
    import numpy as np  # deferred: numpy, only for embeddings and frames

    rng = np.random.default_rng([seed, clip])
    colour_name, colour = _COLOURS[int(rng.integers(len(_COLOURS)))]
    direction = int(rng.integers(2))
    return {
        "colour_name": colour_name,
        "colour": colour,
        "direction": direction,
        "speed": float(rng.uniform(1.5, 3.5)),
        "y0": float(rng.uniform(0.25, 0.75)),
        "vy": float(rng.uniform(-0.6, 0.6)),
        "period": int(rng.integers(8, 17)),
        "tint": rng.integers(40, 120, size=3).astype(np.uint8),
    }


def render_frames(scene: dict[str, Any], view: int, frames: int, size: tuple[int, int], kind: str):
    """``(frames, H, W, 3)`` uint8 frames of the scene seen from view ``view``, as ``kind``."""
    import numpy as np  # deferred: numpy, only for embeddings and frames

    h, w = size
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    yy = np.arange(h, dtype=np.float32)[None, :, None]
    xx = np.arange(w, dtype=np.float32)[None, None, :]
    sign = 1.0 if scene["direction"] == 0 else -1.0
    offset = view * w * 0.5  # each view sees the same world shifted sideways
    side = max(4, min(h, w) // 4)
    cx = (w * 0.2 + sign * scene["speed"] * t * max(1.0, w / 48) - offset) % (w + side) - side / 2
    cy = (scene["y0"] * h + scene["vy"] * t) % h
    square = (np.abs(xx - cx) < side / 2) & (np.abs(yy - cy) < side / 2)  # (T, H, W)
    stripes = ((xx + offset + sign * t * 2.0) // scene["period"]) % 2  # (T, 1, W)
    out = np.empty((frames, h, w, 3), dtype=np.uint8)
    if kind == "rgb":
        base = (60 + 70 * stripes + 0.4 * yy).astype(np.uint8)  # (T, H, W)
        for c in range(3):
            out[..., c] = np.where(square, scene["colour"][c], base // 2 + scene["tint"][c] // 2)
    elif kind == "depth":
        depth = (255 - 180 * yy / max(1, h - 1)).astype(np.uint8)  # near at the bottom
        depth = np.broadcast_to(depth, (frames, h, w))
        out[...] = np.where(square, 255, depth)[..., None]
    elif kind == "seg":
        road = yy > h * 0.6
        for c, (sq, rd, sky) in enumerate(((220, 128, 70), (20, 64, 130), (60, 128, 180))):
            out[..., c] = np.where(square, sq, np.where(road, rd, sky))
    else:  # hdmap: lane lines and a bounding box outline on black
        lanes = (np.abs(((xx + offset) % (w / 3)) - 1) < 1.0) & (yy > h * 0.4)
        inner = (np.abs(xx - cx) < side / 2 - 1) & (np.abs(yy - cy) < side / 2 - 1)
        box = square & ~inner
        out[...] = 0
        out[..., 0] = np.where(box, 255, 0)
        out[..., 1] = np.where(lanes, 200, 0)
        out[..., 2] = np.where(box | lanes, 255, 0)
    return out


def write_mp4(
    path: Path,
    frames: Any,
    fps: int | Fraction,
    *,
    root: Path | None = None,
    preset: str = "ultrafast",
    crf: int = 26,
) -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as H.264 yuv420p mp4 at ``path`` (via a temp file);
    with ``root``, refuse a ``path`` that resolves outside it (see :mod:`~cosmos_tui.core.containment`).
    ``fps`` may be a fraction (29.97 is ``Fraction(30000, 1001)``); ``preset`` and ``crf`` are
    libx264's (the synthesizer's patterns need little; ``data prepare`` passes its own)."""
    import av  # deferred: av (PyAV), only when a video is read or written

    if root is not None:
        _mkdir(path.parent, root)
        contained(path, root, what=_OWNED)
        safe_unlink(path.with_name(f".{path.name}.tmp"), root, what=_OWNED)  # never write through a link
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    _, h, w, _ = frames.shape
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": preset, "crf": str(crf)})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    os.replace(tmp, path)


_OWNED = "the dataset folder"


def _mkdir(folder: Path, root: Path) -> None:
    """Create ``folder`` (and its parents) only if it resolves inside ``root``."""
    contained(folder, root, what=_OWNED)
    folder.mkdir(parents=True, exist_ok=True)


def put(path: Path, data: bytes | str, root: Path) -> None:
    """Write one small file inside ``root`` (atomically, through no link; see ``write_contained``)."""
    _mkdir(path.parent, root)
    write_contained(path, data, root, what=_OWNED)


def caption_of(scene: dict[str, Any]) -> str:
    return (
        f"A {scene['colour_name']} square moves {DIRECTIONS[scene['direction']]} "
        "across a striped road scene seen from a car."
    )


def check_target(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} exists and is not a folder; pick another path for the dataset.")
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise UserError(
            f"{root} is not empty and was not made by 'cosmos-tui data synth'; "
            "pick an empty or new folder so no data of yours is overwritten."
        )
