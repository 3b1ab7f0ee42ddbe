"""Sample images an engine draws during training, listed per iteration.

An engine's adapter says where they land and how they are named (:class:`SampleLayout`: a folder
of the job and a file-name pattern with ``iteration`` and ``tag`` groups); this module only lists
what is there. The job folder is not trusted: the listing is bounded, follows no symlink and
takes only names the pattern accepts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_ENTRIES = 20_000
"""Directory entries looked at, at most (a folder flooded with files still lists quickly)."""


@dataclass(frozen=True)
class SampleLayout:
    """Where an engine writes its sample images and how it names them."""

    folder: str
    """The folder in the job folder (``EveryNDrawSample``)."""
    pattern: re.Pattern[str]
    """A full match of a file name, with the groups ``tag`` and ``iteration``."""


@dataclass(frozen=True)
class SampleImage:
    """One image file."""

    iteration: int
    tag: str
    """What the engine drew it from (``reg``, ``ema``; ``x0`` predictions keep their own tag)."""
    path: Path
    kind: str
    """The file's extension without the dot (``jpg``, ``gif``)."""


@dataclass(frozen=True)
class IterationSamples:
    """The images of one iteration."""

    iteration: int
    images: tuple[SampleImage, ...]

    @property
    def tags(self) -> tuple[str, ...]:
        """The distinct tags, in order."""
        return tuple(dict.fromkeys(i.tag for i in self.images))


def list_samples(job_dir: Path | None, layout: SampleLayout | None) -> tuple[IterationSamples, ...]:
    """The sample images of a job, oldest iteration first (empty without a layout or folder)."""
    if job_dir is None or layout is None:
        return ()
    folder = Path(job_dir) / layout.folder
    if folder.is_symlink() or not folder.is_dir():
        return ()
    found: dict[int, list[SampleImage]] = {}
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_ENTRIES:
                    break
                m = layout.pattern.fullmatch(entry.name)
                if m is None or not entry.is_file(follow_symlinks=False):
                    continue
                image = SampleImage(
                    int(m.group("iteration")), m.group("tag"), Path(entry.path), entry.name.rpartition(".")[2]
                )
                found.setdefault(image.iteration, []).append(image)
    except OSError:
        return ()
    return tuple(
        IterationSamples(it, tuple(sorted(imgs, key=lambda i: (i.tag, i.kind))))
        for it, imgs in sorted(found.items())
    )


def latest_line(samples: tuple[IterationSamples, ...]) -> str | None:
    """``samples: 4 iterations, latest 8 (ema, reg: jpg, gif)``; ``None`` when there are none."""
    if not samples:
        return None
    last = samples[-1]
    kinds = ", ".join(dict.fromkeys(i.kind for i in last.images))
    return f"{len(samples)} iteration(s) drawn, latest {last.iteration} ({', '.join(last.tags)}: {kinds})"
