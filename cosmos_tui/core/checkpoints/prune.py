"""Decide which checkpoints a retention policy removes, and remove them.

Policy: keep the newest ``keep_last`` checkpoints that **verify** (every part's ``.metadata``
readable and every shard it names whole, :func:`~cosmos_tui.core.checkpoints.verify.verify_checkpoint`),
and every verified checkpoint whose iteration is a multiple of ``keep_every`` (if given). A
checkpoint that looks complete but fails verification (a truncated shard, a damaged
``.metadata``) never takes one of the ``keep_last`` places: it is removed like an incomplete one,
so a verified checkpoint is deleted only when ``keep_last`` newer verified ones stay. Whatever the
policy says, these are always kept: the one ``latest_checkpoint.txt`` points at, every pinned one,
any incomplete one that is probably still being written (modified in the last few minutes), and
any a running samples job reads or has yet to read (``cosmos-tui samples``, asked again just
before each deletion), and any a live process holds a reader lease on (:mod:`.leases`: the
engine's background sampler, a samples job's supervisor);
the plan says for each kept one that fails verification why. Deleting is a separate step from
planning, so the CLI can show the plan (``--dry-run``, the default) before ``--yes``; it removes
only entries inside the checkpoints folder, and a symlinked step folder as a link, never its
target (:func:`~cosmos_tui.core.containment.safe_rmtree`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.leases import leased_iterations
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, checkpoint_files, is_being_written, tree_stats
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.containment import resolved, safe_rmtree
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.sampling.jobs import checkpoints_in_use


@dataclass(frozen=True)
class PruneDecision:
    """What happens to one checkpoint."""

    checkpoint: CheckpointInfo
    keep: bool
    reason: str
    """Why, in a few words (``latest``, ``pinned``, ``read by samples job ID``, ``last 3``,
    ``every 1000``, ``being written``, ``older than the last 3``, ``incomplete``, ``unverified``),
    followed for a checkpoint that fails verification by what is wrong
    (``latest; unverified: model/__0_0.distcp has 10 bytes ...``)."""
    unverified: str | None = None
    """Why the checkpoint fails verification (None when it verifies or was not checked because it
    is incomplete)."""


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
        """Bytes the plan frees: a checkpoint that is (or whose files are) a symlink is removed
        as a link, so its target's bytes stay on disk and are not counted."""
        return sum(freed_bytes(c) for c in self.to_delete)

    @property
    def unverified(self) -> list[PruneDecision]:
        """Decisions about checkpoints that look complete but fail verification."""
        return [d for d in self.decisions if d.unverified]


def freed_bytes(info: CheckpointInfo) -> int:
    """Bytes removing ``info`` gives back: its size, less what sits behind symlinks (removed as
    links, their targets kept)."""
    paths = checkpoint_files(info)
    if not any(p.is_symlink() for p in paths):
        return info.size_bytes
    return sum(tree_stats(p)[0] for p in paths if not p.is_symlink())


Verifier = Callable[[CheckpointInfo], "str | None"]
"""``verify(checkpoint)``: None when it can be trusted, else what is wrong (one line)."""


def verify_problem(info: CheckpointInfo) -> str | None:
    """The default :data:`Verifier`: :func:`~cosmos_tui.core.checkpoints.verify.verify_checkpoint`."""

    verdict = verify_checkpoint(info)
    if verdict.ok:
        return None
    return verdict.message.removeprefix(f"iteration {info.iteration}: ")


