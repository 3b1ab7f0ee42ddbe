"""One containment rule for every write and delete: resolve first, then stay inside the owned folder.

Every command that writes or deletes owns one folder (the output root, the state root, a dataset,
an export target). Before it touches a path, ``..`` components and symlinks are resolved
(:func:`os.path.realpath`, which also stops at a symlink loop instead of raising), and anything
that does not lie inside the owned folder, itself resolved the same way, is refused with one
sentence (:class:`Escape`, a :class:`~cosmos_tui.core.errors.UserError`).

Deletes go through :func:`safe_rmtree` / :func:`safe_unlink`: the entry to remove must sit inside
the root (its parent resolved, the name itself kept), a symlink is removed as a link and never
followed, and the root itself, a filesystem anchor (``/``) or the home folder are never removed.
Writes of small files go through :func:`write_contained` (temp file created with ``O_EXCL |
O_NOFOLLOW`` beside the target, then renamed over it), so a link planted at the target or at the
temp name can never redirect a write outside the root.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cosmos_tui.core.errors import UserError


class Escape(UserError):
    """A write or delete would land outside the folder the command owns, or on that folder itself."""


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with ``..`` and every symlink resolved (a loop stops resolving, it
    never raises; the OS reports ``ELOOP`` when the path is used)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def is_within(path: str | Path, root: str | Path) -> bool:
    """``path`` is ``root`` or lies below it, both resolved."""
    p, r = resolved(path), resolved(root)
    return p == r or r in p.parents


def contained(path: str | Path, root: str | Path, *, what: str) -> Path:
    """The resolved ``path`` if it lies inside ``root`` (both resolved); :class:`Escape` otherwise.

    ``what`` names the owned folder in the message (``"the dataset folder"``, ``"the export
    folder"``). The root itself counts as inside; deletes refuse it separately.
    """
    p, r = resolved(path), resolved(root)
    if p == r or r in p.parents:
        return p
    via = "" if Path(os.path.abspath(path)) == p else f" (it resolves to {p})"
    raise Escape(
        f"refusing to touch {path}{via}: it is outside {what} {r}; "
        "remove the symlink or '..' that leads there, or pick a path inside it"
    )


def _entry(path: str | Path, root: str | Path, what: str) -> tuple[Path, Path]:
    """``(entry, resolved root)``: the entry with its parent resolved (in order, so ``link/..``
    means what the OS means) and its own name kept, so a symlink is looked at as a link. Refuses
    entries outside ``root``, the root itself and top-level or home folders."""
    text = os.path.expanduser(os.fspath(path)).rstrip("/") or "/"
    parent, name = os.path.split(text)
    entry = resolved(text) if name in ("", ".", "..") else resolved(parent or ".") / name
    r = resolved(root)
    if entry == r or (resolved(entry) == r and not entry.is_symlink()):
        raise Escape(f"refusing to delete {path}: it is {what} {r} itself, not something inside it")
    if r not in entry.parents:
        raise Escape(
            f"refusing to delete {path}: it is outside {what} {r}; "
            "remove the symlink or '..' that leads there, or pick a path inside it"
        )
    home = resolved(Path.home())
    if entry == home or len(entry.parts) <= 2:
        raise Escape(f"refusing to delete {entry}: it is a top-level or home folder")
    return entry, r


def safe_unlink(path: str | Path, root: str | Path, *, what: str = "the folder the command owns") -> bool:
    """Remove the file or symlink ``path`` inside ``root`` (a link is removed, never its target).
    Returns False when there was nothing there; refuses folders (use :func:`safe_rmtree`)."""
    entry, _ = _entry(path, root, what)
    try:
        if entry.is_dir() and not entry.is_symlink():
            raise Escape(f"refusing to unlink {entry}: it is a folder")
        entry.unlink()
    except FileNotFoundError:
        return False
    return True


def safe_rmtree(path: str | Path, root: str | Path, *, what: str = "the folder the command owns") -> bool:
    """Delete ``path`` (a folder tree, a file or a symlink) inside ``root``.

    ``..`` and symlinks in the parents are resolved first and the entry must lie strictly inside
    ``root``. A symlink is removed as a link, never followed (its target is left alone). The root
    itself, ``/``, top-level folders and the home folder are refused. Inside the tree
    :func:`shutil.rmtree` never follows symlinks either. Returns False when nothing was there.
    """
    entry, _ = _entry(path, root, what)
    if entry.is_symlink() or (entry.exists() and not entry.is_dir()):
        entry.unlink()
        return True
    if not entry.exists():
        return False
    shutil.rmtree(entry)
    return True


def write_contained(
    path: str | Path, data: bytes | str, root: str | Path, *, what: str = "the folder the command owns"
) -> Path:
    """Write ``data`` to ``path`` inside ``root`` atomically: a temp file beside it (created with
    ``O_CREAT | O_EXCL | O_NOFOLLOW``, so no planted link is followed), then renamed over ``path``.
    A ``path`` that is a symlink leading outside ``root`` is refused; one leading inside is
    replaced by the file. Returns the path written."""
    contained(path, root, what=what)
    target = resolved(Path(path).parent) / Path(path).name
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        tmp.unlink()  # a leftover of ours, or a planted link: removed as an entry, never followed
    except FileNotFoundError:
        pass
    fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


__all__ = ["Escape", "contained", "is_within", "resolved", "safe_rmtree", "safe_unlink", "write_contained"]
