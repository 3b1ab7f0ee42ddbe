"""Hugging Face revisions an engine's code pins, per checkout version.

Upstream pins revisions in its own code (cosmos_oss ``CheckpointFileHf(repository, revision,
filename)``, the guardrail's ``CheckpointDirHf``), and the pins move between commits of one repo
and differ between repos: Predict2.5 at 7e5ffc8 asks for the Wan2.1 tokenizer at ``6787e176…``
while Transfer2.5 since 93a76bd asks for ``f176dc95…``. With ``HF_HUB_OFFLINE=1`` upstream only
finds the snapshot of the revision it asks for, so a download must fetch exactly that one.

A :class:`RevisionSet` holds one span of a repo's history; an engine adapter lists its sets,
oldest first, and :func:`select` picks the one a checkout is on.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

UNPINNED = "main"


@dataclass(frozen=True)
class RevisionSet:
    """The pins of one span of an upstream repo's history.

    Keys are ``REPO_ID`` (a whole repo, upstream's ``CheckpointDirHf``) or ``REPO_ID/FILE``
    (one file, ``CheckpointFileHf``); values are 40-hex commits.
    """

    read_at: str
    """The full upstream commit these pins were read at."""
    since: str | None
    """The first upstream commit with these pins (``None``: the oldest span we know)."""
    pins: Mapping[str, str] = field(default_factory=dict)
    unpinned_note: str = ""
    """Why a repo not in ``pins`` is fetched at ``main`` (for this engine)."""

    def revision(self, repo_id: str, files: Sequence[str] = ()) -> tuple[str, str]:
        """``(revision, note)`` for a repo (and the files of it that are loaded)."""
        for key in [f"{repo_id}/{f}" for f in files[:1]] + [repo_id]:
            if key in self.pins:
                return self.pins[key], ""
        return UNPINNED, self.unpinned_note


def _is_ancestor(repo: Path, commit: str) -> bool | None:
    """Whether ``commit`` is in the history of the checkout's HEAD; ``None`` when git cannot say
    (no git, not a clone, or a shallow clone without that commit)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, "HEAD"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode in (0, 1) and not done.stderr.strip():
        return done.returncode == 0
    return None


def select(sets: Sequence[RevisionSet], checkout: Path | None = None) -> RevisionSet | None:
    """The set a checkout is on: the newest whose ``since`` commit is in its history.

    Without a checkout, or when git cannot tell, the newest set (the version cosmos-tui's
    presets were checked against). ``None`` when the engine pins nothing.
    """
    if not sets:
        return None
    if checkout is None:
        return sets[-1]
    unknown = False
    for rs in reversed(sets):
        if rs.since is None:
            return sets[-1] if unknown else rs
        found = _is_ancestor(checkout, rs.since)
        if found:
            return rs
        unknown = unknown or found is None
    return sets[-1]
