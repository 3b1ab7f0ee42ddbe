"""What a file-system error means to a person: one sentence naming the path, the cause and a fix.

Every face uses the same words: the CLI's root turns an :class:`OSError` that escapes a command
into :func:`describe_os_error`'s sentence (never a traceback), the TUI shows it in a notification,
and the dataset walk records :func:`reason` and :func:`hint` as a finding.
"""

from __future__ import annotations

import errno
import os

from cosmos_tui.core.safeio import ReadRefused

_REASONS: dict[int, tuple[str, str]] = {
    errno.ELOOP: (
        "a symlink loop (a link that leads back to itself)",
        "replace the link with the file or folder it should point to (`ls -l` shows where it leads)",
    ),
    errno.EACCES: (
        "permission denied",
        "make it readable (and writable, to change it) for this user with chmod/chown, "
        "or run as the user who owns it",
    ),
    errno.EPERM: (
        "operation not permitted",
        "check the file's owner and flags (chattr, ACLs), or run as the user who owns it",
    ),
    errno.EROFS: (
        "the file system is read-only",
        "pick a folder on a writable file system, or remount it read-write",
    ),
    errno.ENOTDIR: (
        "a part of the path is a file, not a folder",
        "check the path; a file stands where a folder is expected",
    ),
    errno.EISDIR: ("it is a folder, not a file", "pass the file itself, not its folder"),
    errno.ENOENT: ("it does not exist", "check the path (a moved folder or a broken symlink?)"),
    errno.EEXIST: ("it already exists", "remove it or pick another name"),
    errno.ENOSPC: ("the disk is full", "free space on that file system or pick another folder"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space in your quota or pick another folder"),
    errno.ENAMETOOLONG: ("the name is too long", "use a shorter path"),
    errno.EIO: ("an I/O error (the disk or network file system failed)", "check the disk and retry"),
    errno.EFBIG: ("it is too large", "check that it is the file you meant"),
    errno.EMFILE: ("too many open files", "raise the open-file limit (ulimit -n) and retry"),
    errno.ENXIO: ("no such device (a FIFO or device without a peer)", "pass a regular file"),
    errno.ETXTBSY: ("the file is busy", "retry when the program using it has finished"),
}


def reason(e: OSError) -> str:
    """The cause in a few words (``"permission denied"``, ``"a symlink loop ..."``)."""
    if e.errno in _REASONS and not isinstance(e, ReadRefused):
        return _REASONS[e.errno][0]
    text = e.strerror or str(e) or type(e).__name__
    return text[:1].lower() + text[1:]


def hint(e: OSError) -> str:
    """What to do about it, as an imperative clause."""
    if isinstance(e, ReadRefused) and e.errno not in (errno.EISDIR, errno.EFBIG):
        return "replace it with the regular file it should be"
    return _REASONS.get(e.errno or -1, ("", "check the path and its permissions"))[1]


def describe_os_error(e: OSError, *, doing: str | None = None) -> str:
    """One sentence: ``cannot <doing> <path>: <reason>; <hint>.``

    ``doing`` defaults to ``use``; the paths come from the error (``filename``/``filename2``).
    """
    path = e.filename
    where = f" {os.fsdecode(path)}" if path is not None else ""
    if e.filename2 is not None:
        where += f" -> {os.fsdecode(e.filename2)}"
    if isinstance(e, ReadRefused):
        return f"{e}; {hint(e)}."
    return f"cannot {doing or 'use'}{where}: {reason(e)}; {hint(e)}."


__all__ = ["describe_os_error", "hint", "reason"]
