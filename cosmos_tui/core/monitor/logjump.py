"""Moving around a whole log: where a search hit sits relative to what a view has buffered, the
lines around a byte offset, and the first error line.

A log view holds the newest lines of ``console.log``, contiguous and ending at a known byte offset
(:attr:`~cosmos_tui.core.monitor.logtail.LogTail.consumed`). :func:`line_starts` finds where each
of those lines starts, so a hit of :func:`~cosmos_tui.core.monitor.logsearch.search_file` (a byte
offset) maps to a buffered line, or to none: then :func:`context_at` reads the lines around it
from the file. Every read is capped; none reads the whole file into memory.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.monitor.logline import (
    ERROR_LINE_RE,
    LEVELS,
    USER_ERROR_LINE_RE,
    parse_line,
    shown_line,
)
from cosmos_tui.core.monitor.logsearch import SearchHit, search_file

_BLOCK = 256 << 10
CONTEXT_CAP = 4 << 20
"""Bytes :func:`context_at` reads at most on each side of the offset."""
STARTS_CAP = 64 << 20
"""Bytes :func:`line_starts` reads back at most."""

ERROR_PATTERN = r"Traceback \(most recent call last\)|\|(?:ERROR|CRITICAL)\||Error|Exception|error: "
"""A regular expression taking every line that may be an error; :func:`is_error` decides."""


def line_starts(path: Path, end: int, count: int, *, cap: int = STARTS_CAP) -> list[int]:
    """Byte offsets where the last ``count`` lines before ``end`` start, oldest first (``end`` is
    just after a newline, or the file's end). Fewer when the file (or ``cap`` bytes read back)
    holds fewer lines."""
    if count <= 0 or end <= 0:
        return []
    starts: list[int] = []
    with open(path, "rb") as f:
        pos = end
        scan_to = end - 1  # the newline ending the last line is not a line start
        floor = max(0, end - cap)
        while pos > floor and len(starts) < count:
            lo = max(floor, pos - _BLOCK)
            f.seek(lo)
            buf = f.read(pos - lo)
            hi = scan_to - lo
            while len(starts) < count:
                i = buf.rfind(b"\n", 0, hi)
                if i < 0:
                    break
                starts.append(lo + i + 1)
                hi = i
            scan_to = lo
            pos = lo
        if len(starts) < count and pos == 0:
            starts.append(0)
    return starts[::-1]


def index_in(starts: list[int], offset: int) -> int | None:
    """Which of the lines starting at ``starts`` holds byte ``offset`` (``None``: before them)."""
    if not starts or offset < starts[0]:
        return None
    return bisect.bisect_right(starts, offset) - 1


@dataclass(frozen=True, slots=True)
class LogContext:
    """Lines of a file around one offset."""

    lines: tuple[str, ...]
    """The lines, ANSI stripped, in file order."""
    hit: int
    """Index in ``lines`` of the line holding the offset."""
    first_offset: int
    """Byte offset of ``lines[0]``."""


def context_at(path: Path, offset: int, *, before: int = 200, after: int = 200) -> LogContext:
    """The line holding byte ``offset`` with up to ``before`` lines before it and ``after`` after."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = max(0, min(offset, size))
        lo = max(0, offset - CONTEXT_CAP)
        f.seek(lo)
        head = f.read(offset - lo)
        f.seek(offset)
        tail = f.read(min(CONTEXT_CAP, size - offset))
    # The line holding offset starts after the last newline of head.
    cut = head.rfind(b"\n") + 1
    prior = head[:cut].split(b"\n")[:-1] if cut else []
    if lo > 0 and prior:
        prior = prior[1:]  # the first piece may be a partial line
    prior = prior[-before:] if before else []
    rest = (head[cut:] + tail).split(b"\n")
    if rest and rest[-1] == b"":
        rest.pop()
    following = rest[: after + 1]
    raw = [*prior, *following]
    first_offset = offset - (len(head) - cut) - sum(len(p) + 1 for p in prior)
    lines = tuple(shown_line(r.decode("utf-8", "replace")) for r in raw)
    return LogContext(lines, len(prior), first_offset)


def is_error(text: str) -> bool:
    """Whether a console line is an error by the log grammar: a loguru ERROR/CRITICAL line, a
    traceback's head, a Python exception line, or an engine's ``error: ...`` sentence."""
    line = parse_line(text)
    if line.severity >= LEVELS["ERROR"]:
        return True
    return bool(ERROR_LINE_RE.match(line.message) or USER_ERROR_LINE_RE.match(line.message))


def first_error(path: Path, *, start: int = 0, batch: int = 200) -> SearchHit | None:
    """The first error line of ``path`` at or after byte ``start`` (:func:`is_error`)."""
    while True:
        found = search_file(path, ERROR_PATTERN, regex=True, max_hits=batch, start=start)
        for hit in found.hits:
            if is_error(hit.line):
                return hit
        if not found.truncated:
            return None
        start = _after_line(path, found.hits[-1].offset)


def _after_line(path: Path, offset: int) -> int:
    """The offset just after the line starting at ``offset``."""
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            piece = f.readline(_BLOCK)
            offset += len(piece)
            if not piece or piece.endswith(b"\n"):
                return offset
