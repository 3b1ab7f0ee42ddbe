"""The queue's dispatcher: one process that starts queued runs when their GPUs or slots free up.

``python -m cosmos_tui.core.queue.dispatch`` runs in its own session (started on demand by
:func:`ensure_dispatcher`: ``queue add``, ``queue resume``, ``sweep``, and any UI start). One
instance at a time: it holds an exclusive ``flock`` on ``queue/dispatcher.lock`` for its whole
life (the kernel drops it when the process dies, even by SIGKILL). It loops: reconcile, pick the
first waiting entry in order whose resources are free, start it, and exits when nothing waits
or the queue is paused.

Starting one entry is three writes, each of which survives a kill -9 of the dispatcher:

1. **claim**: under the entry's lock, ``queued -> starting`` with this process's pid and start
   time (two dispatchers: only one sees ``queued``);
2. **launch**: :func:`~cosmos_tui.core.runs.prepare` then
   :func:`~cosmos_tui.core.runs.launch_prepared`, exactly ``cosmos-tui run``'s path (preflight,
   job lock, record, supervisor), with ``queue_entry`` written into the run record;
3. **record**: ``starting -> started`` with the run id.

:func:`reconcile` repairs a ``starting`` entry whose claimant is dead: a run record naming the
entry means it started (step 3 is redone), none means it never did (back to ``queued``). So an
entry is started at most once and never lost.

Entries start in order (priority, then position). A later entry may start ahead of one that
waits only on resources the waiting one does not need: what an earlier entry waits for is
reserved for it, so a large request is never starved by small ones.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.gpus import GpuSampler, default_sampler
from cosmos_tui.core.notify_config import load_user_config
from cosmos_tui.core.presets import SECRET_NAME, preset_from_dict
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.gpuset import visible_devices
from cosmos_tui.core.queue.resources import Machine, fit, request_of, survey
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.core.runs import procs, registry
from cosmos_tui.core.runs.lifecycle import launch_prepared, list_runs, prepare
from cosmos_tui.core.runs.record import ProcRef, RunRecord

POLL_S = 1.0
"""How often the dispatcher looks again while entries wait."""
LOCK_FILE = "dispatcher.lock"
LOG_FILE = "dispatcher.log"
KILL_AT_ENV = "COSMOS_TUI_QUEUE_KILL_AT"
"""Test seam: ``before-claim``, ``after-claim`` or ``after-launch`` makes the dispatcher SIGKILL
itself at that point (the kill-matrix tests of the queue use it; unset in normal use)."""


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _log(message: str) -> None:
    """One line in ``queue/dispatcher.log`` (the dispatcher's stdout)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", flush=True)


def _me() -> ProcRef | None:
    return procs.ref_of(os.getpid(), "dispatcher")


def _records_by_entry() -> dict[str, RunRecord]:
    found: dict[str, RunRecord] = {}
    for run_id in registry.run_ids():
        record = registry.read_or_unreadable(registry.run_dir_for(run_id))
        if record.queue_entry:
            found.setdefault(record.queue_entry, record)
    return found


def reconcile(me: ProcRef | None = None) -> list[QueueEntry]:
    """Repair entries a dead dispatcher left ``starting`` (see the module doc); the entries."""
    entries = store.list_entries()
    if not any(e.state == "starting" for e in entries):
        return entries
    by_entry = _records_by_entry()
    out = []
    for entry in entries:
        if (
            entry.state == "starting"
            and not (entry.claimant and entry.claimant == me)
            and not procs.alive(entry.claimant)
        ):
            run = by_entry.get(entry.id)

            def repair(cur: QueueEntry, run: RunRecord | None = run) -> QueueEntry | None:
                if cur.state != "starting" or procs.alive(cur.claimant):
                    return None
                if run is not None:
                    return cur.replace(state="started", run_id=run.id, claimant=None)
                pid = cur.claimant.pid if cur.claimant else "?"
                return cur.replace(
                    state="queued",
                    claimant=None,
                    assigned=None,
                    attempts=cur.attempts + 1,
                    reason=f"put back in the queue: the dispatcher that claimed it (pid {pid}) ended "
                    "before it launched a run",
                )

            entry = store.update(entry.id, repair)
        out.append(entry)
    return out


def machine_now(entries: list[QueueEntry], sampler: GpuSampler | None = None) -> Machine:
    """What is free now, for ``entries`` (the whole queue)."""
    config = load_user_config().queue
    return survey(
        list_runs(reconcile=True),
        entries,
        slots=config.slots,
        foreign_fraction=config.foreign_memory_fraction,
        sampler=sampler if sampler is not None else default_sampler(),
    )


def choose(entries: list[QueueEntry], machine: Machine) -> tuple[QueueEntry, tuple[int, ...]] | None:
    """The entry to start now and the GPUs it gets, or ``None``: walks waiting entries in order;
    what an earlier entry waits for is reserved for it."""
    has_gpus = bool(machine.gpus)
    free = list(machine.free_gpus)
    free_slots = machine.free_slots
    runs = {r.id: r for r in list_runs(reconcile=False)}
    running_per_sweep: dict[str, int] = {}
    for e in entries:
        busy = e.state == "starting" or (e.state == "started" and e.run_id in runs and runs[e.run_id].active)
        if e.sweep and busy:
            running_per_sweep[e.sweep] = running_per_sweep.get(e.sweep, 0) + 1
    for entry in store.in_order(entries):
        if entry.state != "queued":
            continue
        if entry.sweep and entry.max_parallel and running_per_sweep.get(entry.sweep, 0) >= entry.max_parallel:
            continue  # its sweep is at --max-parallel: it reserves nothing, later entries may go
        request = request_of(entry, has_gpus)
        got = fit(request, free, free_slots, entry.slots)
        if got is not None:
            return entry, got
        # reserve what it waits for
        if request is None:
            free_slots = 0
        elif request.devices is not None:
            free = [g for g in free if g not in request.devices]
        else:
            free = free[request.count :]
    return None


@contextmanager
def _environment(environ: dict[str, str]) -> Iterator[None]:
    """This process's environment as the queuing shell had it (secret names kept from ours) while
    a run is prepared and launched: the supervisor and the engine inherit it."""
    saved = dict(os.environ)
    if environ:
        keep = {k: v for k, v in saved.items() if SECRET_NAME.search(k)}
        os.environ.clear()
        os.environ.update({**environ, **keep})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start(entry: QueueEntry, gpus: tuple[int, ...], me: ProcRef | None) -> QueueEntry:
    """Claim, launch and record ``entry`` (the three steps of the module doc)."""
    _kill_point("before-claim")

    def claim(cur: QueueEntry) -> QueueEntry | None:
        if cur.state != "queued":
            return None
        return cur.replace(state="starting", claimant=me, assigned=gpus or None, reason=None)

    claimed = store.update(entry.id, claim)
    if claimed.state != "starting" or claimed.claimant != me:
        return claimed  # someone else has it, or it was cancelled meanwhile
    _kill_point("after-claim")
    try:
        preset = preset_from_dict(claimed.preset, source=f"queue entry {claimed.id}")
        if gpus:
            preset = preset.model_copy(deep=True)
            preset.env.extra = {**preset.env.extra, "CUDA_VISIBLE_DEVICES": visible_devices(gpus)}
        with _environment(claimed.environ):
            prepared = prepare(preset, existing=claimed.existing)
            record = launch_prepared(
                prepared,
                base=preset,
                preset_path=claimed.preset_path,
                sets=claimed.sets,
                force=claimed.force,
                queue_entry=claimed.id,
            )
    except Exception as e:
        why = e.message if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        made = _records_by_entry().get(claimed.id)
        _log(f"{claimed.id} did not start: {why}")
        return store.update(
            claimed.id,
            lambda cur: cur.replace(
                state="failed",
                claimant=None,
                run_id=made.id if made else None,
                reason=f"did not start: {why}",
            ),
        )
    _kill_point("after-launch")
    done = store.update(claimed.id, lambda cur: cur.replace(state="started", run_id=record.id, claimant=None))
    _log(f"started {claimed.id} as run {record.id}" + (f" on GPUs {visible_devices(gpus)}" if gpus else ""))
    return done


def run_forever(poll_s: float = POLL_S) -> int:
    """The dispatcher loop (this process holds the instance lock). Returns the exit code."""
    me = _me()
    while True:
        entries = reconcile(me)
        if store.paused():
            return 0
        waiting = [e for e in entries if e.state == "queued"]
        if not waiting:
            return 0
        try:
            picked = choose(entries, machine_now(entries))
        except UserError as e:  # config.toml damaged, the state folder unreadable: say so, stop
            _log(f"stopped: {e.message}; `cosmos-tui queue list` says the same, fix it and queue again")
            return 1
        if picked is None:
            time.sleep(poll_s)
            continue
        start(*picked, me)


def _lock_path() -> Path:
    return store.queue_root() / LOCK_FILE


def try_lock() -> int | None:
    """The instance lock's fd when this process got it, ``None`` when a dispatcher holds it."""
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def running_dispatcher() -> ProcRef | None:
    """The live dispatcher, from the pid+start time it wrote into its lock file."""
    try:
        data = json.loads(_lock_path().read_text() or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    ref = ProcRef(int(data.get("pid", 0)), data.get("create_time"), "dispatcher")
    fd = try_lock()
    if fd is not None:  # nobody holds the lock: whatever the file says is stale
        os.close(fd)
        return None
    return ref if procs.alive(ref) else None


def ensure_dispatcher() -> bool:
    """Start the dispatcher in its own session if none runs and something waits; True when one
    was started. Cheap when one runs already."""
    if store.paused() or not any(e.state in ("queued", "starting") for e in store.list_entries()):
        return False
    fd = try_lock()
    if fd is None:
        return False
    os.close(fd)  # the child takes it; a second starter racing here makes a child that exits at once
    with open(store.queue_root() / LOG_FILE, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "cosmos_tui.core.queue.dispatch"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=store.queue_root(),
        )
    return True


def _something_waits() -> bool:
    return not store.paused() and any(e.state == "queued" for e in store.list_entries())


def main() -> int:
    """Entry point: take the instance lock (exit 0 at once when another holds it), then loop.

    Before exiting it drops the lock and looks once more: an entry queued while it decided to
    exit found the lock held (so no new dispatcher was started for it) and is picked up here."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a logout's hang-up never ends it
    me = _me()
    code = 0
    while True:
        fd = try_lock()
        if fd is None:
            return code  # another dispatcher has the queue
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "create_time": me.create_time if me else None}).encode())
        try:
            code = run_forever()
        finally:
            os.close(fd)  # closing drops the flock
        if code != 0 or not _something_waits():
            return code


if __name__ == "__main__":
    sys.exit(main())
