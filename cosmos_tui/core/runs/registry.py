"""The run registry on disk: one folder per run, ``run.json`` written atomically under a lock.

Readers never need the lock: ``run.json`` is only ever replaced whole (temp file in the same
folder, fsync, ``os.replace``), so a reader sees the old or the new record, never half of one.
Writers take an exclusive ``fcntl.flock`` on ``run.lock`` around read-modify-write, so two CLIs,
a UI and the supervisor updating the same run at once never lose an update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.idmatch import match_id
from cosmos_tui.core.paths import runs_root
from cosmos_tui.core.runs.record import RECORD_FILE, RunRecord, unreadable
from cosmos_tui.core.safeio import RECORD_CAP, read_text_capped

LOCK_FILE = "run.lock"


def locked(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold the run's exclusive lock (blocks until it is free)."""
    return flocked(run_dir / LOCK_FILE)


@contextlib.contextmanager
def flocked(path: Path, *, follow_symlinks: bool = True) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on the file ``path`` (made when missing; blocks until it
    is free); with ``follow_symlinks=False`` a link planted there is refused (``O_NOFOLLOW``).
    The run lock and the job folder's guard (:mod:`joblock`) are both taken here."""
    flags = os.O_RDWR | os.O_CREAT | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` whole: temp file beside it, fsync, ``os.replace``, fsync of
    the folder (the run records and the queue entries are written this way). ``mode``: the new
    file's permissions from its creation on (default: the umask's)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    if mode is not None:
        os.fchmod(fd, mode)  # an old temp file left by a dead writer keeps its own mode otherwise
    with open(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_write_atomic = write_atomic  # the name the benchmarks use


def read(run_dir: Path) -> RunRecord:
    """The record in ``run_dir`` (no lock needed: the file is only replaced whole). Any damage
    (missing, not JSON, not an object, a field of the wrong type, not a regular file) is a
    :class:`UserError` naming the file."""
    path = Path(run_dir) / RECORD_FILE
    fix = "remove the run with `cosmos-tui runs rm`, or restore the file"
    try:
        data = json.loads(read_text_capped(path, RECORD_CAP, what="run record"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing; the run folder is incomplete; remove it (`runs rm`)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e}); it was edited by hand or the disk failed") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not text (binary data); {fix}") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a run record; {fix}") from None
    except OSError as e:
        raise UserError(f"{path} cannot be read ({e.strerror or e}); {fix}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} holds a JSON {type(data).__name__}, not a run record; {fix}")
    try:
        record = RunRecord.from_dict(data, Path(run_dir))
    except ValueError as e:
        raise UserError(f"{path} is damaged: {e}; {fix}") from None
    if record.id != Path(run_dir).name:
        # A record is found, shown and removed by its folder's name: one that names another run
        # (copied by hand, or crafted) would be listed under an id no command can reach.
        raise UserError(
            f"{path} names run {record.id!r}, not the folder it is in ({Path(run_dir).name}); {fix}"
        )
    return record


def read_or_unreadable(run_dir: Path) -> RunRecord:
    """:func:`read`, or an ``unreadable`` stand-in saying why (listing never fails on one record)."""
    try:
        return read(run_dir)
    except UserError as e:
        return unreadable(Path(run_dir), e.message)


def write(record: RunRecord) -> None:
    """Replace ``run.json`` with ``record`` (caller holds the lock, or the run is new)."""
    write_atomic(record.run_dir / RECORD_FILE, record.to_json())


def update(run_dir: Path, change: Callable[[RunRecord], RunRecord | None]) -> RunRecord:
    """Read-modify-write under the lock. ``change`` returns the new record, or ``None`` to keep it."""
    with locked(Path(run_dir)):
        current = read(run_dir)
        new = change(current)
        if new is None or new == current:
            return current
        write(new)
        return new


def create(record: RunRecord) -> RunRecord:
    """Make the run folder and write its first record; refuses an id already taken."""
    record.run_dir.mkdir(parents=True, exist_ok=False)
    with locked(record.run_dir):
        write(record)
    return record


def run_dir_for(run_id: str) -> Path:
    """Where run ``run_id`` lives."""
    return runs_root() / run_id


def run_ids() -> list[str]:
    """Ids of every run folder holding a record, oldest first (ids sort by time)."""
    root = runs_root()
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UserError(
            f"the runs folder {root} cannot be listed ({e.strerror or e}); point COSMOS_TUI_HOME at a "
            "folder you own"
        ) from None
    return sorted(
        e.name
        for e in entries
        if e.is_dir(follow_symlinks=False) and os.path.lexists(Path(e.path) / RECORD_FILE)
    )


def resolve_id(run_id_or_prefix: str) -> str:
    """The full id for an id, a unique prefix, a unique substring, or ``latest``/``last``."""
    return match_id(
        run_id_or_prefix,
        run_ids(),
        what="run",
        listing="cosmos-tui runs list",
        none_yet="start one with `cosmos-tui run`",
    )


def age(record: RunRecord) -> float:
    """Seconds since the record was created."""
    return time.time() - record.created_at
