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


def run_job_dir(run_id: str) -> Path | None:
    """The job output dir of run ``run_id`` from the runs registry, or None when there is no such run.

    The runs registry (``cosmos_tui.core.runs``) owns run records; this is the one place that asks it.
    """
    try:
        from cosmos_tui.core.runs import registry  # type: ignore[attr-defined]
    except ImportError:
        return None
    find = getattr(registry, "job_dir_for", None)
    if find is None:
        return None
    found = find(run_id)
    return Path(found) if found else None


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
    job = run_job_dir(target) if "/" not in target else None
    if job is not None:
        return job / "checkpoints"
    raise UserError(
        f"{target!r} is neither a folder nor a known run id; "
        "pass a job dir, its checkpoints/ folder or a run id."
    )
