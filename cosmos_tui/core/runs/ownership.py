"""What a run owns in its job folder: its slice of ``metrics.jsonl``, the checkpoints it wrote,
its iteration range, and where it came from.

A job folder (``PROJECT/GROUP/NAME``) outlives its runs: every engine appends to one
``metrics.jsonl`` and adds step folders to one ``checkpoints/``. Since one run at a time holds a
job (:mod:`cosmos_tui.core.runs.joblock`), each run's share is a contiguous byte range of
``metrics.jsonl`` (from its size at launch to its size at the end) and the set of checkpoints that
appeared while it ran. :func:`start_fields` records the first at launch; :func:`end_fields`
records the rest when the run's fate is written (by the supervisor, or by whoever reconciles a
run that ended without one). Readers (runs list, dashboard, Compare, the job view, ``runs rm``)
take a run's data only through :func:`run_slice` and :func:`owns`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_tui.core import reference
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.monitor.logtail import chunks_from_end
from cosmos_tui.core.monitor.metrics import scan_bytes
from cosmos_tui.core.runs import joblock, registry
from cosmos_tui.core.runs.record import RunRecord

METRICS_FILE = "metrics.jsonl"
MAX_SCAN_BYTES = 256 << 20
"""At most this much of a run's ``metrics.jsonl`` slice is read to find its last iteration."""


@dataclass(frozen=True)
class RunSlice:
    """A run's byte range of its job's ``metrics.jsonl`` and its checkpoint rule."""

    metrics_start: int
    """First byte of the run's lines."""
    metrics_end: int | None
    """End of the run's lines (``None``: the run is still writing)."""
    owned: frozenset[str] | None
    """The checkpoints it wrote, when recorded (``None``: any not in ``before``)."""
    before: frozenset[str]
    """Checkpoints that existed when it started (never its own)."""

    def owns(self, name: str) -> bool:
        """Whether the checkpoint called ``name`` (``iter_000000500``) is this run's."""
        if self.owned is not None:
            return name in self.owned
        return name not in self.before


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def checkpoint_names(job_dir: Path | str | None) -> tuple[str, ...]:
    """The checkpoints (step folder or ``.pt`` trainer file names) in a job folder, by iteration."""
    if not job_dir:
        return ()
    return tuple(c.path.name for c in scan_checkpoints(Path(job_dir) / "checkpoints"))


def start_fields(job_dir: Path | None, point: Any = None, writer: str | None = None) -> dict[str, Any]:
    """Fields of a new record: where its metrics start, what checkpoints were there before it,
    the iteration it starts at and its lineage (``point`` is the resume point, if any)."""
    if job_dir is None:
        return {"start_iteration": 0 if point is None else point.iteration}
    fields: dict[str, Any] = {
        "metrics_offset": _size(Path(job_dir) / METRICS_FILE),
        "checkpoints_before": checkpoint_names(job_dir),
        "start_iteration": 0,
    }
    if point is not None:
        fields["start_iteration"] = point.iteration
        fields["resumed_from"] = {"run": writer, "iteration": point.iteration, "checkpoint": point.path.name}
    return fields


def run_slice(record: RunRecord) -> RunSlice | None:
    """The record's slice, or ``None`` for records older than the jobs model (whole-job reads)."""
    if record.metrics_offset is None:
        return None
    owned = None if record.checkpoints is None else frozenset(record.checkpoints)
    return RunSlice(record.metrics_offset, record.metrics_end, owned, frozenset(record.checkpoints_before))


def monitor_scope(record: RunRecord) -> dict[str, Any]:
    """Keyword arguments that point a :class:`~cosmos_tui.core.monitor.runmonitor.RunMonitor` at
    this run's own share of its job: its console log, its ``metrics.jsonl`` byte range and its
    checkpoints (records older than the jobs model see the whole job, as before)."""
    scope: dict[str, Any] = {
        "console_log": record.console_log,
        "job_dir": Path(record.job_dir) if record.job_dir else None,
        "run_id": record.id,
        "references": reference.load(record.preset_path),
    }
    piece = run_slice(record)
    if piece is not None:
        scope.update(
            metrics_start=piece.metrics_start, metrics_end=piece.metrics_end, owns_checkpoint=piece.owns
        )
    return scope


