"""The samples a job holds: ``samples/base/`` and ``samples/iter_%09d/``, each read from its
``index.json`` (the one reader of that file), and the samples jobs drawing more for it now.

An index is what ``cosmos_engine.generate`` writes, and what the upstream samples job
(:mod:`~cosmos_tui.core.sampling.upstream`) writes in the same schema: meta (``engine``,
``checkpoint``, ``steps``, ``ema``, ``device``, ``started_at``) and ``samples``, each with
``prompt``, ``seed``, ``clip``, ``video`` (``NNN_seedS.mp4``; an upstream script's own name, maybe
in a subfolder such as ``seed0/0_grid.mp4``) and ``contact_sheet`` (``NNN_seedS.png``). The job
folder is not trusted: the listing is bounded and follows no symlink, an index is read with a size
cap, and a file it names counts only when it is a regular file below the set's folder reached
through plain folders (no link on the way, no ``..``, at most :data:`MAX_DEPTH` parts). A damaged
index is reported for its folder, never raised, so one bad set does not hide the others.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.safeio import RECORD_CAP, read_text_capped
from cosmos_tui.core.sampling.jobs import SampleJob, list_sample_jobs

INDEX_FILE = "index.json"
SAMPLES_FOLDER = "samples"
MAX_SETS = 10_000
"""Entries of ``samples/`` looked at, at most."""
MAX_SAMPLES = 1_000
"""Samples read from one index, at most (the engine draws no more per invocation)."""
MAX_DEPTH = 3
"""Path parts a file named by an index has at most (Predict1's videos sit in ``seedS/``)."""
_LABEL = re.compile(r"base|iter_(?P<iteration>\d{9})")


@dataclass(frozen=True)
class Sample:
    """One drawn sample."""

    prompt: str | None
    """The text it was conditioned on (``None``: its clip's own caption)."""
    seed: int
    clip: str | None
    png: Path | None
    """Its contact sheet (``None`` when the file is missing or not a plain file)."""
    mp4: Path | None
    seconds: float | None = None

    @property
    def key(self) -> tuple[str | None, int]:
        """What the grid lines up across sets: the prompt and the seed."""
        return (self.prompt, self.seed)


@dataclass(frozen=True)
class SampleSet:
    """The samples of one checkpoint (or of the base weights)."""

    label: str
    """``base`` or ``iter_%09d``."""
    iteration: int | None
    """``None`` for the base weights."""
    folder: Path
    samples: tuple[Sample, ...]
    steps: int | None = None
    ema: bool | None = None
    device: str | None = None
    started_at: float | None = None

    @property
    def title(self) -> str:
        """``base`` or ``iter 16``."""
        return "base" if self.iteration is None else f"iter {self.iteration}"


@dataclass(frozen=True)
class JobSamples:
    """Everything the samples panel shows for one job."""

    job_dir: Path
    sets: tuple[SampleSet, ...]
    """``base`` first, then iterations oldest first."""
    running: tuple[SampleJob, ...]
    """Samples jobs on this job still drawing."""
    damaged: tuple[str, ...] = ()
    """One sentence per set folder whose index could not be read."""

    @property
    def keys(self) -> tuple[tuple[str | None, int], ...]:
        """Every (prompt, seed) drawn, in the order the sets first hold them."""
        return tuple(dict.fromkeys(s.key for st in self.sets for s in st.samples))

    def row(self, key: tuple[str | None, int]) -> tuple[Sample | None, ...]:
        """The sample of ``key`` in each set (``None`` where a set lacks it), in set order."""
        return tuple(next((s for s in st.samples if s.key == key), None) for st in self.sets)


def _file(folder: Path, name: Any) -> Path | None:
    """``folder/name`` when ``name`` is a relative path of at most :data:`MAX_DEPTH` plain names
    (no ``..``, no ``\\``, no empty part) to a regular file, with no link anywhere on the way."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return None
    parts = name.split("/")
    if len(parts) > MAX_DEPTH or any(p in ("", ".", "..") for p in parts):
        return None
    path = folder
    try:
        for part in parts[:-1]:
            path = path / part
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return None
        path = path / parts[-1]
        return path if stat.S_ISREG(os.lstat(path).st_mode) else None
    except OSError:
        return None


def _typed(value: Any, kind: type) -> Any:
    """``value`` when it is a ``kind`` (a bool is no int here), else ``None``."""
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


def _number(value: Any) -> float | None:
    return float(value) if _typed(value, int) is not None or _typed(value, float) is not None else None


def read_index(folder: Path, label: str) -> SampleSet:
    """The set in ``folder`` (named ``label``); :class:`ValueError` when its index is unreadable."""
    m = _LABEL.fullmatch(label)
    if m is None:
        raise ValueError(f"{label} is not base or iter_%09d")
    data = json.loads(
        read_text_capped(folder / INDEX_FILE, RECORD_CAP, what="samples index", follow_symlinks=False)
    )
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise ValueError("it holds no samples list")
    samples = []
    for entry in data["samples"][:MAX_SAMPLES]:
        if not isinstance(entry, dict) or not isinstance(entry.get("seed"), int):
            raise ValueError("a sample has no integer seed")
        samples.append(
            Sample(
                prompt=_typed(entry.get("prompt"), str),
                seed=int(entry["seed"]),
                clip=_typed(entry.get("clip"), str),
                png=_file(folder, entry.get("contact_sheet")),
                mp4=_file(folder, entry.get("video")),
                seconds=_number(entry.get("seconds")),
            )
        )
    return SampleSet(
        label=label,
        iteration=None if m.group("iteration") is None else int(m.group("iteration")),
        folder=folder,
        samples=tuple(samples),
        steps=_typed(data.get("steps"), int),
        ema=_typed(data.get("ema"), bool),
        device=_typed(data.get("device"), str),
        started_at=_number(data.get("started_at")),
    )


def job_samples(job_dir: str | Path) -> JobSamples:
    """The sample sets of ``job_dir`` (base first, then by iteration) and its running samples jobs."""
    job_dir = resolved(job_dir)
    root = job_dir / SAMPLES_FOLDER
    sets: list[SampleSet] = []
    damaged: list[str] = []
    if root.is_dir() and not root.is_symlink():
        try:
            with os.scandir(root) as entries:
                names = [
                    e.name
                    for n, e in enumerate(entries)
                    if n < MAX_SETS and _LABEL.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            names = []
        for name in names:
            folder = root / name
            if not (folder / INDEX_FILE).exists():
                continue  # still drawing, or never finished
            try:
                sets.append(read_index(folder, name))
            except (ValueError, OSError, UserError) as e:
                damaged.append(
                    f"{folder / INDEX_FILE} is unreadable ({type(e).__name__}); draw it again with --yes."
                )
    sets.sort(key=lambda s: -1 if s.iteration is None else s.iteration)
    running = tuple(j for j in list_sample_jobs() if j.status == "running" and resolved(j.job_dir) == job_dir)
    return JobSamples(job_dir, tuple(sets), running, tuple(damaged))
