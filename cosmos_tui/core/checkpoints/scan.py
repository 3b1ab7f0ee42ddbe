"""Find the checkpoints in a ``checkpoints/`` folder and say what state each is in.

Two layouts are understood:

- **DCP** (builtin engine, Transfer2.5, Predict2.5): one folder per save, ``iter_%09d/`` with the
  parts ``model/``, ``optim/``, ``scheduler/``, ``trainer/``. DCP writes a part's ``.metadata`` last
  (temp file + rename, after every rank's shards), so a save is **complete** only when every part
  has its ``.metadata``. ``latest_checkpoint.txt`` holds ``iter_000000500``.
- **``.pt`` sets** (Predict1): ``iter_%09d.pt`` (trainer state), ``iter_%09d_reg_model.pt``,
  ``iter_%09d_ema_model.pt`` (when EMA is on; more than one as ``_RANK{r}_ema_model.pt`` on large
  jobs) and ``iter_%09d_optim.pt``. Complete = the trainer file, the regular model and the optimizer
  are all there and non-empty. ``latest_checkpoint.txt`` holds ``iter_000000200.pt``.

Listing never imports torch: ``has_ema`` comes from the model part's ``.metadata`` read with the
restricted reader in :mod:`cosmos_tui.core.checkpoints.dcp_meta`. Pins come from
:mod:`cosmos_tui.core.checkpoints.pins`.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core.checkpoints.dcp_meta import METADATA_FILE, MetadataError, read_dcp_metadata
from cosmos_tui.core.checkpoints.pins import read_pins
from cosmos_tui.core.fserrors import describe_os_error
from cosmos_tui.core.safeio import POINTER_CAP, describe_decode_error, read_text_capped

DCP_PARTS: tuple[str, ...] = ("model", "optim", "scheduler", "trainer")
"""The part folders every DCP save writes."""
LATEST_FILE = "latest_checkpoint.txt"
IN_PROGRESS_GRACE_S = 600.0
"""An incomplete checkpoint touched this recently is treated as being written."""

_DCP_DIR = re.compile(r"^iter_(\d{9,})$")
_PT_FILE = re.compile(r"^iter_(\d{9,})(?:_RANK\d+)?(?:_(reg_model|ema_model|optim))?\.pt$")


@dataclass(frozen=True)
class CheckpointInfo:
    """One saved checkpoint, as found on disk."""

    iteration: int
    """Training iteration it was saved at."""
    path: Path
    """DCP: the ``iter_%09d`` folder. Predict1: the ``iter_%09d.pt`` trainer file."""
    layout: Literal["dcp", "pt"]
    """``dcp`` step folder or Predict1 ``pt`` file set."""
    complete: bool
    """Every part is fully written (DCP: ``.metadata`` in each part; pt: the required files)."""
    is_latest: bool
    """``latest_checkpoint.txt`` points at it."""
    size_bytes: int
    """Bytes on disk of all its files."""
    mtime: float
    """Most recent modification time of any of its files (seconds since the epoch)."""
    pinned: bool
    """Pinned by the user: prune never removes it."""
    has_ema: bool
    """EMA weights are present (DCP: ``net_ema.*`` keys in the model part; pt: ``_ema_model.pt``)."""


MAX_TREE_ENTRIES = 20_000
"""Entries looked at under one checkpoint: a step folder holds a few shards per rank and part; a
symlinked step folder that leads to ``/`` or a huge tree is not walked to its end."""


def tree_stats(path: Path) -> tuple[int, float]:
    """Total size and newest mtime of the files under ``path`` (or of ``path`` itself), counting
    at most :data:`MAX_TREE_ENTRIES` entries."""
    size, newest = 0, 0.0
    budget = MAX_TREE_ENTRIES
    try:
        st = path.stat()
    except OSError:
        return 0, 0.0
    newest = st.st_mtime
    if not path.is_dir():
        return st.st_size, newest
    stack = [path]
    while stack and budget > 0:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        budget -= len(entries)
        for entry in entries:
            try:
                est = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            newest = max(newest, est.st_mtime)
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            else:
                size += est.st_size
    return size, newest


def _read_pointer(checkpoints_dir: Path) -> tuple[str | None, str | None]:
    """``(name, problem)``: the name the pointer holds, and a sentence when it cannot be read."""
    path = Path(checkpoints_dir) / LATEST_FILE
    try:
        text = read_text_capped(path, POINTER_CAP, what="checkpoint pointer")
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, describe_os_error(e, doing="read the checkpoint pointer")
    except UnicodeDecodeError as e:
        head = describe_decode_error(e, path, what="checkpoint pointer").split("; ", 1)[0]
        return (
            None,
            f"{head}; write the name of the checkpoint to resume from into it (iter_000000500) or delete it",
        )
    return text.strip() or None, None


def _size(path: Path) -> int:
    """Size of the regular file at ``path``; 0 for a missing, looping or special one."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def read_latest_pointer(checkpoints_dir: Path) -> str | None:
    """The name ``latest_checkpoint.txt`` points at (``iter_000000500`` or ``iter_000000200.pt``);
    None when there is none or it cannot be read (see :func:`pointer_problem`)."""
    return _read_pointer(checkpoints_dir)[0]


def pointer_problem(checkpoints_dir: Path) -> str | None:
    """One sentence when ``latest_checkpoint.txt`` exists but cannot be read as a small text file
    (binary, a device or FIFO, huge, unreadable); None when it is fine or absent."""
    return _read_pointer(checkpoints_dir)[1]


def dcp_part_complete(part_dir: Path) -> bool:
    """A DCP part folder is complete once its ``.metadata`` exists (DCP renames it into place last)."""
    return (part_dir / METADATA_FILE).is_file()


