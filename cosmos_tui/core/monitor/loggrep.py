"""Search hits as ``grep -n -C N`` shows them: line numbers and the lines around each hit.

:func:`~cosmos_tui.core.monitor.logsearch.search_file` finds the matching lines of a whole log and
their byte offsets. Here the offsets become line numbers (the newlines before each hit are counted
in one forward pass of C-speed ``bytes.count`` over the file, a block at a time) and, when asked,
each hit gets the ``context`` lines before and after it, read from around its offset only. Hits
whose context touches or overlaps are merged into one group, as grep prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.monitor.logline import shown_line
from cosmos_tui.core.monitor.logsearch import SearchHit

BLOCK = 4 << 20
"""Bytes read at a time while counting newlines."""

CONTEXT_READ = 64 << 10
"""Bytes read first around a hit for its context (doubled while lines are longer)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a group: its 1-based number, its text (ANSI stripped), whether it matched."""

    number: int
    text: str
    match: bool


def line_numbers(path: Path, offsets: Sequence[int]) -> list[int]:
    """The 1-based line number of the line starting at each byte offset (offsets ascending)."""
    numbers: list[int] = []
    newlines = 0
    pos = 0
    with open(path, "rb") as f:
        for off in offsets:
            while pos < off:
                block = f.read(min(BLOCK, off - pos))
                if not block:
                    break
                newlines += block.count(b"\n")
                pos += len(block)
            numbers.append(newlines + 1)
    return numbers


def _before(f, offset: int, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Up to ``n`` lines ending just before ``offset`` (a line start)."""
    want = CONTEXT_READ
    while True:
        start = max(0, offset - want)
        f.seek(start)
        chunk = f.read(offset - start)
        lines = chunk.split(b"\n")[:-1]  # the chunk ends with the newline before the hit
        if start == 0 or len(lines) > n:  # the first line may be cut unless the chunk starts the file
            return [_text(b) for b in lines[-n:]] if n else []
        want *= 2


def _after(f, offset: int, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Up to ``n`` lines after the line starting at ``offset``."""
    want = CONTEXT_READ
    while True:
        f.seek(offset)
        chunk = f.read(want)
        lines = chunk.split(b"\n")
        short = len(chunk) < want  # the file ended inside this read
        if short or len(lines) > n + 1:
            if short and lines and lines[-1] == b"":
                lines.pop()
            return [_text(b) for b in lines[1 : n + 1]]
        want *= 2


def _text(raw: bytes) -> str:
    return shown_line(raw.rstrip(b"\r").decode("utf-8", "replace"))


def with_context(path: Path, hits: Sequence[SearchHit], context: int = 0) -> list[list[Line]]:
    """The hits as groups of numbered lines: one group per hit without context; with
    ``context`` lines each side, hits whose context touches share a group (file order)."""
    numbers = line_numbers(path, [h.offset for h in hits])
    if context <= 0:
        return [[Line(n, h.line, True)] for n, h in zip(numbers, hits, strict=True)]
    groups: list[list[Line]] = []
    with open(path, "rb") as f:
        for n, hit in zip(numbers, hits, strict=True):
            before = _before(f, hit.offset, context)
            after = _after(f, hit.offset, context)
            lines = [
                *(Line(n - len(before) + i, t, False) for i, t in enumerate(before)),
                Line(n, hit.line, True),
                *(Line(n + 1 + i, t, False) for i, t in enumerate(after)),
            ]
            if groups and lines[0].number <= groups[-1][-1].number + 1:
                last = groups[-1]
                known = {line.number: k for k, line in enumerate(last)}
                for line in lines:
                    if line.number in known:
                        if line.match:
                            last[known[line.number]] = line
                    else:
                        last.append(line)
            else:
                groups.append(lines)
    return groups
