"""Stopping an engine through its sentinel files (:class:`~cosmos_tui.core.engines.base.StopSentinel`).

A run of such an engine gets its own sentinel folder, ``<run dir>/sentinel`` locally (the
supervisor puts it in the engine's environment) and ``<run dir>/slurm/<job id>`` on Slurm (the
batch script does, one per segment, so one segment's files never stop the next). A stop creates
the request file there; the engine saves at its next step end, writes the ``saved`` file and
exits 0.
"""

from __future__ import annotations

import os
from pathlib import Path

from cosmos_tui.core.engines.base import StopSentinel, get_adapter
from cosmos_tui.core.runs.record import RunRecord

LOCAL_DIR = "sentinel"
"""The sentinel folder of a local run, in its run folder."""
SLURM_DIR = "slurm"
"""The folder of a Slurm run's per-segment sentinel folders (``slurm/<job id>``)."""


def of(record: RunRecord) -> StopSentinel | None:
    """The run's engine's sentinel protocol (``None``: the engine stops on SIGTERM)."""
    try:
        return get_adapter(record.engine_kind).stop_sentinel
    except Exception:  # an unknown kind in an old or edited record: signals only
        return None


def folder(record: RunRecord) -> Path:
    """Where this run's engine polls for the request file now."""
    if record.target == "slurm" and record.slurm_job_id:
        return record.run_dir / SLURM_DIR / record.slurm_job_id
    return record.run_dir / LOCAL_DIR


def local_env(record: RunRecord) -> dict[str, str]:
    """The variable a local run's engine needs to poll its sentinel folder (created here)."""
    protocol = of(record)
    if protocol is None:
        return {}
    where = record.run_dir / LOCAL_DIR
    where.mkdir(exist_ok=True)
    return {protocol.env_var: str(where)}


def request_stop(record: RunRecord) -> Path | None:
    """Create the request file (the engine saves and exits at its next step end); returns it, or
    ``None`` when the engine has no sentinel protocol or its folder is not there (the engine was
    not started with it, or a planted link stands in its place)."""
    protocol = of(record)
    if protocol is None:
        return None
    where = folder(record)
    if where.is_symlink() or not where.is_dir():
        return None
    path = where / protocol.request
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError:  # something that is not a file stands there: the signals still stop the run
        return None
    os.close(fd)
    return path


def saved(record: RunRecord, job_id: str | None = None) -> bool:
    """Whether the engine said its emergency checkpoint is complete (in the current segment's
    folder, or ``job_id``'s)."""
    protocol = of(record)
    if protocol is None:
        return False
    where = record.run_dir / SLURM_DIR / job_id if job_id else folder(record)
    return (where / protocol.saved).is_file()
