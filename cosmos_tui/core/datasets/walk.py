"""Listing dataset folders without ever raising: a file-system error becomes a finding.

A dataset is someone else's tree: a folder may be unreadable, an entry may be a symlink loop or
point at a device, a file may stand where a folder should be. :func:`scan_entries` lists one
folder and classifies each entry; whatever the OS refuses is recorded through ``report`` as
``(finding id, example)`` (:func:`fs_finding`) instead of aborting the whole validation.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from cosmos_tui.core.fserrors import reason
from cosmos_tui.core.safeio import ReadRefused

Kind = Literal["dir", "file", "broken", "other"]
Report = Callable[[str, str], None]
"""Called as ``report(finding_id, example)``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a listed folder."""

    name: str
    path: str
    kind: Kind
    """``dir`` or ``file`` (after following links), ``broken`` (a link to nothing), ``other``
    (a loop, a device, a FIFO, or an entry that cannot be looked at; already reported)."""
    is_symlink: bool


def fs_finding(e: OSError, rel: str) -> tuple[str, str]:
    """The finding for ``e`` met at ``rel`` (a path relative to the dataset root)."""
    rel = rel.lstrip("/") or "."
    if isinstance(e, ReadRefused):
        fid = "file-too-large" if e.errno == errno.EFBIG else "not-a-regular-file"
        return fid, f"{rel}: {e.strerror}"
    if e.errno == errno.ELOOP:
        return "symlink-loop", rel
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission-denied", rel
    return "fs-error", f"{rel}: {reason(e)}"


def _rel(rel: str, name: str) -> str:
    return f"{rel}/{name}".lstrip("/") if rel else name


def scan_entries(folder: str | os.PathLike[str], rel: str, report: Report) -> Iterator[Entry]:
    """The entries of ``folder`` not starting with ``.``, each classified; ``rel`` names the folder
    in findings. An unreadable folder yields nothing and reports one finding."""
    try:
        it = os.scandir(folder)
    except FileNotFoundError:
        return
    except OSError as e:
        report(*fs_finding(e, rel + "/"))
        return
    with it:
        while True:
            try:
                e = next(it)
            except StopIteration:
                return
            except OSError as err:  # an I/O error in the middle of a listing
                report(*fs_finding(err, rel + "/"))
                return
            yield Entry(e.name, e.path, _kind(e, _rel(rel, e.name), report), _is_link(e))


def _is_link(e: os.DirEntry[str]) -> bool:
    try:
        return e.is_symlink()
    except OSError:
        return False


def _kind(e: os.DirEntry[str], rel: str, report: Report) -> Kind:
    try:
        if not e.is_symlink():  # the listing's d_type answers without a stat for plain entries
            if e.is_dir(follow_symlinks=False):
                return "dir"
            if e.is_file(follow_symlinks=False):
                return "file"
            st = e.stat(follow_symlinks=False)
        else:
            st = os.stat(e.path)  # follows the link, like the loader's open
    except FileNotFoundError:
        return "broken" if _is_link(e) else "other"
    except OSError as err:
        report(*fs_finding(err, rel))
        return "other"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    report("not-a-regular-file", f"{rel}: {_special(st.st_mode)}")
    return "other"


def _special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device (such as /dev/zero)"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_file(path: str | os.PathLike[str], rel: str, out: list[tuple[str, str]]) -> bool:
    """Stat checks before opening: broken symlink, unreadable, empty. True if the file can be opened;
    otherwise the reason is appended to ``out`` as ``(finding id, example)``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        out.append(("broken-symlink", f"{rel} -> {os.readlink(path) if os.path.islink(path) else 'missing'}"))
        return False
    except OSError as e:
        out.append(fs_finding(e, rel) if e.errno in (errno.EACCES, errno.EPERM) else _unreadable(e, rel))
        return False
    if st.st_size == 0:
        out.append(("empty-file", rel))
        return False
    return _readable(path, rel, out)


def _unreadable(e: OSError, rel: str) -> tuple[str, str]:
    return ("unreadable-file", f"{rel}: {e.strerror or e}")


def _readable(path: str | os.PathLike[str], rel: str, out: list[tuple[str, str]]) -> bool:
    """Can this user open the file for reading? (A refusal is not a damaged file: other advice.)"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO does not hang the open
    except OSError as e:
        out.append(fs_finding(e, rel) if e.errno in (errno.EACCES, errno.EPERM) else _unreadable(e, rel))
        return False
    os.close(fd)
    return True


__all__ = ["Entry", "check_file", "fs_finding", "scan_entries"]
