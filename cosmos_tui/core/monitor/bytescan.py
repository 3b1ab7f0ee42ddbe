"""Memory-speed scanning of big files: line-aligned ``mmap`` windows and literal search.

A file is mapped one window at a time (so the mapped, resident part stays at one window whatever
the file size), each window ending on a line boundary. Needles are found with ``mmap.find``, a C
substring search; Python runs only per hit. For case-insensitive ASCII search, a window is folded
with one vectorised ``| 0x20`` (numpy) into a reused buffer; the fold also merges a few punctuation
pairs (``@``/`` ` ``, ``[``/``{``...), so every candidate line is confirmed before it counts.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WINDOW = 128 << 20


@dataclass(frozen=True, slots=True)
class Window:
    """A mapped, line-aligned part of a file: ``buf[lo:hi]`` is whole lines starting at file
    offset ``base + lo``."""

    buf: mmap.mmap
    base: int
    lo: int
    hi: int


def windows(path: Path, *, start: int = 0, end: int | None = None, window: int = WINDOW) -> Iterator[Window]:
    """Map ``path[start:end]`` window by window. Only the last window may end without a newline.
    A window is unmapped when the iteration moves on: callers copy out what they keep."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        end = size if end is None else min(end, size)
        pos = start
        while pos < end:
            map_off = pos - pos % mmap.ALLOCATIONGRANULARITY
            length = min(end - map_off, window + (pos - map_off))
            mm = mmap.mmap(f.fileno(), length, offset=map_off, access=mmap.ACCESS_READ)
            try:
                lo = pos - map_off
                if map_off + length < end:
                    hi = mm.rfind(b"\n", lo, length) + 1
                    if hi <= lo:  # one line longer than the window: map a bigger one
                        window *= 2
                        continue
                else:
                    hi = length
                if hasattr(mm, "madvise"):
                    mm.madvise(mmap.MADV_SEQUENTIAL)
                yield Window(mm, map_off, lo, hi)
            finally:
                mm.close()
            pos = map_off + hi


def line_bounds(buf: mmap.mmap | bytes | bytearray, pos: int, lo: int, hi: int) -> tuple[int, int]:
    """``(start, end)`` of the line holding ``buf[pos]`` within ``[lo, hi)`` (end excludes ``\\n``)."""
    ls = buf.rfind(b"\n", lo, pos) + 1
    ls = max(ls, lo)
    le = buf.find(b"\n", pos, hi)
    return ls, (hi if le < 0 else le)


def find_lines(
    hay: mmap.mmap | bytes | bytearray,
    needle: bytes,
    lo: int,
    hi: int,
    *,
    lines: mmap.mmap | bytes | None = None,
) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every line in ``hay[lo:hi]`` that contains ``needle``, once per line.
    ``lines`` is the buffer whose newlines mark the lines when ``hay`` is a folded copy."""
    ref = hay if lines is None else lines
    pos = hay.find(needle, lo, hi)
    while pos >= 0:
        ls, le = line_bounds(ref, pos, lo, hi)
        yield ls, le
        if le >= hi:
            return
        pos = hay.find(needle, le + 1, hi)


class Folder:
    """Folds windows to lower case for case-insensitive ASCII search, reusing one buffer."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def fold(self, w: Window) -> bytearray:
        """A buffer whose ``[w.lo:w.hi]`` is ``w.buf[w.lo:w.hi]`` with bit 0x20 set on every byte
        (ASCII letters lower-cased; newlines are NOT preserved, use ``w.buf`` for line bounds)."""
        import numpy as np

        if len(self._buf) < w.hi:
            self._buf = bytearray(w.hi)
        src = np.frombuffer(w.buf, dtype=np.uint8, count=w.hi - w.lo, offset=w.lo)
        dst = np.frombuffer(self._buf, dtype=np.uint8, count=w.hi - w.lo, offset=w.lo)
        np.bitwise_or(src, 0x20, out=dst)
        del src, dst  # release the exported buffers so the window can be unmapped
        return self._buf


def fold_needle(needle: bytes) -> bytes:
    """``needle`` folded the way :meth:`Folder.fold` folds a window."""
    return bytes(b | 0x20 for b in needle)
