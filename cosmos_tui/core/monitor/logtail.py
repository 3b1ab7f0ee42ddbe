"""The one reader of a run's ``console.log`` (and other growing logs), never reading all of it:
every read is capped.

:func:`tail_lines` reads the last N lines of a file of any size by seeking backwards from the end;
:func:`last_lines` the last N non-empty lines as written, from at most the last ``max_bytes``
(the run outcome, ``runs logs``). :func:`read_from` and :func:`read_new_lines` read what was
appended since an offset, a capped chunk at a time (``runs logs -f``, the demo).
:class:`LogTail` follows a growing file from a stored byte offset with ``os.read``, keeps the
newest lines in a bounded ring buffer (ANSI stripped) and hands each new chunk of raw bytes to the
caller (the metrics scan uses it). A truncated or replaced file is started again from its top.
Lines are parsed (:func:`~cosmos_tui.core.monitor.logline.parse_line`) only when a view asks.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from cosmos_tui.core.monitor.logline import ANSI_BYTES_RE, LogLine, matches, parse_line

_BLOCK = 64 << 10


def _redraw(text: str) -> str:
    """A carriage-return redraw (progress bars) keeps its last frame."""
    frames = [f for f in text.split("\r") if f]
    return frames[-1] if frames else ""


def _decode(raw: bytes) -> str:
    if b"\x1b" in raw:
        raw = ANSI_BYTES_RE.sub(b"", raw)
    text = raw.decode("utf-8", "replace")
    return _redraw(text) if "\r" in text else text


def _decode_lines(chunk: bytes) -> list[str]:
    """Split a chunk of whole lines and clean them, per chunk where possible (the live path)."""
    if b"\x1b" in chunk:
        chunk = ANSI_BYTES_RE.sub(b"", chunk)
    lines = chunk.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if b"\r" in chunk:
        lines = [_redraw(x) if "\r" in x else x for x in lines]
    return lines


READ_CAP = 8 << 20
"""Bytes one :func:`read_from` / :func:`read_new_lines` call reads at most."""


def _open_regular(path: Path) -> int | None:
    """A read-only descriptor of ``path`` when it is a regular file (a FIFO must not block the open,
    and ``/dev/zero`` would never end); ``None`` when it is missing or no regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def last_lines(path: Path, n: int = 5, *, max_bytes: int = 64 << 10) -> list[str]:
    """The last ``n`` non-empty lines of a text file as written (trailing blanks stripped), from at
    most its last ``max_bytes``; empty when it is absent, unreadable or no regular file."""
    try:
        fd = _open_regular(path)
    except OSError:
        return []
    if fd is None:
        return []
    try:
        data = os.pread(fd, max_bytes, max(0, os.fstat(fd).st_size - max_bytes))
    except OSError:
        return []
    finally:
        os.close(fd)
    lines = [ln.rstrip() for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-n:]


def read_from(path: Path, offset: int, *, max_bytes: int = READ_CAP) -> tuple[bytes, int]:
    """At most ``max_bytes`` of ``path`` from byte ``offset``, and the offset they start at: ``0``
    when the file is now shorter than ``offset`` (truncated or replaced, so it is read again from
    its top). ``(b"", offset)`` while the file is missing or no regular file."""
    fd = _open_regular(path)
    if fd is None:
        return b"", offset
    try:
        if os.fstat(fd).st_size < offset:
            offset = 0
        return os.pread(fd, max_bytes, offset), offset
    finally:
        os.close(fd)


def read_new_lines(path: Path, offset: int, *, max_bytes: int = READ_CAP) -> tuple[list[str], int]:
    """The complete lines appended to ``path`` since ``offset`` (at most ``max_bytes`` of them; call
    again for the rest), and the offset after them. A line longer than ``max_bytes`` is cut."""
    data, offset = read_from(path, offset, max_bytes=max_bytes)
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) >= max_bytes:
        end = len(data)
    return data[:end].decode("utf-8", "replace").splitlines(), offset + end


def chunks_from_end(path: Path, *, chunk: int = READ_CAP) -> Iterator[bytes]:
    """``path`` as pieces of whole lines from its end backwards, each about ``chunk`` bytes (a line
    longer than that comes whole, in a bigger piece); the first piece may end in a final line without
    its newline. Nothing while the file is missing or no regular file. Lets a caller looking for the
    last line of some kind stop after reading only the end of a big log."""
    fd = _open_regular(path)
    if fd is None:
        return
    try:
        end = os.fstat(fd).st_size
        size = chunk
        while end > 0:
            start = max(0, end - size)
            data = os.pread(fd, end - start, start)
            cut = 0
            if start > 0:  # the piece's first line may have begun before it
                cut = data.find(b"\n") + 1
                if cut == 0 or cut == len(data):  # no whole line in it: read a bigger piece
                    size *= 2
                    continue
            yield data[cut:]
            end = start + cut
            size = chunk
    finally:
        os.close(fd)


def tail_lines(path: Path, n: int, *, end: int | None = None, max_line_bytes: int = 1 << 20) -> list[str]:
    """The last ``n`` complete-or-final lines of ``path`` before byte ``end`` (default: the end of
    the file), ANSI stripped. Reads only about as many bytes as those lines take."""
    if n <= 0:
        return []
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size if end is None else end
        pos = size
        data = b""
        limit = n * max_line_bytes
        while pos > 0 and data.count(b"\n") <= n and len(data) < limit:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if pos > 0 and len(lines) > n:
        lines = lines[1:]  # the first piece may be a partial line
    return [_decode(x) for x in lines[-n:]]


