"""The Predict1 Waymo dataset the tests train on: synthesised one way, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cosmos_tui.core.datasets.synth import synthesize

LAYOUT = "predict1-waymo"
"""The layout of the builtin demo model (six camera views, T5 embedding pickles)."""


def synth_waymo(dest: Path, *, clips: int = 2, frames: int = 16, **options: Any) -> Path:
    """A small Predict1 Waymo dataset at ``dest`` (real H.264 mp4s per view, T5 pickles):
    ``clips`` x ``frames``, by default enough for the builtin demo to train a few iterations.
    ``options`` go to :func:`~cosmos_tui.core.datasets.synth.synthesize` (``size``, ``workers``...)."""
    return synthesize(dest, LAYOUT, clips=clips, frames=frames, **options)
