"""Bounded reads: every file read from a user, a dataset or a run is a regular file of bounded size.

A path that is (or links to) ``/dev/zero``, a FIFO, a socket or a folder, or a file larger than
the cap its kind allows, is refused with :class:`ReadRefused` before anything big is read: the
file is opened with ``O_NONBLOCK`` (so a FIFO without a writer cannot block the open), checked
with ``fstat`` on the open descriptor (so a swap after the check cannot fool it), and read at most
``cap + 1`` bytes. :class:`ReadRefused` is an :class:`OSError` carrying the path and a readable
reason, so every ``except OSError`` that already turns a missing or unreadable file into a finding
or a message handles it too, and the CLI prints it as one sentence.

Symlinks are followed by default (datasets link their videos and pickles from elsewhere); pass
``follow_symlinks=False`` to refuse a link (``O_NOFOLLOW``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

# Caps per kind of file: far above any real one, far below what hurts.
POINTER_CAP = 4 * KiB
"""``latest_checkpoint.txt`` (holds ``iter_000000500``)."""
RECORD_CAP = 16 * MiB
"""``run.json`` (a preset snapshot, a command, an env diff)."""
CONFIG_CAP = 64 * MiB
"""``config.yaml`` of a job, a preset, a pin file, a settings file."""
CAPTION_CAP = 4 * MiB
"""One caption file (``.txt`` or ``.json``)."""
PICKLE_CAP = 256 * MiB
"""One embedding pickle (a 512 x 1024 float32 embedding is 2 MiB)."""
METADATA_CAP = 2 * GiB
"""A DCP part's ``.metadata`` (tens of MB for a large sharded model)."""
JSONL_CAP = 8 * GiB
"""A dataset's JSON-lines index (Cosmos 3's ``video_dataset_file.jsonl``: a few kB a clip)."""
JSONL_LINE_CAP = 4 * MiB
"""One line of a JSON-lines index (one clip with all its windows and structured captions)."""
PARQUET_CAP = 2 * GiB
"""One parquet file of a LeRobot dataset (LeRobot writes files of about 100 MB)."""

_KINDS = (
    (stat.S_ISDIR, errno.EISDIR, "is a folder, not a file"),
    (stat.S_ISFIFO, errno.EINVAL, "is a FIFO (named pipe), not a regular file"),
    (stat.S_ISCHR, errno.EINVAL, "is a character device (such as /dev/zero), not a regular file"),
    (stat.S_ISBLK, errno.EINVAL, "is a block device, not a regular file"),
    (stat.S_ISSOCK, errno.EINVAL, "is a socket, not a regular file"),
)


class ReadRefused(OSError):
    """The file is not a regular file, or is larger than its cap; nothing big was read.

    ``strerror`` is the reason in words (``"is a FIFO (named pipe), not a regular file"``),
    ``filename`` the path, ``errno`` one of ``EISDIR``, ``EINVAL`` (not regular) or ``EFBIG``.
    """

    def __init__(self, code: int, reason: str, path: str | Path, what: str) -> None:
        super().__init__(code, reason, str(path))
        self.what = what

    def __str__(self) -> str:
        return f"{self.what} {self.filename} {self.strerror}"


