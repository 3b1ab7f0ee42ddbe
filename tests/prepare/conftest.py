"""Raw sources for the data-prepare tests: real PyAV videos of varying lengths, sizes, aspects and
frame rates, a hard scene cut, a damaged file, a too-short clip, hostile names, and captions."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prepare_helpers import HOSTILE, clip, cut_clip


@pytest.fixture
def raw_src(tmp_path: Path) -> Path:
    """A messy source folder.

    Expected with ``--frames 10 --size 64x96`` (crop, max 25%):
    ``long.mp4`` 42 frames -> 4 windows (txt caption); ``cut.mp4`` 12 + 25 frames with a cut
    -> 1 + 2 windows (txt); ``fast.mov`` 25 frames at 30 fps, 90x160 -> 2 (CSV caption);
    the hostile name, 10 frames -> 1 (JSONL caption); ``short.mp4`` 6 frames -> too short;
    ``square.mp4`` 64x64 -> wrong aspect; ``corrupt.mp4`` -> unreadable; ``nocap.mp4`` -> no
    caption; ``._long.mp4`` -> skipped (hidden).
    """
    src = tmp_path / "src"
    clip(src / "long.mp4", 42)
    (src / "long.txt").write_text("A long drive down a striped road.\n")
    cut_clip(src / "cut.mp4", 12, 25)
    (src / "cut.txt").write_text("Two shots.")
    clip(src / "sub" / "fast.mov", 25, size=(90, 160), fps=30)
    clip(src / HOSTILE, 10)
    clip(src / "short.mp4", 6)
    (src / "short.txt").write_text("too short")
    clip(src / "square.mp4", 20, size=(64, 64))
    (src / "square.txt").write_text("square")
    (src / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (src / "corrupt.txt").write_text("broken")
    clip(src / "nocap.mp4", 20)
    (src / "._long.mp4").write_bytes(b"\x00\x05\x16\x07resource fork")
    (src / "caps.csv").write_text('path,caption\nsub/fast.mov,"A fast clip, at 30 fps."\n')
    (src / "caps.jsonl").write_text(
        json.dumps({"path": HOSTILE, "caption": {"long": "An odd name.", "short": "Odd."}})
        + "\n"
        + json.dumps({"path": "sub/fast.mov", "caption": "A fast clip, at 30 fps."})
        + "\n"
    )
    return src


@pytest.fixture
def captions_jsonl(raw_src: Path, tmp_path: Path) -> Path:
    """The JSONL captions, outside SRC (a captions file may live anywhere)."""
    path = tmp_path / "captions.jsonl"
    path.write_bytes((raw_src / "caps.jsonl").read_bytes())
    return path
