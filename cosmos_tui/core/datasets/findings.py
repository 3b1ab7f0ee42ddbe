"""What the validator can find: a catalog of finding kinds, and the grouped report.

Each kind has a stable id (tests and scripts match on it), a severity, a title and a concrete fix.
The report groups findings by id with a count, a few examples (of different clips) for people and
every clip that has the finding for scripts (``--json``), so memory grows with the bad clips only.
"""

from __future__ import annotations

import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cosmos_tui.core.datasets.layouts import Severity

MAX_EXAMPLES = 5
MAX_ITEMS = 100_000
"""Occurrences kept per finding; ``count`` and ``clips`` stay complete beyond it."""


@dataclass(frozen=True)
class FindingKind:
    """One kind of problem: its id, default severity, title, and how to fix it."""

    id: str
    """Stable id, e.g. ``too-few-frames``."""
    severity: Severity
    """``error`` makes the dataset invalid; ``warning`` and ``info`` do not."""
    title: str
    """What is wrong, in a few words."""
    fix: str
    """What to do about it."""
    fixable: bool = False
    """``data validate --fix`` can repair it mechanically (new files beside the old)."""


def _load_kinds() -> dict[str, FindingKind]:
    with resources.files(__package__).joinpath("findings.toml").open("rb") as f:
        table = tomllib.load(f)
    return {fid: FindingKind(id=fid, **fields) for fid, fields in table.items()}


KINDS: dict[str, FindingKind] = _load_kinds()
"""Every finding kind, by id (from findings.toml beside this module)."""


@dataclass(frozen=True)
class Finding:
    """One kind of problem found in a dataset, with how many times and where."""

    id: str
    """The finding kind's id."""
    severity: Severity
    """``error``, ``warning`` or ``info``."""
    title: str
    """What is wrong."""
    count: int
    """How many files or clips have it."""
    examples: tuple[str, ...]
    """Up to five examples (a relative path and a detail), each of another clip."""
    fix: str
    """What to do about it."""
    fixable: bool = False
    """``--fix`` can repair it."""
    clips: tuple[str, ...] = ()
    """Every clip that has it (for findings about no one clip: every file or folder), in clip order."""
    items: tuple[str, ...] = ()
    """Every occurrence (a relative path and a detail), in clip order; the first ``MAX_ITEMS``."""


@dataclass(frozen=True)
class Report:
    """The outcome of validating one dataset."""

    root: Path
    """Dataset root."""
    layout: str
    """Layout id."""
    experiment: str | None
    """Experiment named for the frame check, if any."""
    min_frames: int
    """Frames each clip needs."""
    clips: int
    """Clip names found (the union over views)."""
    videos: int
    """Video files probed."""
    embeddings: int
    """Embedding files read."""
    deep: bool
    """Frames were counted by decoding."""
    elapsed_s: float
    """Wall time."""
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    """Findings, errors first."""

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> int:
        """Number of error findings (kinds, not occurrences)."""
        return sum(f.severity == "error" for f in self.findings)

    def ids(self) -> set[str]:
        """The ids of all findings."""
        return {f.id for f in self.findings}

    def get(self, finding_id: str) -> Finding | None:
        """The finding with id ``finding_id``, if present."""
        return next((f for f in self.findings if f.id == finding_id), None)


@dataclass(frozen=True)
class ValidationPass:
    """One validation of one dataset from its start: what is checked and how; :meth:`report`
    closes it into the :class:`Report`."""

    root: Path
    layout: str
    experiment: str | None
    min_frames: int
    deep: bool
    started: float = field(default_factory=time.perf_counter)

    def report(self, tally: Tally, *, clips: int, videos: int, embeddings: int = 0) -> Report:
        """The report of this pass: ``tally``'s findings and what was counted."""
        elapsed = time.perf_counter() - self.started
        head = (self.root, self.layout, self.experiment, self.min_frames)
        return Report(*head, clips, videos, embeddings, self.deep, elapsed, tally.findings())


class Tally:
    """Accumulates findings by id: every occurrence and the clip (or file) it belongs to."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.items: dict[str, list[str]] = {}  # id -> occurrences (at most MAX_ITEMS)
        self.subjects: dict[str, dict[str, int]] = {}  # id -> clip -> number of its first occurrence
        self.severity: dict[str, Severity] = {}
        self.titles: dict[str, str] = {}  # id -> a title that says more than the kind's (counts, names)

    def add(
        self, finding_id: str, example: str, severity: Severity | None = None, subject: str | None = None
    ) -> None:
        """Record one occurrence of ``finding_id`` in clip ``subject`` (default: the example itself)."""
        if finding_id not in KINDS:
            raise KeyError(f"unknown finding id {finding_id}")
        items = self.items.setdefault(finding_id, [])
        clip = example if subject is None else subject
        self.subjects.setdefault(finding_id, {}).setdefault(clip, self.counts[finding_id])
        self.counts[finding_id] += 1
        if len(items) < MAX_ITEMS:
            items.append(example)
        if severity is not None:
            self.severity[finding_id] = severity

    def merge(self, items: list[tuple[str, str]], subject: str | None = None) -> None:
        """Record ``(id, example)`` pairs from a worker, all of clip ``subject`` when given."""
        for fid, example in items:
            self.add(fid, example, subject=subject)

    def _examples(self, fid: str) -> tuple[str, ...]:
        """The first item of each of the first clips (so five examples name five clips)."""
        items = self.items[fid]
        firsts = [i for i in list(self.subjects[fid].values())[:MAX_EXAMPLES] if i < len(items)]
        return tuple(items[i] for i in firsts)

    def findings(self) -> tuple[Finding, ...]:
        """The grouped findings, errors first, then by count."""
        order = {"error": 0, "warning": 1, "info": 2}
        out = []
        for fid, items in self.items.items():
            kind = KINDS[fid]
            sev = self.severity.get(fid, kind.severity)
            out.append(
                Finding(
                    fid,
                    sev,
                    self.titles.get(fid, kind.title),
                    self.counts[fid],
                    self._examples(fid),
                    kind.fix,
                    kind.fixable,
                    clips=tuple(self.subjects[fid]),
                    items=tuple(items),
                )
            )
        return tuple(sorted(out, key=lambda f: (order[f.severity], -f.count, f.id)))
