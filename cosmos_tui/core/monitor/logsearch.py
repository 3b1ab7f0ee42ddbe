"""Searching a whole log, however big, at memory speed.

The file is mapped one line-aligned window at a time (:mod:`.bytescan`). A literal query (exact, or
ignoring ASCII case) is matched by :class:`.bytescan.LiteralLines`, whose pattern consumes the rest
of each matching line: Python code runs once per kept hit, and once the first ``max_hits`` lines
are kept the rest are only counted, with no Python per line or per hit. A regex runs as a compiled
bytes pattern over the whole window, with Python per hit. Results count matching lines, as
``grep -c`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.bytescan import WINDOW, LiteralLines, Window, line_bounds, windows
from cosmos_tui.core.monitor.logline import shown_line


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
    if "\n" in query:
        raise UserError("The search query holds a line break; search for text within one line.")
    pattern: re.Pattern[bytes] | None = None
    literal: LiteralLines | None = None
    needle = query.encode()
    if regex or (ignore_case and not query.isascii()):
        try:
            pattern = re.compile(needle if regex else re.escape(needle), re.IGNORECASE if ignore_case else 0)
        except re.error as e:
            raise UserError(
                f"The search pattern {query!r} is not a valid regular expression ({e})."
            ) from None
    else:
        literal = LiteralLines(needle, ignore_case=ignore_case)
    count = 0
    hits: list[SearchHit] = []
    scanned = 0

    def keep(w: Window, ls: int, le: int) -> None:
        hits.append(SearchHit(w.base + ls, shown_line(w.buf[ls:le].decode("utf-8", "replace"))))

    for w in windows(path, start=start, end=end, window=window):
        scanned += w.hi - w.lo
        if pattern is not None:
            for ls, le in _regex_lines(w, pattern):
                count += 1
                if len(hits) < max_hits:
                    keep(w, ls, le)
            continue
        assert literal is not None
        for piece in literal.pieces(w):
            if len(hits) >= max_hits:
                count += piece.count()
                continue
            for m in piece.pattern.finditer(piece.hay, piece.lo, piece.hi):
                count += 1
                s, le = m.start() + piece.delta, m.end() + piece.delta
                keep(w, max(w.buf.rfind(b"\n", w.lo, s) + 1, w.lo), le)
                if len(hits) >= max_hits:
                    count += piece.count(m.end())
                    break
    return SearchResult(count, tuple(hits), count > len(hits), scanned)


def _regex_lines(w: Window, pattern: re.Pattern[bytes]) -> Iterator[tuple[int, int]]:
    pos = w.lo
    while pos < w.hi:
        m = pattern.search(w.buf, pos, w.hi)
        if m is None:
            return
        ls, le = line_bounds(w.buf, m.start(), w.lo, w.hi)
        yield ls, le
        pos = le + 1
