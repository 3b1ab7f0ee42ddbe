"""Contact sheets of sample videos: a few frames spread over a clip, tiled into one PNG.

What the builtin sampler writes beside each of its mp4s (``engine/generate.py``), made here for the
videos an upstream inference script wrote, so the Samples screen shows every engine's samples the
same way. Decoding and the PNG go through PyAV (its ``png`` encoder; no image library). A video
is read twice, bounded: once to count its frames (demuxing only), once to decode the frames picked;
each tile is scaled down to at most :data:`TILE_WIDTH` pixels wide, so a sheet of a 2x3 multiview
grid stays a few hundred KiB.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import write_contained

SHEET_FRAMES = 8
"""Frames on one sheet (fewer for a shorter clip)."""
SHEET_COLUMNS = 4
"""Frames to a row (as the builtin's sheets)."""
TILE_WIDTH = 384
"""The widest a frame is drawn on a sheet, in pixels."""
MAX_FRAMES = 100_000
"""Frames counted at most (a clip longer than this is sampled over its first ones)."""
GAP = 2
"""Pixels between tiles."""


def spread(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames, first and last included."""
    if total <= 0:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [0]
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


def _count_frames(path: Path) -> int:
    import av  # deferred: av (PyAV), only when a video is read or written

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = 0
        for packet in container.demux(stream):
            if packet.size:
                n += 1
                if n >= MAX_FRAMES:
                    break
        return n


def _tile_size(width: int, height: int) -> tuple[int, int]:
    """The size a ``width`` x ``height`` frame is drawn at (even, at most :data:`TILE_WIDTH` wide)."""
    if width <= TILE_WIDTH:
        return width, height
    h = max(2, round(height * TILE_WIDTH / width))
    return TILE_WIDTH, h - h % 2


def sheet_frames(path: Path, count: int = SHEET_FRAMES) -> list[Any]:
    """The ``(H, W, 3)`` uint8 frames of the sheet of ``path``, spread over the clip."""
    import av  # deferred: av (PyAV), only when a video is read or written

    wanted = set(spread(_count_frames(path), count))
    frames: list[Any] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for n, frame in enumerate(container.decode(stream)):
            if n > max(wanted, default=-1):
                break
            if n in wanted:
                w, h = _tile_size(frame.width, frame.height)
                frames.append(frame.reformat(width=w, height=h, format="rgb24").to_ndarray())
    return frames


def tile(frames: list[Any], columns: int = SHEET_COLUMNS, gap: int = GAP) -> Any:
    """``frames`` (same size) laid out ``columns`` to a row with ``gap`` black pixels between."""
    import numpy as np  # deferred: numpy, only when a sheet is drawn

    h, w, c = frames[0].shape
    cols = min(columns, len(frames))
    rows = math.ceil(len(frames) / cols)
    sheet = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c), np.uint8)
    for i, frame in enumerate(frames):
        r, k = divmod(i, cols)
        sheet[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = frame
    return sheet


def png_bytes(image: Any) -> bytes:
    """One ``(H, W, 3)`` uint8 RGB image as PNG (PyAV's ``png`` encoder)."""
    import av  # deferred: av (PyAV), only when a video is read or written
    import numpy as np  # deferred: numpy, only when a sheet is drawn

    h, w, _ = image.shape
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = w, h, "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])


def write_contact_sheet(video: Path, png: Path, root: Path) -> Path:
    """Write the contact sheet of ``video`` to ``png`` (inside ``root``, the folder the samples
    job owns); a :class:`ValueError` saying why when the video has no frame or cannot be decoded."""
    import av  # deferred: av (PyAV), only when a video is read or written

    try:
        frames = sheet_frames(video)
    except (av.error.FFmpegError, IndexError) as e:  # IndexError: no video stream
        raise ValueError(f"{video.name} cannot be decoded ({type(e).__name__}: {e})") from None
    if not frames:
        raise ValueError(f"{video.name} holds no video frame")
    return write_contained(png, png_bytes(tile(frames)), root, what="the samples folder")