def _dcp_has_ema(step_dir: Path) -> bool:
    try:
        return read_dcp_metadata(step_dir / "model").has_ema
    except MetadataError:
        return False


def pt_set_files(checkpoints_dir: Path, iteration: int) -> list[Path]:
    """Every file of the ``.pt`` set saved at ``iteration``."""
    stem = f"iter_{iteration:09d}"
    out = []
    for entry in os.scandir(checkpoints_dir):
        m = _PT_FILE.match(entry.name)
        if m and entry.name.startswith(stem) and int(m.group(1)) == iteration:
            out.append(Path(entry.path))
    return sorted(out)


PT_MEMBERS: tuple[str, ...] = ("trainer", "reg_model", "ema_model", "optim")
"""The files of a ``.pt`` set, by role (``trainer`` is ``iter_%09d.pt`` itself)."""


def pt_member(trainer_file: Path, member: str) -> Path:
    """The ``member`` file (one of :data:`PT_MEMBERS`) of the ``.pt`` set whose trainer file is
    ``trainer_file`` (``iter_%09d.pt``, a ``.pt`` checkpoint's ``path``)."""
    if member not in PT_MEMBERS:
        raise ValueError(f"no .pt set member {member!r}; use one of {', '.join(PT_MEMBERS)}")
    stem = Path(trainer_file).name.removesuffix(".pt")
    return Path(trainer_file).with_name(f"{stem}.pt" if member == "trainer" else f"{stem}_{member}.pt")


def resume_states(info: CheckpointInfo) -> dict[str, bool]:
    """Which training states ``info`` holds: ``model``, ``optimizer``, ``scheduler``, ``trainer``
    and ``ema``, each present or not (a ``.pt`` set keeps scheduler and trainer state in its
    trainer file)."""
    if info.layout == "dcp":
        present = {part: (info.path / part / ".metadata").is_file() for part in DCP_PARTS}
        return {
            "model": present["model"],
            "optimizer": present["optim"],
            "scheduler": present["scheduler"],
            "trainer": present["trainer"],
            "ema": info.has_ema,
        }
    return {
        "model": pt_member(info.path, "reg_model").is_file(),
        "optimizer": pt_member(info.path, "optim").is_file(),
        "scheduler": info.path.is_file(),
        "trainer": info.path.is_file(),
        "ema": info.has_ema,
    }


def checkpoint_files(info: CheckpointInfo) -> list[Path]:
    """The paths that make up ``info`` (the step folder, or every file of the ``.pt`` set)."""
    if info.layout == "dcp":
        return [info.path]
    return pt_set_files(info.path.parent, info.iteration)


def _scan_pt(checkpoints_dir: Path, names: list[str], latest: str | None, pins: frozenset[int]):
    groups: dict[int, dict[str, list[Path]]] = {}
    for name in names:
        m = _PT_FILE.match(name)
        if not m:
            continue
        kind = m.group(2) or "trainer"
        groups.setdefault(int(m.group(1)), {}).setdefault(kind, []).append(checkpoints_dir / name)
    for iteration, kinds in groups.items():
        files = [p for paths in kinds.values() for p in paths]
        size, newest = 0, 0.0
        for p in files:
            s, t = tree_stats(p)
            size += s
            newest = max(newest, t)
        required_ok = all(
            kind in kinds and all(_size(p) > 0 for p in kinds[kind])
            for kind in ("trainer", "reg_model", "optim")
        )
        trainer = checkpoints_dir / f"iter_{iteration:09d}.pt"  # the set's path: pt_member() from it
        yield CheckpointInfo(
            iteration=iteration,
            path=trainer,
            layout="pt",
            complete=required_ok,
            is_latest=latest == trainer.name,
            size_bytes=size,
            mtime=newest,
            pinned=iteration in pins,
            has_ema="ema_model" in kinds,
        )


def scan_checkpoints(checkpoints_dir: Path) -> list[CheckpointInfo]:
    """Every checkpoint in ``checkpoints_dir`` (DCP step folders and ``.pt`` sets), sorted
    by iteration. A missing folder gives an empty list."""
    checkpoints_dir = Path(checkpoints_dir)
    try:
        names = sorted(os.listdir(checkpoints_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    latest = read_latest_pointer(checkpoints_dir)
    pins = read_pins(checkpoints_dir)
    found: list[CheckpointInfo] = []
    for name in names:
        m = _DCP_DIR.match(name)
        step_dir = checkpoints_dir / name
        if not m or not step_dir.is_dir():
            continue
        iteration = int(m.group(1))
        complete = all(dcp_part_complete(step_dir / part) for part in DCP_PARTS)
        size, newest = tree_stats(step_dir)
        found.append(
            CheckpointInfo(
                iteration=iteration,
                path=step_dir,
                layout="dcp",
                complete=complete,
                is_latest=latest == name,
                size_bytes=size,
                mtime=newest,
                pinned=iteration in pins,
                has_ema=_dcp_has_ema(step_dir),
            )
        )
    found.extend(_scan_pt(checkpoints_dir, names, latest, pins))
    found.sort(key=lambda c: (c.iteration, c.layout))
    return found


def is_being_written(info: CheckpointInfo, *, now: float | None = None) -> bool:
    """An incomplete checkpoint modified within :data:`IN_PROGRESS_GRACE_S` is probably being saved."""
    now = time.time() if now is None else now
    return not info.complete and (now - info.mtime) < IN_PROGRESS_GRACE_S


def latest_complete(checkpoints: list[CheckpointInfo]) -> CheckpointInfo | None:
    """The newest complete checkpoint: the one to resume from or export by default."""
    done = [c for c in checkpoints if c.complete]
    return done[-1] if done else None