def _end_of_last_line(path: Path, size: int, *, max_back: int = 1 << 20) -> int:
    """Byte offset just after the last newline before ``size`` (``size`` itself if none is found
    within ``max_back`` bytes, so a giant unterminated line is skipped rather than buffered)."""
    with open(path, "rb", buffering=0) as f:
        pos = size
        while pos > 0 and size - pos < max_back:
            step = min(_BLOCK, pos)
            f.seek(pos - step)
            block = f.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                return pos - step + cut + 1
            pos -= step
    return 0 if pos == 0 else size


@dataclass(frozen=True, slots=True)
class TailUpdate:
    """What one :meth:`LogTail.poll` found."""

    chunk: bytes
    """The raw bytes of the complete lines that arrived (for bulk scanners)."""
    new_lines: int
    """How many lines they were."""
    reset: bool
    """The file shrank or was replaced, so reading started again from its top."""


class LogTail:
    """Incremental reader of one growing log file into a ring buffer of ``max_lines`` lines.

    ``start`` is ``"end"`` (show the last ``backfill`` lines, then follow), ``"begin"`` or a byte
    offset stored earlier (resume exactly where a previous reader stopped).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_lines: int = 10_000,
        start: str | int = "end",
        backfill: int = 1_000,
        max_read_bytes: int = 8 << 20,
    ) -> None:
        self.path = Path(path)
        self.max_lines = max_lines
        self.max_read_bytes = max_read_bytes
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._parsed: dict[int, LogLine] = {}
        self._seq = 0  # lines ever appended
        self._partial = b""
        self._ident: tuple[int, int] | None = None
        self.offset = 0
        """Byte offset up to which the file has been consumed (complete lines only)."""
        self._start_at(start, backfill)

    # -- reading -------------------------------------------------------------------------------
    def _start_at(self, start: str | int, backfill: int) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.offset = 0 if isinstance(start, str) else int(start)
            return
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device: never opened (it could block)
            self.offset = 0
            return
        self._ident = (st.st_dev, st.st_ino)
        if start == "end":
            self.offset = _end_of_last_line(self.path, st.st_size)
            self._append(tail_lines(self.path, min(backfill, self.max_lines), end=self.offset))
        elif start == "begin":
            self.offset = 0
        else:
            self.offset = int(start)

    def _append(self, lines: list[str]) -> None:
        self._lines.extend(lines)
        self._seq += len(lines)
        if len(self._parsed) > 2 * self.max_lines:
            first = self.first_seq
            self._parsed = {k: v for k, v in self._parsed.items() if k >= first}

    def poll(self) -> TailUpdate:
        """Read what was appended since the last call (at most ``max_read_bytes``)."""
        reset = False
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the poll
        except FileNotFoundError:
            return TailUpdate(b"", 0, False)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a device or FIFO is no log: nothing to read
                return TailUpdate(b"", 0, False)
            ident = (st.st_dev, st.st_ino)
            if (self._ident is not None and ident != self._ident) or st.st_size < self.offset:
                self.offset = 0
                self._partial = b""
                reset = True
            self._ident = ident
            if st.st_size <= self.offset:
                return TailUpdate(b"", 0, reset)
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, min(self.max_read_bytes, st.st_size - self.offset))
        finally:
            os.close(fd)
        self.offset += len(data)
        buf = self._partial + data if self._partial else data
        cut = buf.rfind(b"\n") + 1
        if cut == 0 and len(buf) < self.max_read_bytes:
            self._partial = buf
            return TailUpdate(b"", 0, reset)
        cut = cut or len(buf)  # a single enormous line: cut it
        chunk, self._partial = buf[:cut], buf[cut:]
        lines = _decode_lines(chunk)
        keep = lines[-self.max_lines :]
        self._append(keep)
        self._seq += len(lines) - len(keep)
        return TailUpdate(chunk, len(lines), reset)

    @property
    def consumed(self) -> int:
        """Byte offset of the end of the last complete line read (store it to resume later)."""
        return self.offset - len(self._partial)

    # -- viewing -------------------------------------------------------------------------------
    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest line still in the buffer."""
        return self._seq - len(self._lines)

    @property
    def total_lines(self) -> int:
        """Lines seen since this reader started (including ones the buffer dropped)."""
        return self._seq

    def lines(self, last: int | None = None) -> list[str]:
        """The buffered lines (or only the ``last`` newest), oldest first, ANSI stripped."""
        if last is None or last >= len(self._lines):
            return list(self._lines)
        return list(islice(reversed(self._lines), last))[::-1]

    def parsed(self, seq: int) -> LogLine:
        """The parsed line with sequence number ``seq`` (cached)."""
        line = self._parsed.get(seq)
        if line is None:
            line = parse_line(self._lines[seq - self.first_seq])
            self._parsed[seq] = line
        return line

    def iter_parsed(self) -> Iterator[tuple[int, LogLine]]:
        """``(seq, line)`` for every buffered line, oldest first."""
        for seq in range(self.first_seq, self._seq):
            yield seq, self.parsed(seq)

    def view(
        self,
        *,
        min_level: str | None = None,
        query: str | None = None,
        rank: int | None = None,
        last: int | None = None,
    ) -> list[tuple[int, LogLine]]:
        """The buffered lines that pass the filters, oldest first; ``last`` keeps only the newest."""
        if min_level is None and not query and rank is None:
            first = self.first_seq if last is None else max(self.first_seq, self._seq - last)
            return [(s, self.parsed(s)) for s in range(first, self._seq)]
        hits = [
            (s, ln)
            for s, ln in self.iter_parsed()
            if matches(ln, min_level=min_level, query=query, rank=rank)
        ]
        return hits if last is None else hits[-last:]
