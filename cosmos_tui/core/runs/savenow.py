"""Asking a running engine to save a checkpoint at its next step boundary: a control file in the
job folder (the builtin engine's ``SAVE_NOW``, its adapter's ``save_request_file``; the engine
deletes it once the save is done). An engine whose adapter names no such file is never sent one.

The file is only ever written for a run that is live: an engine that has ended never deletes it,
and the next run on the job would find it and save at its first step. So the request is refused
for an ended run, and withdrawn when the run turns out to have ended while it was written.
"""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.runs.lifecycle import get_run
from cosmos_tui.core.runs.record import RunRecord

SAVE_NOW_FILE = "SAVE_NOW"
"""The builtin engine's control file, in the job folder."""


def _refuse_ended(record: RunRecord) -> UserError:
    return UserError(
        f"Run {record.id} has ended ({record.status}); only a running run can save a checkpoint now."
    )


def request_save(run_id: str) -> Path:
    """Write ``JOB/SAVE_NOW`` for the live run ``run_id``; the file's path. A :class:`UserError`
    (and no file left behind) when the run has ended or has no job folder yet."""
    record = get_run(run_id)
    if not record.active:
        raise _refuse_ended(record)
    name = _request_file(record.engine_kind)
    if name is None:
        raise UserError(
            f"The {record.engine_kind} engine takes no save-now request; it saves every "
            "checkpoint.save_iter iterations (and a stop saves first)."
        )
    if not record.job_dir or not Path(record.job_dir).is_dir():
        raise UserError("This run has no job folder yet; wait until training has started.")
    path = Path(record.job_dir) / name
    try:
        path.touch()
    except OSError as e:
        raise UserError(describe_os_error(e, doing="ask for a save")) from None
    after = get_run(record.id)
    if not after.active:  # it ended meanwhile: nothing will ever consume the request
        path.unlink(missing_ok=True)
        raise _refuse_ended(after)
    return path


def _request_file(kind: str) -> str | None:
    try:
        return get_adapter(kind).save_request_file
    except Exception:  # an unknown kind in an old or edited record: no request
        return None
