"""Searching a whole log, however big, at memory speed.

The file is mapped one line-aligned window at a time (:mod:`.bytescan`). A plain query is found
with ``mmap.find`` (C substring search), a case-insensitive ASCII query in a folded copy of the
window, and a regex with a compiled bytes pattern over the whole window; Python code runs only per
hit, never per line. Results count matching lines, as ``grep -c`` does.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.bytescan import (
    WINDOW,
    Folder,
    Window,
    find_lines,
    fold_needle,
    line_bounds,
    windows,
)
from cosmos_tui.core.monitor.logline import strip_ansi


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching line."""

    offset: int
    """Byte offset of the line's first byte in the file."""
    line: str
    """The line, ANSI stripped."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """All matching lines of a file (the first ``max_hits`` of them kept with their text)."""

    count: int
    """How many lines match."""
    hits: tuple[SearchHit, ...]
    """The first matching lines, in file order."""
    truncated: bool
    """More lines matched than ``hits`` holds."""
    bytes_scanned: int
    """How many bytes were searched."""


def search_file(
    path: Path,
    query: str,
    *,
    regex: bool = False,
    ignore_case: bool = False,
    max_hits: int = 1_000,
    start: int = 0,
    end: int | None = None,
    window: int = WINDOW,
) -> SearchResult:
    """Every line of ``path[start:end]`` containing ``query`` (a substring, or a regular
    expression with ``regex=True``)."""
    if not query:
        raise UserError("The search query is empty; type some text to search for.")
    pattern: re.Pattern[bytes] | None = None
    needle = query.encode()
    if regex or (ignore_case and not query.isascii()):
        try:
            pattern = re.compile(needle if regex else re.escape(needle), re.IGNORECASE if ignore_case else 0)
        except re.error as e:
            raise UserError(
                f"The search pattern {query!r} is not a valid regular expression ({e})."
            ) from None
    fold = ignore_case and pattern is None
    folder = Folder() if fold else None
    lowered = needle.lower()
    count = 0
    hits: list[SearchHit] = []
    scanned = 0
    for w in windows(path, start=start, end=end, window=window):
        scanned += w.hi - w.lo
        if pattern is not None:
            bounds = _regex_lines(w, pattern)
        elif folder is not None:
            bounds = find_lines(folder.fold(w), fold_needle(needle), w.lo, w.hi, lines=w.buf)
        else:
            if len(hits) >= max_hits:  # only counting now: two C calls per matching line
                count += _count_lines(w.buf, needle, w.lo, w.hi)
                continue
            bounds = find_lines(w.buf, needle, w.lo, w.hi)
        for ls, le in bounds:
            raw = w.buf[ls:le]
            if fold and lowered not in raw.lower():
                continue  # the 0x20 fold also merges a few punctuation pairs
            count += 1
            if len(hits) < max_hits:
                hits.append(SearchHit(w.base + ls, strip_ansi(raw.decode("utf-8", "replace"))))
    return SearchResult(count, tuple(hits), count > len(hits), scanned)


def _count_lines(buf: mmap.mmap, needle: bytes, lo: int, hi: int) -> int:
    count = 0
    find = buf.find
    pos = find(needle, lo, hi)
    while pos >= 0:
        count += 1
        nl = find(b"\n", pos, hi)
        if nl < 0:
            break
        pos = find(needle, nl + 1, hi)
    return count


def _regex_lines(w: Window, pattern: re.Pattern[bytes]) -> Iterator[tuple[int, int]]:
    pos = w.lo
    while pos < w.hi:
        m = pattern.search(w.buf, pos, w.hi)
        if m is None:
            return
        ls, le = line_bounds(w.buf, m.start(), w.lo, w.hi)
        yield ls, le
        pos = le + 1
