"""Queue entries on disk: ``$COSMOS_TUI_HOME/queue/entries/<id>.json``, one file per entry.

Each file is replaced whole (:func:`registry.write_atomic`) under the entry's own ``flock``, so a
reader sees the old or the new entry, and two writers (a CLI cancelling, the dispatcher
claiming) never lose an update: the claim is a read-modify-write that only moves ``queued`` to
``starting``, so of two dispatchers only one ever wins it. Whole-queue changes (add, move) hold
``queue.lock``. ``paused`` is a flag file.

States: ``queued -> starting -> started`` (with the run id), or ``cancelled``, or ``failed``
(it could not start: the preflight refused it, the preset no longer loads).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.idmatch import match_id
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.runs.record import ProcRef
from cosmos_tui.core.runs.registry import flocked, write_atomic
from cosmos_tui.core.safeio import RECORD_CAP, read_text_capped

EntryState = Literal["queued", "starting", "started", "cancelled", "failed"]
WAITING: frozenset[str] = frozenset({"queued", "starting"})
"""States of an entry that has not become a run yet."""
Existing = Literal["ask", "resume", "fresh"]


@dataclass(frozen=True)
class QueueEntry:
    """One queued run: what to launch, what it needs, and where it stands."""

    id: str
    """``q-YYYYMMDD-HHMMSS-<4 hex>``."""
    preset: dict[str, Any]
    """The preset to launch, ``--set`` items applied, as plain data (validated again at start)."""
    preset_ref: str = ""
    """The preset name or path given to ``queue add``."""
    preset_path: str | None = None
    """The preset file it came from."""
    sets: tuple[str, ...] = ()
    """The ``--set`` items (recorded in the run as given)."""
    existing: Existing = "ask"
    """What the launch does with a job folder that holds checkpoints (``--resume``/``--fresh``)."""
    force: bool = False
    """Launch even if a non-job preflight check fails (``--force``, as ``run --force``)."""
    environ: dict[str, str] = field(default_factory=dict)
    """The environment of the shell that queued it, secret-looking names left out: the run
    starts in it (over the dispatcher's own, which supplies the secrets), as if started there."""
    priority: int = 0
    """Higher starts first."""
    order: int = 0
    """Position among entries of the same priority (lower first); ``queue move`` renumbers it."""
    gpus: str | None = None
    """The GPU request (``0-3``, ``0,2``, ``any:2``); ``None``: slots (no GPU here), or any
    ``launch.nproc_per_node`` GPUs where there are GPUs."""
    slots: int = 1
    """Slots it takes on a machine without GPUs."""
    sweep: str | None = None
    """The sweep this entry belongs to."""
    label: str | None = None
    """The sweep point (``optimizer.lr=3e-4 model.dim=64``)."""
    max_parallel: int | None = None
    """At most this many runs of its sweep at once."""
    state: EntryState = "queued"
    """Where it stands."""
    claimant: ProcRef | None = None
    """The dispatcher that claimed it (``starting``)."""
    run_id: str | None = None
    """The run it became (``started``)."""
    assigned: tuple[int, ...] | None = None
    """The GPUs it was given (``CUDA_VISIBLE_DEVICES``)."""
    reason: str | None = None
    """Why it failed to start, or was put back."""
    attempts: int = 0
    """Claims that ended without a run (a dispatcher died before launching)."""
    created_at: float = 0.0
    """When it was queued."""
    updated_at: float = 0.0
    """When the file was last written."""
    schema: int = 1
    """Entry format version."""

    @property
    def waiting(self) -> bool:
        """Not a run yet (``queued`` or ``starting``)."""
        return self.state in WAITING

    def replace(self, **changes: Any) -> QueueEntry:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return dataclasses.asdict(self)


@functools.cache
def _adapter() -> Any:
    import pydantic  # deferred: pydantic, only when an entry is validated

    return pydantic.TypeAdapter(QueueEntry)


def queue_root() -> Path:
    """``$COSMOS_TUI_HOME/queue`` (created on first use)."""
    root = state_root() / "queue"
    (root / "entries").mkdir(parents=True, exist_ok=True)
    return root


def entries_dir() -> Path:
    """Where the entry files live."""
    return queue_root() / "entries"


def _path(entry_id: str) -> Path:
    if not entry_id or "/" in entry_id or entry_id.startswith("."):
        raise UserError(f"{entry_id!r} is not a queue entry id; `cosmos-tui queue list` shows them")
    return entries_dir() / f"{entry_id}.json"


def new_entry_id(now: float) -> str:
    """``q-20261204-041502-3f2a``: sorts by time."""
    return f"q-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{os.urandom(2).hex()}"


def read(entry_id: str) -> QueueEntry:
    """The entry ``entry_id``; :class:`UserError` naming the file when it is damaged."""
    path = _path(entry_id)
    fix = f"remove {path} (the entry is lost, nothing else is) or restore it"
    try:
        data = json.loads(read_text_capped(path, RECORD_CAP, what="queue entry"))
    except FileNotFoundError:
        raise UserError(f"no queue entry {entry_id!r}; `cosmos-tui queue list` shows them") from None
    except (ValueError, RecursionError, OSError) as e:
        raise UserError(f"{path} cannot be read as a queue entry ({e}); {fix}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} holds a JSON {type(data).__name__}, not a queue entry; {fix}")
    names = {f.name for f in dataclasses.fields(QueueEntry)}
    import pydantic  # deferred: pydantic, only when an entry is validated

    try:
        entry = _adapter().validate_python({k: v for k, v in data.items() if k in names})
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(f"{path} is damaged: field {where!r}: {first['msg']}; {fix}") from None
    if entry.id != entry_id:
        raise UserError(f"{path} names entry {entry.id!r}, not {entry_id!r}; {fix}")
    return entry


def write(entry: QueueEntry) -> QueueEntry:
    """Replace the entry's file (caller holds its lock, or the entry is new)."""
    entry = entry.replace(updated_at=time.time())
    # 0600: an entry holds the environment of the shell that queued it (secret names left out)
    write_atomic(_path(entry.id), json.dumps(entry.to_dict(), indent=2) + "\n", mode=0o600)
    return entry


def _lock(entry_id: str) -> AbstractContextManager[None]:
    return flocked(entries_dir() / f".{entry_id}.lock", follow_symlinks=False)


def update(entry_id: str, change: Callable[[QueueEntry], QueueEntry | None]) -> QueueEntry:
    """Read-modify-write under the entry's lock; ``change`` returns the new entry or ``None``."""
    with _lock(entry_id):
        current = read(entry_id)
        new = change(current)
        if new is None or new == current:
            return current
        return write(new)


@contextmanager
def queue_locked() -> Iterator[None]:
    """Hold the whole queue's lock (adding, reordering)."""
    with flocked(queue_root() / "queue.lock", follow_symlinks=False):
        yield


def entry_ids() -> list[str]:
    """Ids of every entry file, oldest first."""
    return sorted(
        name[: -len(".json")]
        for name in os.listdir(entries_dir())
        if name.endswith(".json") and not name.startswith(".")
    )


def list_entries() -> list[QueueEntry]:
    """Every readable entry (a damaged file is skipped here; :func:`damaged` names them)."""
    found = []
    for entry_id in entry_ids():
        try:
            found.append(read(entry_id))
        except UserError:
            continue
    return found


def damaged() -> list[str]:
    """One sentence per entry file that cannot be read."""
    problems = []
    for entry_id in entry_ids():
        try:
            read(entry_id)
        except UserError as e:
            problems.append(e.message)
    return problems


def in_order(entries: list[QueueEntry]) -> list[QueueEntry]:
    """Waiting entries in the order they start: priority (high first), then position."""
    return sorted((e for e in entries if e.waiting), key=lambda e: (-e.priority, e.order, e.created_at, e.id))


def add(entry: QueueEntry) -> QueueEntry:
    """Write a new entry at the end of its priority."""
    with queue_locked():
        last = max((e.order for e in list_entries()), default=0)
        return write(entry.replace(order=last + 1))


def resolve(ref: str) -> str:
    """The entry id for an id or a unique prefix/substring of one."""
    return match_id(
        ref,
        entry_ids(),
        what="queue entry",
        plural="queue entries",
        listing="cosmos-tui queue list",
        latest=False,
    )


def move_before(entry_id: str, other_id: str) -> QueueEntry:
    """Put waiting entry ``entry_id`` just before ``other_id`` (taking its priority)."""
    if entry_id == other_id:
        raise UserError("an entry cannot move before itself")
    with queue_locked():
        entries = list_entries()
        by_id = {e.id: e for e in entries}
        moving, other = by_id.get(entry_id), by_id.get(other_id)
        for e, ref in ((moving, entry_id), (other, other_id)):
            if e is None or not e.waiting:
                state = e.state if e else "gone"
                raise UserError(f"queue entry {ref} is {state}, not waiting; only waiting entries move")
        assert moving is not None and other is not None
        line = [e for e in in_order(entries) if e.id != entry_id]
        at = next(i for i, e in enumerate(line) if e.id == other_id)
        line.insert(at, moving.replace(priority=other.priority))
        for n, e in enumerate(line, start=1):
            want = {"order": n, "priority": other.priority if e.id == entry_id else e.priority}

            def change(cur: QueueEntry, want: dict = want) -> QueueEntry | None:
                return cur.replace(**want) if cur.waiting else None

            update(e.id, change)
    return read(entry_id)


def pause_flag() -> Path:
    """The file whose presence pauses the queue."""
    return queue_root() / "paused"


def paused() -> bool:
    """The queue starts nothing new while paused."""
    return os.path.lexists(pause_flag())


def set_paused(on: bool) -> None:
    """Pause (nothing new starts; running runs go on) or resume the queue."""
    if on:
        write_atomic(pause_flag(), f"{time.time()}\n")
    else:
        try:
            pause_flag().unlink()
        except FileNotFoundError:
            pass


def cancel(entry_id: str) -> QueueEntry:
    """Cancel a queued entry; :class:`UserError` when it is no longer queued (a ``starting``
    entry is being launched now: stop its run with ``runs stop`` once it shows)."""

    def change(cur: QueueEntry) -> QueueEntry:
        if cur.state == "queued":
            return cur.replace(state="cancelled", reason="cancelled with `cosmos-tui queue cancel`")
        if cur.state == "starting":
            raise UserError(
                f"queue entry {entry_id} is starting now; stop its run with `cosmos-tui runs stop`"
            )
        if cur.state == "started":
            raise UserError(
                f"queue entry {entry_id} already started run {cur.run_id}; "
                f"stop it with `cosmos-tui runs stop {cur.run_id}`"
            )
        raise UserError(f"queue entry {entry_id} is already {cur.state}")

    return update(entry_id, change)


def base_fields() -> dict[str, Any]:
    """Fields every new entry gets."""
    now = time.time()
    return {"id": new_entry_id(now), "created_at": now}
