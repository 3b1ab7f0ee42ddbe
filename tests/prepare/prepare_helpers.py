"""Helpers for the data-prepare tests: real PyAV videos (moving patterns, a hard scene cut) and a
digest of a folder tree."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from cosmos_tui.core.datasets import paint

FRAMES = 10
"""Frames per window in these tests (``--frames 10``)."""
SIZE = (64, 96)
HOSTILE = "odd dir/a clip\nwith ..dots.mp4"


def clip(path: Path, frames: int, size: tuple[int, int] = (72, 128), fps: int = 10, seed: int = 0) -> Path:
    """A real H.264 video of moving patterns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    paint.write_mp4(path, paint.render_frames(paint.make_scene(seed, 0), 0, frames, size, "rgb"), fps)
    return path


def cut_clip(path: Path, first: int, second: int, size: tuple[int, int] = (72, 128)) -> Path:
    """A video with a hard scene cut after ``first`` frames (the second shot is inverted)."""
    a = paint.render_frames(paint.make_scene(1, 0), 0, first, size, "rgb")
    b = 255 - paint.render_frames(paint.make_scene(2, 0), 0, second, size, "rgb")
    paint.write_mp4(path, np.concatenate([a, b]), 10)
    return path


def tree_hash(root: Path) -> str:
    """A digest of every name, link and byte under ``root`` (modes and mtimes too)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            h.update(f"{p.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}".encode())
            if p.is_symlink():
                h.update(os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()
