"""Turn what the user typed (a job dir, a checkpoints dir, a step dir or a run id) into the
``checkpoints/`` folder to work on, and open it: its checkpoints and what is wrong with its pointer.
The CLI's ``ckpt`` commands and the TUI's dashboard actions both start here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import CheckpointInfo, pointer_problem, scan_checkpoints
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import get_run

_STEP = re.compile(r"^iter_\d{9,}$")


def _looks_like_checkpoints(path: Path) -> bool:
    if path.name == "checkpoints" or (path / "latest_checkpoint.txt").exists():
        return True
    return any(p.name.startswith("iter_") for p in path.iterdir())


def run_job_dir(run_id: str) -> Path:
    """The job output dir of run ``run_id`` (an id, a unique prefix, or ``latest``) from the runs
    registry; a :class:`UserError` with close matches when there is no such run."""

    record = get_run(run_id, reconcile_=False)
    if not record.job_dir:
        raise UserError(f"run {record.id} has no job output dir recorded; pass the job dir instead.")
    return Path(record.job_dir)


def names_run(target: str) -> bool:
    """Whether ``target`` means a run id (no such file or folder, and no ``/`` in it), as
    :func:`resolve_checkpoints_dir` reads it."""
    return not Path(target).expanduser().exists() and "/" not in target


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


@dataclass(frozen=True)
class CheckpointFolder:
    """A ``checkpoints/`` folder and what was found in it."""

    directory: Path
    checkpoints: list[CheckpointInfo]
    """Every checkpoint, oldest first (:func:`~cosmos_tui.core.checkpoints.scan.scan_checkpoints`)."""
    warning: str | None = None
    """Why ``latest_checkpoint.txt`` cannot be read (the newest complete checkpoint stands in for
    it), or None."""


def open_checkpoints(target: str, *, need_pointer: bool = False) -> CheckpointFolder:
    """The checkpoints folder meant by ``target`` (see :func:`resolve_checkpoints_dir`) and its
    checkpoints. A pointer file that cannot be read is a warning, or, when the caller must not lose
    track of the latest checkpoint (``need_pointer``: prune), a :class:`UserError`."""
    return _open(resolve_checkpoints_dir(target), need_pointer)


def open_run_checkpoints(run_id: str, *, need_pointer: bool = False) -> CheckpointFolder:
    """The ``checkpoints/`` folder of run ``run_id``'s job (from the runs registry, never a folder
    of that name under the current directory), as :func:`open_checkpoints` opens it; a job that
    has saved nothing yet is an empty folder."""
    return _open(run_job_dir(run_id) / "checkpoints", need_pointer)


def _open(directory: Path, need_pointer: bool) -> CheckpointFolder:
    problem = pointer_problem(directory)
    if problem and need_pointer:
        raise UserError(
            f"{problem.rstrip('.')}; nothing was deleted (the pointer protects the latest checkpoint)"
        )
    return CheckpointFolder(directory, scan_checkpoints(directory), problem)
