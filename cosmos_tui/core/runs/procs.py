"""Processes identified by pid plus start time, so a reused pid is never mistaken for ours.

Every signal cosmos-tui sends goes through :func:`signal_if_same`: it looks the pid up, compares
its start time with the recorded one, and only then signals (psutil re-checks the identity right
before sending). A process whose start time differs is someone else's and is left alone.
"""

from __future__ import annotations

import signal as _signal

import psutil

from cosmos_tui.core.runs.record import ProcRef

# psutil reports create_time rounded to the clock tick; allow a little slack between readings.
_TOLERANCE_S = 0.05


def ref_of(pid: int, role: str = "process") -> ProcRef | None:
    """A :class:`ProcRef` for a live ``pid`` (``None`` when it is gone)."""
    try:
        return ProcRef(pid=pid, create_time=psutil.Process(pid).create_time(), role=role)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return ProcRef(pid=pid, create_time=None, role=role)


def process_of(ref: ProcRef | None) -> psutil.Process | None:
    """The live process ``ref`` names, or ``None`` if it is gone, a zombie, or the pid was reused."""
    if ref is None:
        return None
    try:
        proc = psutil.Process(ref.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        if ref.create_time is not None and abs(proc.create_time() - ref.create_time) > _TOLERANCE_S:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return None


def alive(ref: ProcRef | None) -> bool:
    """``ref`` names a live process (same pid, same start time)."""
    return process_of(ref) is not None


def signal_if_same(ref: ProcRef, sig: int) -> bool:
    """Send ``sig`` to ``ref`` only if it is still the same process; True when sent."""
    proc = process_of(ref)
    if proc is None:
        return False
    try:
        # psutil checks again that (pid, create_time) still match before it signals.
        proc.send_signal(sig)
        return True
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False


def descendants(ref: ProcRef | None) -> list[ProcRef]:
    """Every live descendant of ``ref`` (ranks, data-loader workers), with their start times."""
    proc = process_of(ref)
    if proc is None:
        return []
    found = []
    try:
        children = proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
    for child in children:
        try:
            role = "rank" if child.ppid() == ref.pid else "worker"  # type: ignore[union-attr]
            found.append(ProcRef(pid=child.pid, create_time=child.create_time(), role=role))
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return found


def ranks_of(agent: ProcRef | None) -> list[ProcRef]:
    """The torchrun agent's live children: the ranks it started."""
    return [p for p in descendants(agent) if p.role == "rank"]


def terminate_ranks(agent: ProcRef | None) -> list[ProcRef]:
    """SIGTERM every rank of ``agent`` (not the agent): the engine saves and exits, and torchrun
    then ends on its own with the ranks' exit code. Returns the ranks signalled (empty when the
    agent has none yet)."""
    return [r for r in ranks_of(agent) if signal_if_same(r, _signal.SIGTERM)]


def signal_name(sig: int) -> str:
    """``SIGKILL`` for 9, and so on."""
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
