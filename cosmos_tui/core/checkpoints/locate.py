"""Turn what the user typed (a job dir, a checkpoints dir, a step dir or a run id) into the
``checkpoints/`` folder to work on."""

from __future__ import annotations

import re
from pathlib import Path

from cosmos_tui.core.errors import UserError

_STEP = re.compile(r"^iter_\d{9,}$")


def _looks_like_checkpoints(path: Path) -> bool:
    if path.name == "checkpoints" or (path / "latest_checkpoint.txt").exists():
        return True
    return any(p.name.startswith("iter_") for p in path.iterdir())


def run_job_dir(run_id: str) -> Path:
    """The job output dir of run ``run_id`` (an id, a unique prefix, or ``latest``) from the runs
    registry; a :class:`UserError` with close matches when there is no such run."""
    from cosmos_tui.core.runs import get_run

    record = get_run(run_id, reconcile_=False)
    if not record.job_dir:
        raise UserError(f"run {record.id} has no job output dir recorded; pass the job dir instead.")
    return Path(record.job_dir)


def resolve_checkpoints_dir(target: str) -> Path:
    """The ``checkpoints/`` folder meant by ``target``: a job dir (holding ``checkpoints/``), a
    checkpoints dir itself, one ``iter_N`` step folder (its parent), or a run id."""
    path = Path(target).expanduser()
    if path.is_dir():
        if _STEP.match(path.name):
            return path.parent
        if (path / "checkpoints").is_dir():
            return path / "checkpoints"
        if _looks_like_checkpoints(path):
            return path
        raise UserError(
            f"{path} holds no checkpoints (no checkpoints/ folder, no iter_* entries); pass the job dir."
        )
    if path.exists():
        raise UserError(f"{path} is a file; pass the job dir or its checkpoints/ folder.")
    if "/" in target:
        raise UserError(f"{path} does not exist; pass a job dir, its checkpoints/ folder or a run id.")
    return run_job_dir(target) / "checkpoints"
