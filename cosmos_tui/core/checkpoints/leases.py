"""Reader leases: the checkpoints a process is reading or will read, so no prune removes them.

A samples job may wait on (or slowly read) a checkpoint while training goes on and the engine
prunes by its own ``keep_last_n``; the engine cannot read our records, so the contract is a file
beside the checkpoints: ``<checkpoints>/.cosmos-tui-readers/<pid>.json`` holding
``{"pid": P, "started": S, "iterations": [...]}``. A lease is live while process ``P`` runs
(``started``: its start time from ``/proc/P/stat``, so a reused pid does not count). The engine's
prune (``cosmos_engine.checkpoint.prune``) and ours (:mod:`.prune`) both keep every iteration of a
live lease; a dead one is ignored and removed by the next writer. The file is written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cosmos_tui.core.safeio import read_text_capped

READERS_DIR = ".cosmos-tui-readers"
_CAP = 1 << 20


def proc_started(pid: int) -> str | None:
    """Process ``pid``'s start time (clock ticks since boot, ``/proc/PID/stat`` field 22), or
    ``None`` where there is no ``/proc``, no such process, or only its zombie is left."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = proc_started(pid)
    if now is None:  # a zombie, or no /proc to tell: alive only where /proc is absent
        return not Path("/proc/self/stat").exists()
    return started is None or now == started


def write_lease(checkpoints_dir: Path, iterations: Iterable[int], pid: int | None = None) -> Path:
    """Lease ``iterations`` of ``checkpoints_dir`` to process ``pid`` (default: this one), replacing
    its earlier lease; an empty set removes it."""
    pid = os.getpid() if pid is None else pid
    folder = Path(checkpoints_dir) / READERS_DIR
    path = folder / f"{pid}.json"
    held = sorted({int(i) for i in iterations})
    if not held:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return path
    folder.mkdir(exist_ok=True)
    _sweep(folder)
    fd, tmp = tempfile.mkstemp(prefix=".lease-", dir=str(folder))
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": pid, "started": proc_started(pid), "iterations": held}, f)
    os.replace(tmp, path)
    return path


def _read(path: Path) -> tuple[int, str | None, list[int]] | None:
    try:
        data = json.loads(read_text_capped(path, _CAP, what="reader lease", follow_symlinks=False))
        started = data.get("started")
        return (
            int(data["pid"]),
            started if isinstance(started, str) else None,
            [int(i) for i in data["iterations"]],
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        return None


def _sweep(folder: Path) -> None:
    """Remove the leases of processes that ended (ours, by name: ``<pid>.json``)."""
    for path in folder.glob("*.json"):
        lease = _read(path)
        if lease is not None and not _alive(lease[0], lease[1]):
            with contextlib.suppress(OSError):
                path.unlink()


def leased_iterations(checkpoints_dir: Path) -> dict[int, int]:
    """Iteration -> the pid of a live lease on it, in ``checkpoints_dir``. Unreadable or foreign
    files are skipped (a lease only ever keeps more; it never deletes)."""
    held: dict[int, int] = {}
    try:
        entries = list(os.scandir(Path(checkpoints_dir) / READERS_DIR))
    except OSError:
        return held
    for entry in entries:
        if not entry.name.endswith(".json") or not entry.is_file(follow_symlinks=False):
            continue
        lease = _read(Path(entry.path))
        if lease is not None and _alive(lease[0], lease[1]):
            held.update(dict.fromkeys(lease[2], lease[0]))
    return held
