"""Memory-speed scanning of big files: line-aligned ``mmap`` windows and literal line search.

A file is mapped one window at a time (so the mapped, resident part stays at one window whatever
the file size), each window ending on a line boundary. Needles are found with ``mmap.find``, a C
substring search, and Python runs only per hit (:func:`find_lines`), or, when every hit counts but
no line is kept, with no Python per hit at all (:class:`LiteralLines`): the compiled pattern
``needle[^\n]*`` consumes the rest of each matching line, so ``findall`` yields one (empty) item
per matching line and its length is the count, as ``grep -c`` counts.

Case-insensitive ASCII search folds the window piece by piece (a few hundred KiB, so the folded
copy stays in the CPU cache) with one vectorised ``| 0x20`` (numpy) into a reused buffer. That fold
lower-cases ASCII letters but also merges a few other byte pairs (newline with ``*``, space with
NUL, ``[`` with ``{``...), so a piece holding any byte that the fold would confuse with a needle
byte or a newline is instead lower-cased exactly with ``bytes.lower``: results stay exact.
"""

from __future__ import annotations

import mmap
import os
import re
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


PIECE = 256 << 10
"""Bytes folded at a time for case-insensitive search (small enough to stay in the CPU cache)."""
PLAIN_PIECE = 4 << 20
"""Bytes searched at a time for a case-sensitive needle (each piece picks its own loop)."""
SPARSE = 32
"""Hits a piece is searched for one by one before it is judged by its density."""
DENSE_GAP = 4096
"""Below one hit per this many bytes, counting with ``findall`` beats a ``find`` per hit."""


@dataclass(slots=True)
class Density:
    """Whether hits were dense in the piece counted last."""

    dense: bool = False


@dataclass(frozen=True, slots=True)
class Piece:
    """Where to look for matching lines: ``pattern`` over ``hay[lo:hi]``; a match at ``hay``
    position ``p`` is at ``p + delta`` in the window's buffer, and ends at its line's end."""

    hay: mmap.mmap | bytes | bytearray
    lo: int
    hi: int
    delta: int
    pattern: re.Pattern[bytes]
    """``needle`` then the rest of its line."""
    needle: bytes
    eol: bytes
    """The byte that ends a line in ``hay`` (``*`` in a folded piece)."""
    density: Density
    """Shared by the pieces of one search: whether the last piece counted was dense."""

    def count(self, start: int | None = None) -> int:
        """How many lines of ``hay[start:hi]`` (default ``hay[lo:hi]``) hold the needle: one
        ``find`` per hit while hits are sparse, then one ``findall`` for the rest once they are
        dense (``findall`` costs no Python per hit, but scans slower than ``find``). A piece after
        a dense one starts with ``findall``."""
        find, needle, eol, hi = self.hay.find, self.needle, self.eol, self.hi
        first = self.lo if start is None else start
        pos = find(needle, first, hi)
        n = 0
        if pos >= 0 and self.density.dense:
            n = len(self.pattern.findall(self.hay, pos, hi))
            self.density.dense = n * DENSE_GAP > hi - first
            return n
        while pos >= 0:
            if n >= SPARSE and pos - first < n * DENSE_GAP:
                self.density.dense = True
                return n + len(self.pattern.findall(self.hay, pos, hi))
            n += 1
            end = find(eol, pos, hi)
            if end < 0:
                break
            pos = find(needle, end + 1, hi)
        return n


class LiteralLines:
    """Lines holding one literal needle, optionally ignoring ASCII case, piece by piece."""

    def __init__(self, needle: bytes, *, ignore_case: bool = False) -> None:
        if not needle or b"\n" in needle:
            raise ValueError("the needle must be one line of at least one byte")
        if ignore_case and not needle.isascii():
            raise ValueError("case-insensitive literal search needs an ASCII needle")
        self.ignore_case = ignore_case
        self.needle = needle.lower() if ignore_case else needle
        self._exact = re.compile(re.escape(self.needle) + rb"()[^\n]*")
        # The | 0x20 fold: letters meet their other case (exact); any other byte b meets b ^ 0x20,
        # and a newline becomes "*". A piece without those partners is searched folded, with "*"
        # ending lines; one with them is lower-cased exactly.
        self._folded = bytes(c | 0x20 for c in needle)
        self._fast = re.compile(re.escape(self._folded) + rb"()[^*]*")
        partners = {c ^ 0x20 for c in needle if not (65 <= c <= 90 or 97 <= c <= 122)} | {0x2A}
        self._partners = [bytes([c]) for c in sorted(partners)]
        self._buf = bytearray()
        self._density = Density()

    def pieces(self, w: Window) -> Iterator[Piece]:
        """The line-aligned pieces of window ``w`` to search, in order."""
        size = PIECE if self.ignore_case else PLAIN_PIECE
        lo = w.lo
        while lo < w.hi:
            if not self.ignore_case:  # one long find skips a stretch without hits at full speed
                first = w.buf.find(self.needle, lo, w.hi)
                if first < 0:
                    return
                lo = max(lo, w.buf.rfind(b"\n", lo, first) + 1)
            hi = w.buf.find(b"\n", min(lo + size, w.hi) - 1, w.hi) + 1 or w.hi
            exact = (self._exact, self.needle, b"\n", self._density)
            if not self.ignore_case:
                yield Piece(w.buf, lo, hi, 0, *exact)
            elif any(w.buf.find(p, lo, hi) >= 0 for p in self._partners):
                yield Piece(w.buf[lo:hi].lower(), 0, hi - lo, lo, *exact)
            else:
                folded = (self._fast, self._folded, b"*", self._density)
                yield Piece(self._fold(w.buf, lo, hi), 0, hi - lo, lo, *folded)
            lo = hi

    def _fold(self, buf: mmap.mmap, lo: int, hi: int) -> bytearray:
        import numpy as np  # deferred: numpy, only for embeddings and frames

        n = hi - lo
        if len(self._buf) < n:
            self._buf = bytearray(max(n, PIECE + (PIECE >> 2)))
        src = np.frombuffer(buf, dtype=np.uint8, count=n, offset=lo)
        np.bitwise_or(src, 0x20, out=np.frombuffer(self._buf, dtype=np.uint8, count=n))
        del src  # release the exported buffer so the window can be unmapped
        return self._buf
