"""Jobs: a job folder and every run launched on it, in order, with their lineage.

A job (``PROJECT/GROUP/NAME`` under an output root) is what every engine resumes from; runs are
launch attempts on it. :func:`list_jobs` groups the run records by their (resolved) job folder;
:func:`job_history` gives each run's segment of the job's curve: its iteration range, its own
loss samples (from its byte range of ``metrics.jsonl``, else its console log), the checkpoints it
wrote and the run it resumed, so a view can draw the whole curve with the run boundaries marked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.metrics import IterSample, parse_jsonl_record, scan_file
from cosmos_tui.core.runs import joblock, ownership
from cosmos_tui.core.runs.joblock import JobOwner
from cosmos_tui.core.runs.lifecycle import list_runs
from cosmos_tui.core.runs.record import RunRecord

MAX_SEGMENT_BYTES = 64 << 20
"""At most this much of one run's ``metrics.jsonl`` range is read for its curve (the newest)."""


@dataclass(frozen=True)
class Segment:
    """One run's part of its job."""

    run: RunRecord
    """The run."""
    start_iteration: int | None
    """Where it started (the checkpoint it resumed, or 0)."""
    last_iteration: int | None
    """The last iteration it reached (``None``: it never trained)."""
    samples: tuple[IterSample, ...]
    """Its own progress reports, by iteration."""
    checkpoints: tuple[str, ...]
    """The checkpoints it wrote."""

    @property
    def resumed(self) -> str | None:
        """``resumed run A at iteration K`` (``None`` for a fresh start)."""
        return resume_lineage(self.run)


def resume_lineage(run: RunRecord) -> str | None:
    """``resumed run A at iteration K (iter_...)``; ``was to resume ...`` for a run that ended
    without training; ``None`` for a fresh start."""
    came = run.resumed_from
    if not came:
        return None
    who = f"run {came['run']}" if came.get("run") else "a checkpoint no known run wrote"
    verb = "was to resume" if run.last_iteration is None and not run.active else "resumed"
    where = f" ({came['checkpoint']})" if came.get("checkpoint") else ""
    return f"{verb} {who} at iteration {came.get('iteration')}{where}"


@dataclass(frozen=True)
class Job:
    """A job folder and its runs, oldest first."""

    path: Path
    """The job folder."""
    runs: tuple[RunRecord, ...]
    """Every run on it, oldest first."""
    checkpoints: tuple[CheckpointInfo, ...]
    """Its checkpoints on disk now."""
    holder: JobOwner | None
    """The run holding it now (``None``: free)."""

    @property
    def name(self) -> str:
        """``PROJECT/GROUP/NAME``: the folder's last three parts."""
        return "/".join(self.path.parts[-3:])

    @property
    def latest(self) -> RunRecord:
        """The newest run."""
        return self.runs[-1]

    def writer(self, name: str) -> RunRecord | None:
        """The run that wrote checkpoint ``name``."""
        return ownership.writer_of(list(self.runs), self.path, name)


def list_jobs() -> list[Job]:
    """Every job that has a run, ordered by its newest run."""
    groups: dict[str, list[RunRecord]] = {}
    for record in list_runs():
        if record.job_dir:
            groups.setdefault(os.path.realpath(record.job_dir), []).append(record)
    jobs = []
    for real, records in groups.items():
        path = Path(records[-1].job_dir or real)
        found = tuple(scan_checkpoints(path / "checkpoints"))
        jobs.append(Job(path, tuple(records), found, joblock.holder(path)))
    return sorted(jobs, key=lambda j: j.latest.id)


def get_job(ref: str) -> Job:
    """A job by folder path, by a run of it (id, unique part, ``latest``), or by a unique part of
    its ``PROJECT/GROUP/NAME``."""
    jobs = list_jobs()
    if not jobs:
        raise UserError("no jobs yet: a job appears with its first run (`cosmos-tui run PRESET`)")
    if os.path.sep in ref or ref.startswith("."):
        real = os.path.realpath(os.path.expanduser(ref))
        for job in jobs:
            if os.path.realpath(job.path) == real:
                return job
    by_run = [j for j in jobs if any(r.id == ref for r in j.runs)]
    if not by_run and ref in ("latest", "last"):
        by_run = [jobs[-1]]
    exact = [j for j in jobs if ref in (j.name, j.path.name)]
    matches = (
        by_run
        or exact
        or [j for j in jobs if ref in j.name]
        or [j for j in jobs if any(ref in r.id for r in j.runs)]
    )
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(j.name for j in matches[:5])
        raise UserError(f"'{ref}' matches {len(matches)} jobs ({names}); give more of the name or a run id")
    raise UserError(f"no job '{ref}'; `cosmos-tui jobs list` shows them")


def _samples(record: RunRecord) -> tuple[IterSample, ...]:
    piece = ownership.run_slice(record)
    if piece is not None and record.job_dir:
        lines = ownership.metrics_bytes(record, cap=MAX_SEGMENT_BYTES).decode("utf-8", "replace").splitlines()
        found = [s for s in map(parse_jsonl_record, lines) if s is not None]
        if found:
            return tuple(found)
    if piece is None and record.job_dir and (Path(record.job_dir) / ownership.METRICS_FILE).exists():
        return ()  # an old record: its lines cannot be told from other runs'
    try:
        return tuple(scan_file(record.console_log).samples)
    except OSError:
        return ()


def job_history(job: Job) -> list[Segment]:
    """Each run's segment of the job, oldest first."""
    segments = []
    for record in job.runs:
        samples = _samples(record)
        last = record.last_iteration if not record.active else None
        if last is None and samples:
            last = samples[-1].iteration
        if not samples and record.last_iteration is None:
            last = None
        owned = record.checkpoints if record.checkpoints is not None else ()
        if record.active and (piece := ownership.run_slice(record)) is not None:
            owned = tuple(c.path.name for c in job.checkpoints if piece.owns(c.path.name))
        segments.append(Segment(record, record.start_iteration, last, samples, tuple(owned)))
    return segments
