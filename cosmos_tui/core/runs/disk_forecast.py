"""The disk forecast of a run: its job's checkpoints still to come against the free space, with
the settings the run was launched with. ``cosmos-tui ckpt forecast RUN`` and the dashboard both
call :func:`forecast_run`, so they give the same figure for the same run.

The settings are :func:`~cosmos_tui.core.preflight.job_settings`'s: the launch's overrides
(the engine's config file's own first), else the job's ``config.yaml``. The overrides come first
because the config beside the checkpoints may be an earlier run's (a resume with
``trainer.max_iter=N`` runs to N). Every checkpoint in the job folder counts, whichever run wrote
it: they all take space, and ``checkpoint.keep_last_n`` prunes among all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cosmos_tui.core import jobconfig, preflight
from cosmos_tui.core.checkpoints.forecast import DiskForecast
from cosmos_tui.core.checkpoints.job_forecast import forecast_job
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs.record import RunRecord


def run_settings(record: RunRecord, job_dir: Path | None = None) -> jobconfig.JobSettings:
    """``trainer.max_iter``, ``checkpoint.save_iter`` and ``checkpoint.keep_last_n`` of the run:
    its launch's overrides, else its job's ``config.yaml`` (only the config when the recorded
    preset no longer validates)."""
    if job_dir is None and record.job_dir:
        job_dir = Path(record.job_dir)
    preset = record.launched
    return preflight.job_settings(preset, job_dir) if preset else jobconfig.settings(job_dir)


def forecast_run(
    record: RunRecord,
    *,
    checkpoints: Sequence[CheckpointInfo] | None = None,
    settings: jobconfig.JobSettings | None = None,
    max_iter: int | None = None,
    save_iter: int | None = None,
    keep_last_n: int | None = None,
    free_bytes: int | None = None,
) -> DiskForecast:
    """The forecast of ``record``'s job: the saves still to come after its newest complete
    checkpoint x their average size, against the free space. ``checkpoints`` are the job's (scanned
    when left out), ``settings`` the run's (:func:`run_settings` when left out); ``max_iter``,
    ``save_iter`` and ``keep_last_n`` given here win over both (``ckpt forecast --max-iter``).
    A :class:`UserError` when the run has no job folder;
    :class:`~cosmos_tui.core.checkpoints.job_forecast.SettingsUnknown` when neither says
    ``max_iter`` and ``save_iter``."""
    if not record.job_dir:
        raise UserError(f"run {record.id} has no job output dir recorded; pass the job dir instead.")
    job_dir = Path(record.job_dir)
    ckdir = job_dir / "checkpoints"
    if checkpoints is None:
        checkpoints = scan_checkpoints(ckdir) if ckdir.is_dir() else []
    return forecast_job(
        ckdir,
        checkpoints,
        max_iter=max_iter,
        save_iter=save_iter,
        keep_last_n=keep_last_n,
        settings=settings or run_settings(record, job_dir),
        free_bytes=free_bytes,
    )
