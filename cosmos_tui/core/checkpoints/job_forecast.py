"""The disk forecast of a job's checkpoints folder, with what the caller leaves out
(``trainer.max_iter``, ``checkpoint.save_iter``, ``checkpoint.keep_last_n``) taken from the
job's ``config.yaml`` beside ``checkpoints/``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cosmos_tui.core.checkpoints.forecast import DiskForecast, forecast_disk
from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.safeio import CONFIG_CAP, read_text_capped


def config_int(job_dir: Path, dotted: str) -> int | None:
    """The number at ``dotted`` (``trainer.max_iter``) in ``job_dir/config.yaml``; ``None`` when
    the file is missing or unreadable, or holds no number there."""
    try:
        node = yaml.safe_load(read_text_capped(job_dir / "config.yaml", CONFIG_CAP, what="job config"))
    except (OSError, UnicodeDecodeError, RecursionError, yaml.YAMLError):
        return None
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return int(node) if isinstance(node, (int, float)) else None


def forecast_job(
    checkpoints_dir: Path,
    checkpoints: list[CheckpointInfo],
    *,
    max_iter: int | None = None,
    save_iter: int | None = None,
    keep_last_n: int | None = None,
) -> DiskForecast:
    """Will the disk under ``checkpoints_dir`` hold the checkpoints still to come, counted from the
    newest complete one of ``checkpoints``? A setting left out (or 0 for ``max_iter`` and
    ``save_iter``) comes from the job's ``config.yaml``; without ``max_iter`` or ``save_iter``
    from either, a :class:`UsageError`."""
    job = checkpoints_dir.parent
    max_iter = max_iter or config_int(job, "trainer.max_iter")
    save_iter = save_iter or config_int(job, "checkpoint.save_iter")
    if keep_last_n is None:
        keep_last_n = config_int(job, "checkpoint.keep_last_n")
    if not max_iter or not save_iter:
        raise UsageError(
            "Pass --max-iter and --save-iter (no config.yaml with them next to the checkpoints)."
        )
    current = max((c.iteration for c in checkpoints if c.complete), default=0)
    return forecast_disk(
        checkpoints_dir,
        max_iter=max_iter,
        save_iter=save_iter,
        current_iter=current,
        checkpoints=checkpoints,
        keep_last_n=keep_last_n,
    )