def read_range(path: Path, start: int, end: int | None = None, *, cap: int) -> bytes:
    """Bytes ``[start, end)`` of ``path`` (``end`` ``None`` or past the end: to its size), only
    the last ``cap`` of them; empty when there are none or the file cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            end = size if end is None else min(end, size)
            begin = max(start, end - cap)
            if end <= begin:
                return b""
            f.seek(begin)
            return f.read(end - begin)
    except OSError:
        return b""


def metrics_bytes(record: RunRecord, *, cap: int) -> bytes:
    """The run's own lines of its job's ``metrics.jsonl`` (the whole file for a record older than
    the jobs model), at most the last ``cap`` bytes of them; empty when there are none."""
    if not record.job_dir:
        return b""
    piece = run_slice(record)
    start, end = (0, None) if piece is None else (piece.metrics_start, piece.metrics_end)
    return read_range(Path(record.job_dir) / METRICS_FILE, start, end, cap=cap)


def owns(record: RunRecord, info: CheckpointInfo) -> bool:
    """Whether ``record`` wrote checkpoint ``info`` (old records: never claimed)."""
    piece = run_slice(record)
    return piece is not None and piece.owns(info.path.name)


def iteration_range(record: RunRecord) -> tuple[int | None, int | None]:
    """``(start, last)`` of this run alone: where it started and the last iteration it reached
    (live: the supervisor's watch of its own slice). ``last`` is ``None`` when it never trained."""
    if record.active:
        last = (record.health or {}).get("iteration")
        return record.start_iteration, last if isinstance(last, int) else None
    return record.start_iteration, record.last_iteration


def _last_iteration_in(path: Path, start: int, end: int) -> int | None:
    """The last ``iteration`` of the JSON lines between byte ``start`` and ``end`` of ``path``."""
    for line in reversed(read_range(path, start, end, cap=MAX_SCAN_BYTES).splitlines()):
        try:
            value = json.loads(line).get("iteration")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, int):
            return value
    return None


def _last_iteration_in_log(console_log: Path) -> int | None:
    """The last iteration the console log reports, reading it from its end only as far back as
    the last progress line."""

    try:
        for piece in chunks_from_end(console_log):
            found = scan_bytes(piece)
            if found.samples:
                return found.samples[-1].iteration
    except OSError:
        return None
    return None


def end_fields(record: RunRecord) -> dict[str, Any]:
    """Fields that close a run's share when it ends: the end of its metrics, the checkpoints it
    wrote (those that appeared since it started) and the last iteration it reached."""
    fields: dict[str, Any] = {}
    if record.checkpoints is not None:
        return fields  # closed already
    job_dir = Path(record.job_dir) if record.job_dir else None
    if job_dir is not None and record.metrics_offset is not None:
        metrics = job_dir / METRICS_FILE
        end = max(_size(metrics), record.metrics_offset)
        fields["metrics_end"] = end
        before = set(record.checkpoints_before)
        fields["checkpoints"] = tuple(n for n in checkpoint_names(job_dir) if n not in before)
        last = _last_iteration_in(metrics, record.metrics_offset, end)
    else:
        fields["checkpoints"] = ()
        last = None
    if last is None:
        last = _last_iteration_in_log(record.console_log)
    # Metrics are logged every few iterations; a checkpoint it saved names where it really got to.
    saved = [int(n[5:]) for n in fields["checkpoints"] if n.startswith("iter_") and n[5:].isdigit()]
    if saved and (last is None or max(saved) > last):
        last = max(saved)
    fields["last_iteration"] = last
    return fields


def same_job(a: str | Path | None, b: str | Path | None) -> bool:
    """Two recorded job folders are the same folder (``..`` and symlinks resolved)."""
    if not a or not b:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def writer_of(records: list[RunRecord], job_dir: str | Path, name: str) -> RunRecord | None:
    """The run of ``job_dir`` that wrote checkpoint ``name`` (``None``: none of ours)."""
    for record in reversed(records):
        piece = run_slice(record) if same_job(record.job_dir, job_dir) else None
        if piece is not None and piece.owns(name) and (record.checkpoints is not None or record.active):
            return record
    return None


def settle(run_dir: Path, change: Callable[[RunRecord], RunRecord | None]) -> RunRecord:
    """:func:`registry.update` for changes that may end a run: when the record becomes terminal,
    its share of the job is closed (:func:`end_fields`) in the same write, and its job lock is
    released. Every place that records a run's fate goes through here."""

    def closing(current: RunRecord) -> RunRecord | None:
        new = change(current)
        if new is not None and not new.active and new.checkpoints is None:
            new = new.replace(**end_fields(new))
        return new

    record = registry.update(run_dir, closing)
    if not record.active:
        joblock.release(record.job_dir, record.id)
    return record
