"""The disk forecast of a job: the one function the preflight check, the dashboard and
``ckpt forecast`` call. What the caller leaves out (``trainer.max_iter``, ``checkpoint.save_iter``,
``checkpoint.keep_last_n``) comes from the job's ``config.yaml`` beside ``checkpoints/``, read by
:mod:`cosmos_tui.core.jobconfig` (so an upstream config with ``!!python`` tags works).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cosmos_tui.core import jobconfig
from cosmos_tui.core.checkpoints.forecast import DiskForecast, forecast_disk
from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.errors import UsageError


class SettingsUnknown(UsageError):
    """Neither the caller nor the job's ``config.yaml`` says ``max_iter`` and ``save_iter``."""


def forecast_job(
    checkpoints_dir: Path,
    checkpoints: Sequence[CheckpointInfo],
    *,
    max_iter: int | None = None,
    save_iter: int | None = None,
    keep_last_n: int | None = None,
    settings: jobconfig.JobSettings | None = None,
    current_iter: int | None = None,
    checkpoint_bytes: int | None = None,
    free_bytes: int | None = None,
) -> DiskForecast:
    """Will the disk under ``checkpoints_dir`` hold the checkpoints still to come?

    A setting left out (or 0 for ``max_iter`` and ``save_iter``) comes from ``settings`` when the
    caller has read them already, else from the job's ``config.yaml``; without ``max_iter`` or
    ``save_iter`` from either, :class:`SettingsUnknown`. ``current_iter`` defaults to the newest
    complete checkpoint; ``checkpoint_bytes`` is the size estimate while none is saved;
    ``free_bytes`` overrides the measured free space."""
    if settings is None:
        settings = jobconfig.settings(checkpoints_dir.parent)
    max_iter = max_iter or settings.max_iter
    save_iter = save_iter or settings.save_iter
    if keep_last_n is None:
        keep_last_n = settings.keep_last_n
    if not max_iter or not save_iter:
        raise SettingsUnknown(
            "Pass --max-iter and --save-iter (no config.yaml with them next to the checkpoints)."
        )
    if current_iter is None:
        current_iter = max((c.iteration for c in checkpoints if c.complete), default=0)
    return forecast_disk(
        checkpoints_dir,
        max_iter=max_iter,
        save_iter=save_iter,
        current_iter=current_iter,
        checkpoints=list(checkpoints),
        checkpoint_bytes=checkpoint_bytes,
        keep_last_n=keep_last_n,
        free_bytes=free_bytes,
    )