def human_cap(n: int) -> str:
    """``4 KiB``, ``16 MiB``, ``2 GiB``."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def _too_big(path: str | Path, cap: int, what: str) -> ReadRefused:
    return ReadRefused(
        errno.EFBIG,
        f"is larger than the {human_cap(cap)} a {what} may have; it is not one, or it is damaged",
        path,
        what,
    )


def check_regular(st: os.stat_result, path: str | Path, *, what: str = "file") -> None:
    """Raise :class:`ReadRefused` unless ``st`` (from ``stat``/``fstat``) is a regular file."""
    if stat.S_ISREG(st.st_mode):
        return
    for test, code, reason in _KINDS:
        if test(st.st_mode):
            raise ReadRefused(code, reason, path, what)
    raise ReadRefused(errno.EINVAL, "is not a regular file", path, what)


def regular_file(path: str | Path, *, what: str = "file", cap: int | None = None) -> os.stat_result:
    """``stat`` ``path`` (following links) and refuse anything but a regular file of at most ``cap``
    bytes; for readers that hand the path to a library (PyAV, mmap) instead of reading it here."""
    st = os.stat(path)
    check_regular(st, path, what=what)
    if cap is not None and st.st_size > cap:
        raise _too_big(path, cap, what)
    return st


def read_bytes_capped(
    path: str | Path, cap: int, *, what: str = "file", follow_symlinks: bool = True
) -> bytes:
    """The bytes of the regular file ``path``, which must hold at most ``cap`` bytes.

    Raises :class:`ReadRefused` (an :class:`OSError`) for a folder, FIFO, device or socket, or a
    file over ``cap`` (checked from its size first, then by reading at most ``cap + 1`` bytes, so a
    file that grows while read is refused too), and the usual :class:`OSError` subclasses for a
    missing file, a permission problem or a symlink loop. ``what`` names the kind of file in the
    message (``"run record"``, ``"caption"``).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_symlinks and os.path.islink(path):
            raise ReadRefused(errno.ELOOP, "is a symlink, which is not followed here", path, what) from None
        raise
    try:
        st = os.fstat(fd)
        check_regular(st, path, what=what)
        if st.st_size > cap:
            raise _too_big(path, cap, what)
        chunks: list[bytes] = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise _too_big(path, cap, what)
    return data


def iter_lines_capped(
    path: str | Path, cap: int, line_cap: int, *, what: str = "file"
) -> Iterator[tuple[int, bytes | None]]:
    """The lines of the regular file ``path`` as ``(line number, bytes without the newline)``,
    numbered from 1; a line longer than ``line_cap`` bytes comes as ``(number, None)`` and is
    skipped without being held in memory.

    The file is checked as in :func:`read_bytes_capped` (a regular file of at most ``cap`` bytes,
    :class:`ReadRefused` otherwise) before the first line, and reading stops with
    :class:`ReadRefused` once more than ``cap`` bytes were read (a file that grows while read).
    Memory stays under ``line_cap`` plus one read block whatever the file holds.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        check_regular(st, path, what=what)
        if st.st_size > cap:
            raise _too_big(path, cap, what)
        number, total = 1, 0
        pending: list[bytes] = []
        held = 0
        skipping = False
        while True:
            block = os.read(fd, 1 * MiB)
            if not block:
                break
            total += len(block)
            if total > cap:
                raise _too_big(path, cap, what)
            start = 0
            while True:
                end = block.find(b"\n", start)
                piece = block[start:] if end < 0 else block[start:end]
                if not skipping:
                    if held + len(piece) > line_cap:
                        skipping, pending, held = True, [], 0
                    else:
                        pending.append(piece)
                        held += len(piece)
                if end < 0:
                    break
                yield number, None if skipping else b"".join(pending)
                number, pending, held, skipping = number + 1, [], 0, False
                start = end + 1
        if skipping or held:
            yield number, None if skipping else b"".join(pending)
    finally:
        os.close(fd)


def read_text_capped(
    path: str | Path,
    cap: int,
    *,
    what: str = "file",
    encoding: str = "utf-8",
    errors: str = "strict",
    follow_symlinks: bool = True,
) -> str:
    """:func:`read_bytes_capped` decoded with ``encoding``; a file that is not text in it raises
    :class:`UnicodeDecodeError` (with ``errors="strict"``, the default), which callers report as
    they see fit (see :func:`describe_decode_error`)."""
    return read_bytes_capped(path, cap, what=what, follow_symlinks=follow_symlinks).decode(encoding, errors)


def describe_decode_error(e: UnicodeDecodeError, path: str | Path, *, what: str = "file") -> str:
    """One sentence for a file that is not UTF-8 text."""
    return (
        f"{what} {path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
        "it is binary or damaged: re-create it as UTF-8 text"
    )


__all__ = [
    "CAPTION_CAP",
    "CONFIG_CAP",
    "JSONL_CAP",
    "JSONL_LINE_CAP",
    "METADATA_CAP",
    "PARQUET_CAP",
    "PICKLE_CAP",
    "POINTER_CAP",
    "RECORD_CAP",
    "ReadRefused",
    "check_regular",
    "describe_decode_error",
    "human_cap",
    "iter_lines_capped",
    "read_bytes_capped",
    "read_text_capped",
    "regular_file",
]
