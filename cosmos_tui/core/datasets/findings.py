"""What the validator can find: a catalog of finding kinds, and the grouped report.

Each kind has a stable id (tests and scripts match on it), a severity, a title and a concrete fix.
The report groups findings by id with a count and a few examples, so a dataset of a million clips
gives a report of a few lines and memory that does not grow with the clip count.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cosmos_tui.core.datasets.layouts import Severity

MAX_EXAMPLES = 5


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
    """Up to five examples (a relative path and a detail)."""
    fix: str
    """What to do about it."""
    fixable: bool = False
    """``--fix`` can repair it."""


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


class Tally:
    """Accumulates findings by id: counts, and the first few examples (bounded memory)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.severity: dict[str, Severity] = {}

    def add(self, finding_id: str, example: str, severity: Severity | None = None) -> None:
        """Record one occurrence of ``finding_id``."""
        if finding_id not in KINDS:
            raise KeyError(f"unknown finding id {finding_id}")
        self.counts[finding_id] += 1
        ex = self.examples.setdefault(finding_id, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(example)
        if severity is not None:
            self.severity[finding_id] = severity

    def merge(self, items: list[tuple[str, str]]) -> None:
        """Record ``(id, example)`` pairs from a worker."""
        for fid, example in items:
            self.add(fid, example)

    def findings(self) -> tuple[Finding, ...]:
        """The grouped findings, errors first, then by count."""
        order = {"error": 0, "warning": 1, "info": 2}
        out = []
        for fid, count in self.counts.items():
            kind = KINDS[fid]
            sev = self.severity.get(fid, kind.severity)
            out.append(
                Finding(fid, sev, kind.title, count, tuple(self.examples[fid]), kind.fix, kind.fixable)
            )
        return tuple(sorted(out, key=lambda f: (order[f.severity], -f.count, f.id)))
