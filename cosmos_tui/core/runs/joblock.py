"""One active run per job: a lock file in the job folder that names its owner.

``<job_dir>/.cosmos-tui-job.lock`` holds JSON: the owner run's id, the host, the pid holding it
and that process's start time, and when it was taken. It is taken when a run is launched (by the
launching process), handed to the run's supervisor when it starts, and released when the run's
fate is recorded. Every check reconciles it like a run record: when the owner's run record (in
this state root) has ended, or the owner process on this host is gone (pid plus start time), the
lock is stale and the next launch takes it over, saying so. A lock held from another host whose
run this state root does not know is respected (its owner may be alive on that node); the error
says which file to remove once that run is known to be gone.

Check-and-take happens under an ``fcntl.flock`` on the job folder's guard file, so two launches
racing for one job (two CLIs, a TUI, Slurm nodes on a shared filesystem) never both win.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import procs, registry, targets
from cosmos_tui.core.runs.record import ProcRef

LOCK_FILE = ".cosmos-tui-job.lock"
GUARD_FILE = ".cosmos-tui-job.guard"
MAX_LOCK_BYTES = 64 << 10


@dataclass(frozen=True)
class JobOwner:
    """Who holds a job."""

    run_id: str
    """The run holding the job."""
    host: str
    """The machine the holding process runs on."""
    pid: int
    """The holding process (the launching CLI, then the run's supervisor)."""
    create_time: float | None
    """That process's start time (so a reused pid never counts as the owner)."""
    since: float
    """When the lock was taken (seconds since the epoch)."""
    group: str | None = None
    """A multi-node job's shared id: every node's run of it may hold the job together."""

    def describe(self) -> str:
        """``run R (pid P on host H, since 10:02:03)``."""
        when = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"run {self.run_id} (pid {self.pid} on {self.host}, since {when})"


def _host() -> str:
    return socket.gethostname()


def read_owner(job_dir: Path) -> JobOwner | None:
    """The lock's owner as written (``None``: no lock, or a damaged one, which counts as none)."""
    path = Path(job_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, MAX_LOCK_BYTES)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw.decode("utf-8"))
        return JobOwner(
            run_id=str(data["run_id"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            create_time=None if data.get("create_time") is None else float(data["create_time"]),
            since=float(data["since"]),
            group=None if data.get("group") is None else str(data["group"]),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def owner_alive(owner: JobOwner) -> bool | None:
    """Whether the owner still holds the job: ``True``/``False``, or ``None`` when it cannot be
    told from here (another host, and a run this state root does not know)."""
    run_dir = registry.run_dir_for(owner.run_id)
    if os.path.lexists(run_dir / "run.json"):
        try:
            record = targets.reconcile(registry.read(run_dir))
        except UserError:
            record = None
        if record is not None:
            return record.active
    if owner.host == _host():
        return procs.alive(ProcRef(owner.pid, owner.create_time))
    return None


def holder(job_dir: Path) -> JobOwner | None:
    """The live owner of the job (``None`` when free or when the lock is stale)."""
    owner = read_owner(job_dir)
    if owner is None:
        return None
    return None if owner_alive(owner) is False else owner


def _guarded(job_dir: Path) -> contextlib.AbstractContextManager[None]:
    return registry.flocked(Path(job_dir) / GUARD_FILE, follow_symlinks=False)


def _write(job_dir: Path, owner: JobOwner) -> None:
    path = Path(job_dir) / LOCK_FILE
    tmp = path.with_name(f"{LOCK_FILE}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(asdict(owner)) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _me(run_id: str, group: str | None) -> JobOwner:
    ref = procs.ref_of(os.getpid())
    return JobOwner(run_id, _host(), os.getpid(), ref.create_time if ref else None, time.time(), group)


def busy_message(job_dir: Path, owner: JobOwner, alive: bool | None) -> str:
    """The one sentence a second launch gets."""
    text = f"job {job_dir} is held by {owner.describe()}"
    if alive is None:
        return (
            text + ", which this machine cannot check; wait for it, or remove "
            f"{Path(job_dir) / LOCK_FILE} once that run is known to be gone"
        )
    return text + f"; wait for it to end or stop it with `cosmos-tui runs stop {owner.run_id}`"


def acquire(job_dir: Path, run_id: str, *, group: str | None = None) -> str | None:
    """Take the job for ``run_id`` (creating the job folder). Returns a note when a stale lock
    was taken over; raises :class:`UserError` naming the live owner otherwise."""
    job_dir = Path(job_dir)
    try:
        job_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the job folder {job_dir} ({e.strerror or e})") from None
    with _guarded(job_dir):
        owner = read_owner(job_dir)
        note = None
        if owner is not None and owner.run_id != run_id:
            alive = owner_alive(owner)
            same_group = group is not None and owner.group == group
            if alive is not False and not same_group:
                raise UserError(busy_message(job_dir, owner, alive))
            if alive is False:
                note = f"took over the job lock of {owner.describe()}, which is no longer running"
        _write(job_dir, _me(run_id, group))
        return note


def hand_over(job_dir: Path, run_id: str) -> None:
    """The supervisor (this process) becomes the holder of ``run_id``'s lock."""
    with _guarded(Path(job_dir)):
        owner = read_owner(job_dir)
        if owner is None or owner.run_id == run_id:
            _write(Path(job_dir), _me(run_id, owner.group if owner else None))


def release(job_dir: Path | str | None, run_id: str) -> None:
    """Drop the lock if ``run_id`` holds it (never anyone else's)."""
    if not job_dir or not Path(job_dir).is_dir():
        return
    with contextlib.suppress(OSError), _guarded(Path(job_dir)):
        owner = read_owner(Path(job_dir))
        if owner is not None and owner.run_id == run_id:
            os.unlink(Path(job_dir) / LOCK_FILE)
