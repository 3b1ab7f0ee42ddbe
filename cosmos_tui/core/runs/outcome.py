"""How a run ended, said in words: exit codes, signals, host OOM kills, from the last log lines
(read by :func:`cosmos_tui.core.monitor.logtail.last_lines`, understood by the log grammar of
:mod:`cosmos_tui.core.monitor.logline`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cosmos_tui.core.monitor.logline import (
    AGENT_SIGTERMED_RE,
    ENOSPC_RE,
    ERROR_LINE_RE,
    GPU_OOM_RE,
    RANK_SIGKILL_RE,
    RANK_SIGNAL_RE,
    ROOT_CAUSE_RE,
    TRAINING_DONE_RE,
    USER_ERROR_LINE_RE,
)
from cosmos_tui.core.runs.procs import signal_name
from cosmos_tui.core.units import human_bytes


def _last_error(lines: list[str], rank: int | None = None) -> str | None:
    """The engine's last ``error: ...`` sentence, else the last ``SomethingError: message`` line
    printed by ``rank`` (when its lines carry the ``[rankN]:`` prefix), else by anyone; torchrun's
    own ``ChildFailedError`` is skipped."""
    prefix = f"[rank{rank}]:" if rank is not None else None
    candidates = [ln for ln in lines if prefix and ln.startswith(prefix)] or lines
    for line in reversed(lines):  # an engine's own sentence says it best
        user = USER_ERROR_LINE_RE.match(line.strip())
        if user:
            return user.group(1)[:300]
    for line in reversed(candidates):
        match = ERROR_LINE_RE.match(line.strip())
        if match and "ChildFailedError" not in line and "elastic" not in line:
            return match.group(1)[:200]
    return None


GPU_OOM_HINT = "lower the batch size, frames or resolution"
OOM_HINT = (
    "most likely the host's out-of-memory killer (look for 'Out of memory' in `dmesg` or "
    "`journalctl -k`; lower the batch size or dataloader workers), unless someone ran kill -9"
)


def status_for(exit_code: int, *, stop_requested: bool) -> str:
    """``finished`` for 0, ``stopped`` when someone asked it to stop, else ``failed``."""
    if stop_requested:
        return "stopped"
    return "finished" if exit_code == 0 else "failed"


def trained_to_the_end(log_tail: list[str] | None, last_iteration: int | None, max_iter: int | None) -> bool:
    """The engine finished its training before a stop reached it: it said "Done with training."
    (which it also says after a graceful stop, so) at ``max_iter`` when that is known. A stop
    that arrived then found nothing to stop, whatever torchrun's exit as the ranks shut down."""
    if not TRAINING_DONE_RE.search("\n".join(log_tail or [])):
        return False
    return max_iter is None or last_iteration is None or last_iteration >= max_iter


def describe_stop(
    exit_code: int, log_tail: list[str] | None, last_iteration: int | None, checkpoint: str | None
) -> str:
    """What a stop someone asked for came to: the iteration reached, the checkpoint it saved, and
    torchrun's exit (its ``SignalException`` traceback, when it got the SIGTERM itself, is the
    expected shutdown, never the cause)."""
    at = f" at iteration {last_iteration}" if last_iteration is not None else " before training began"
    text = f"stopped on request{at}"
    text += f"; saved checkpoint {checkpoint}" if checkpoint else "; no checkpoint was saved by this run"
    tail = "\n".join(log_tail or [])
    if exit_code == 0:
        return text + "; the engine and torchrun exited 0"
    if exit_code > 0 and AGENT_SIGTERMED_RE.search(tail):
        return text + (
            f"; torchrun exited {exit_code} on the SIGTERM it was sent (its SignalException traceback "
            "in console.log is that expected shutdown)"
        )
    if exit_code < 0:
        return text + f"; torchrun ended by {signal_name(-exit_code)}"
    return text + f"; torchrun exited {exit_code}"


def describe_exit(exit_code: int, log_tail: list[str] | None = None, *, stop_requested: bool = False) -> str:
    """One or two sentences on why torchrun exited with ``exit_code`` (negative: a signal)."""
    tail = "\n".join(log_tail or [])
    if exit_code == 0:
        return "stopped on request; torchrun exited 0" if stop_requested else "torchrun exited 0"
    if stop_requested:
        if exit_code < 0:
            return f"stopped on request; torchrun ended by {signal_name(-exit_code)}"
        return f"stopped on request; torchrun exited {exit_code}"
    if exit_code == -9:
        return f"torchrun was killed by SIGKILL (signal 9): {OOM_HINT}"
    if exit_code < 0:
        return f"torchrun was killed by {signal_name(-exit_code)} (signal {-exit_code})"
    root = ROOT_CAUSE_RE.search(tail)
    if root:
        rank, code = int(root.group(1)), int(root.group(2))
        error = _last_error(log_tail or [], rank)
        if code == -9:
            return f"rank {rank} was killed by SIGKILL (signal 9, exit -9): {OOM_HINT}"
        if code < 0:
            return f"torchrun exited {exit_code}: rank {rank} was killed by {signal_name(-code)}"
        if GPU_OOM_RE.search(tail):
            return f"torchrun exited {exit_code}: rank {rank} ran out of GPU memory ({GPU_OOM_HINT})"
        what = f" ({error})" if error else ""
        return f"torchrun exited {exit_code}: rank {rank} failed with exit code {code}{what}"
    if RANK_SIGKILL_RE.search(tail):
        return f"a rank was killed by SIGKILL (signal 9, exit -9): {OOM_HINT}"
    if GPU_OOM_RE.search(tail):
        return f"torchrun exited {exit_code}: a rank ran out of GPU memory ({GPU_OOM_HINT})"
    match = RANK_SIGNAL_RE.search(tail)
    if match:
        sig = int(match.group(1))
        return f"torchrun exited {exit_code}: a rank was killed by {signal_name(sig)} (signal {sig})"
    error = _last_error(log_tail or [])
    if error:
        return f"torchrun exited {exit_code}: {error}"
    return f"torchrun exited {exit_code}; see console.log for the error"


LOW_DISK_FRACTION = 0.05
"""A filesystem with less than this share free (and under 1 GiB) counts as full after a failure."""


def disk_full_note(job_dir: str | Path | None, log_tail: list[str] | None = None) -> str | None:
    """``the disk is full ...`` when the log says ENOSPC or the job folder's filesystem is (nearly)
    full; torch's own message for a failed write ("unexpected pos ...") does not say so."""

    said = bool(ENOSPC_RE.search("\n".join(log_tail or [])))
    where, free, total = None, None, None
    if job_dir:
        where = Path(job_dir)
        while not where.exists() and where != where.parent:
            where = where.parent
        try:
            usage = shutil.disk_usage(where)
            free, total = usage.free, usage.total
        except OSError:
            pass
    nearly_full = free is not None and total and free < min(1 << 30, LOW_DISK_FRACTION * total)
    if not (said or nearly_full):
        return None
    text = "the disk is full (No space left on device)"
    if free is not None:
        text += f": {human_bytes(free)} free under {where}"
    return text + "; free space or point the output root elsewhere, then resume from the last checkpoint"