def plan_prune(
    checkpoints: list[CheckpointInfo],
    *,
    keep_last: int,
    keep_every: int | None = None,
    now: float | None = None,
    verify: Verifier = verify_problem,
    in_use: Mapping[Path, str] | None = None,
) -> PrunePlan:
    """Apply the policy to ``checkpoints`` (from ``scan_checkpoints``); ``verify`` checks each
    complete one (reading metadata and sizes, never deleting); ``in_use`` (resolved checkpoint
    path -> who reads it; default: :func:`~cosmos_tui.core.sampling.jobs.checkpoints_in_use`)
    names the ones a running samples job needs."""
    if keep_last < 1:
        raise UsageError("--keep-last must be at least 1 (the newest checkpoint is always kept).")
    if keep_every is not None and keep_every < 1:
        raise UsageError("--keep-every must be a positive number of iterations.")
    readers = checkpoints_in_use() if in_use is None else in_use
    leases = {folder: leased_iterations(folder) for folder in {c.path.parent for c in checkpoints}}
    problems = {id(c): verify(c) for c in checkpoints if c.complete}
    verified = [c for c in checkpoints if c.complete and problems[id(c)] is None]
    recent = {id(c) for c in verified[-keep_last:]}
    decisions = []
    for c in checkpoints:
        bad = problems.get(id(c))
        ok = c.complete and bad is None
        if c.is_latest:
            keep, why = True, "latest"
        elif c.pinned:
            keep, why = True, "pinned"
        elif resolved(c.path) in readers:
            keep, why = True, f"read by samples job {readers[resolved(c.path)]}"
        elif (reader := leases[c.path.parent].get(c.iteration)) is not None:
            keep, why = True, f"read by process {reader}"
        elif is_being_written(c, now=now):
            keep, why = True, "being written"
        elif ok and id(c) in recent:
            keep, why = True, f"last {keep_last}"
        elif ok and keep_every and c.iteration % keep_every == 0:
            keep, why = True, f"every {keep_every}"
        elif not c.complete:
            keep, why = False, "incomplete"
        elif bad is not None:
            keep, why = False, "unverified"
        else:
            keep, why = False, f"older than the last {keep_last}"
        if bad is not None:
            why = f"{why}: {bad}" if why == "unverified" else f"{why}; unverified: {bad}"
        decisions.append(PruneDecision(c, keep, why, bad))
    return PrunePlan(tuple(decisions))


def _lease_holder(info: CheckpointInfo) -> int | None:
    """The pid of a live process leasing ``info`` (:mod:`.leases`), or ``None``."""
    return leased_iterations(info.path.parent).get(info.iteration)


def confirmed_plan(shown: PrunePlan, fresh: PrunePlan) -> PrunePlan:
    """What may be deleted once a person confirmed ``shown``: ``fresh`` (the policy applied again
    just before deleting, so a checkpoint that became the latest, pinned or being written since is
    kept), except that nothing is deleted that ``shown`` did not say it would delete."""
    agreed = {c.path for c in shown.to_delete}
    decisions = tuple(
        d
        if d.keep or d.checkpoint.path in agreed
        else PruneDecision(d.checkpoint, True, "not in the confirmed plan", d.unverified)
        for d in fresh.decisions
    )
    return PrunePlan(decisions)


def delete_checkpoint(info: CheckpointInfo, root: Path | None = None) -> None:
    """Remove every file of one checkpoint (the step folder, or each file of a ``.pt`` set), only
    inside ``root`` (default: the folder holding it); a symlink is removed as a link."""
    root = info.path.parent if root is None else root
    for path in checkpoint_files(info):
        safe_rmtree(path, root, what="the checkpoints folder")


def apply_prune(plan: PrunePlan, root: Path | None = None) -> list[CheckpointInfo]:
    """Delete what ``plan`` says to delete, inside ``root`` (the checkpoints folder; default each
    checkpoint's own folder); returns what was removed. A checkpoint a samples job started
    reading since the plan was made is kept."""
    removed = []
    for info in plan.to_delete:
        if info.is_latest or info.pinned:  # belt and braces: a plan is never trusted blindly
            continue
        if resolved(info.path) in checkpoints_in_use() or _lease_holder(info) is not None:
            continue
        delete_checkpoint(info, root)
        removed.append(info)
    return removed
