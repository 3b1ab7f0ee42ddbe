"""Helpers for the dataset tests: write videos and pickles that trigger findings."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cosmos_tui.core.datasets.paint import write_mp4

FRAMES = 8


def video(path: Path, frames: int = FRAMES, size: tuple[int, int] = (32, 32), fps: int = 10) -> Path:
    """Write a real mp4 of ``frames`` frames (a moving gradient) at ``path``."""
    t = np.arange(frames, dtype=np.uint8)[:, None, None, None]
    img = np.broadcast_to(
        np.arange(size[1], dtype=np.uint8)[None, None, :, None] * 4 + t * 16, (frames, *size, 3)
    )
    write_mp4(path, np.ascontiguousarray(img), fps)
    return path


def dump(path: Path, obj: object, protocol: int | None = None) -> Path:
    """Pickle ``obj`` to ``path`` (with ``protocol``, default: Python's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def emb(length: int = 10, dim: int = 1024, dtype: type = np.float32) -> np.ndarray:
    """An embedding array of the given shape and dtype."""
    return np.zeros((length, dim), dtype=dtype)
