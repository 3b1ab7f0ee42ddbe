"""Decide which checkpoints a retention policy removes, and remove them.

Policy: keep the newest ``keep_last`` complete checkpoints, and every checkpoint whose iteration is
a multiple of ``keep_every`` (if given). Whatever the policy says, these are always kept: the one
``latest_checkpoint.txt`` points at, the newest complete one, every pinned one, and any incomplete
one that is probably still being written (modified in the last few minutes). Deleting is a separate
step from planning, so the CLI can show the plan (``--dry-run``, the default) before ``--yes``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.scan import CheckpointInfo, checkpoint_files, is_being_written
from cosmos_tui.core.errors import UsageError


@dataclass(frozen=True)
class PruneDecision:
    """What happens to one checkpoint."""

    checkpoint: CheckpointInfo
    keep: bool
    reason: str
    """Why, in a few words (``latest``, ``pinned``, ``last 3``, ``every 1000``, ``being written``,
    ``older than the last 3``, ``incomplete``)."""


@dataclass(frozen=True)
class PrunePlan:
    """The decisions for every checkpoint of a folder."""

    decisions: tuple[PruneDecision, ...]

    @property
    def to_delete(self) -> list[CheckpointInfo]:
        """The checkpoints the plan removes."""
        return [d.checkpoint for d in self.decisions if not d.keep]

    @property
    def bytes_freed(self) -> int:
        """Bytes the plan frees."""
        return sum(c.size_bytes for c in self.to_delete)


def plan_prune(
    checkpoints: list[CheckpointInfo],
    *,
    keep_last: int,
    keep_every: int | None = None,
    now: float | None = None,
) -> PrunePlan:
    """Apply the policy to ``checkpoints`` (from ``scan_checkpoints``) without touching disk."""
    if keep_last < 1:
        raise UsageError("--keep-last must be at least 1 (the newest checkpoint is always kept).")
    if keep_every is not None and keep_every < 1:
        raise UsageError("--keep-every must be a positive number of iterations.")
    complete = [c for c in checkpoints if c.complete]
    recent = {c.iteration for c in complete[-keep_last:]}
    decisions = []
    for c in checkpoints:
        if c.is_latest:
            keep, reason = True, "latest"
        elif c.pinned:
            keep, reason = True, "pinned"
        elif is_being_written(c, now=now):
            keep, reason = True, "being written"
        elif c.complete and c.iteration in recent:
            keep, reason = True, f"last {keep_last}"
        elif c.complete and keep_every and c.iteration % keep_every == 0:
            keep, reason = True, f"every {keep_every}"
        elif not c.complete:
            keep, reason = False, "incomplete"
        else:
            keep, reason = False, f"older than the last {keep_last}"
        decisions.append(PruneDecision(c, keep, reason))
    return PrunePlan(tuple(decisions))


def delete_checkpoint(info: CheckpointInfo) -> None:
    """Remove every file of one checkpoint (the step folder, or each file of a ``.pt`` set)."""
    for path in checkpoint_files(info):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            Path(path).unlink(missing_ok=True)


def apply_prune(plan: PrunePlan) -> list[CheckpointInfo]:
    """Delete what ``plan`` says to delete; returns what was removed."""
    removed = []
    for info in plan.to_delete:
        if info.is_latest or info.pinned:  # belt and braces: a plan is never trusted blindly
            continue
        delete_checkpoint(info)
        removed.append(info)
    return removed
