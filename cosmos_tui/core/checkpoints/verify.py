"""Check that a checkpoint can be trusted: every byte its metadata promises is on disk.

DCP: each part (``model``, ``optim``, ``scheduler``, ``trainer``) must have a readable ``.metadata``
(read with the restricted reader, never plain pickle), and every storage file it names must exist
and be long enough for every recorded ``(offset, length)``. With ``deep=True`` every tensor chunk
of the model part is also deserialised with ``torch.load(weights_only=True)``.

Predict1 ``.pt`` sets: the required files exist, and each loads with
``torch.load(weights_only=True, mmap=True)``; a file that needs arbitrary unpickling is reported as
"not loadable safely" rather than loaded.
"""

from __future__ import annotations

import os
import pickle
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cosmos_tui.core.checkpoints.dcp_meta import METADATA_FILE, DcpMetadata, MetadataError, read_dcp_metadata
from cosmos_tui.core.checkpoints.dcp_read import ChunkReader
from cosmos_tui.core.checkpoints.scan import (
    DCP_PARTS,
    CheckpointInfo,
    checkpoint_files,
    is_being_written,
    pt_member,
)
from cosmos_tui.core.fserrors import reason
from cosmos_tui.core.safeio import regular_file
from cosmos_tui.core.units import human_bytes

Status = Literal["ok", "in-progress", "incomplete", "missing-shard", "truncated", "bad-metadata", "unsafe"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one checkpoint."""

    iteration: int
    path: Path
    status: Status
    """``ok`` or the first kind of problem found."""
    message: str
    """One sentence for the person."""
    problems: tuple[str, ...] = field(default=())
    """Every problem found, one line each."""

    @property
    def ok(self) -> bool:
        """True when the checkpoint can be resumed from or exported."""
        return self.status == "ok"


_SEVERITY: tuple[Status, ...] = ("bad-metadata", "missing-shard", "truncated", "unsafe", "incomplete")


def _check_storage(part_dir: Path, meta: DcpMetadata) -> list[tuple[Status, str]]:
    need: dict[str, int] = {}
    for entry in meta.tensors.values():
        for c in entry.chunks:
            need[c.file] = max(need.get(c.file, 0), c.offset + c.length)
    for blob in meta.blobs.values():
        need[blob.file] = max(need.get(blob.file, 0), blob.offset + blob.length)
    problems: list[tuple[Status, str]] = []
    for name, end in sorted(need.items()):
        path = part_dir / name
        try:
            st = os.stat(path)
        except FileNotFoundError:
            problems.append(("missing-shard", f"{part_dir.name}/{name} is missing"))
            continue
        except OSError as e:  # a symlink loop, no permission: as good as missing
            problems.append(("missing-shard", f"{part_dir.name}/{name} cannot be read ({reason(e)})"))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(("missing-shard", f"{part_dir.name}/{name} is not a regular file"))
            continue
        size = st.st_size
        if size < end:
            problems.append(
                ("truncated", f"{part_dir.name}/{name} has {size} bytes, the metadata needs {end}")
            )
    return problems


def _deep_check(part_dir: Path, meta: DcpMetadata) -> list[tuple[Status, str]]:
    problems: list[tuple[Status, str]] = []
    with ChunkReader(part_dir) as reader:
        for entry in meta.tensors.values():
            for chunk in entry.chunks:
                try:
                    reader.read_chunk(entry, chunk)
                except Exception as e:  # a corrupt shard can fail in many ways
                    problems.append(("truncated", f"{part_dir.name}/{entry.fqn} chunk unreadable ({e})"))
                    break
    return problems


def _verify_dcp(info: CheckpointInfo, deep: bool) -> list[tuple[Status, str]]:
    problems: list[tuple[Status, str]] = []
    for part in DCP_PARTS:
        part_dir = info.path / part
        if not (part_dir / METADATA_FILE).is_file():
            what = "missing" if not part_dir.is_dir() else "has no .metadata (save not finished)"
            problems.append(("incomplete", f"part {part} {what}"))
            continue
        try:
            meta = read_dcp_metadata(part_dir)
        except MetadataError as e:
            problems.append(("bad-metadata", f"{part}/.metadata: {e}"))
            continue
        found = _check_storage(part_dir, meta)
        problems.extend(found)
        if deep and part == "model" and not found:
            problems.extend(_deep_check(part_dir, meta))
    return problems


def _verify_pt(info: CheckpointInfo) -> list[tuple[Status, str]]:
    import torch  # deferred: torch

    problems: list[tuple[Status, str]] = []
    files = checkpoint_files(info)
    names = {p.name for p in files}
    for required in (pt_member(info.path, m).name for m in ("trainer", "reg_model", "optim")):
        if required not in names:
            problems.append(("incomplete", f"{required} is missing"))
    for path in files:
        try:
            regular_file(path, what="checkpoint file")  # a FIFO would block torch.load's open
        except OSError as e:
            problems.append(("truncated", f"{path.name} cannot be read ({reason(e)})"))
            continue
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except pickle.UnpicklingError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            problems.append(("unsafe", f"{path.name} is not loadable safely (weights_only): {first[:160]}"))
        except Exception as e:
            problems.append(("truncated", f"{path.name} is unreadable ({type(e).__name__}: {str(e)[:160]})"))
    return problems


def verify_checkpoint(info: CheckpointInfo, *, deep: bool = False) -> Verdict:
    """Verify one checkpoint found by :func:`~cosmos_tui.core.checkpoints.scan.scan_checkpoints`."""
    problems = _verify_dcp(info, deep) if info.layout == "dcp" else _verify_pt(info)
    if not problems:
        size = human_bytes(info.size_bytes)
        return Verdict(info.iteration, info.path, "ok", f"iteration {info.iteration}: ok ({size}).")
    kinds = {k for k, _ in problems}
    status = next(s for s in _SEVERITY if s in kinds)
    if status == "incomplete" and kinds == {"incomplete"} and is_being_written(info):
        status = "in-progress"
    head = {
        "bad-metadata": "metadata cannot be read",
        "missing-shard": "a shard file is missing",
        "truncated": "a shard file is truncated or corrupt",
        "unsafe": "a file is not loadable safely",
        "incomplete": "the save never finished",
        "in-progress": "still being written",
    }[status]
    message = f"iteration {info.iteration}: {head}: {problems[0][1]}" + (
        f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    )
    return Verdict(info.iteration, info.path, status, message, tuple(p for _, p in problems))


def checkpoint_state(info: CheckpointInfo) -> str:
    """One word for listings: ``complete`` (its save finished and every shard its metadata names
    is whole: the quick check, sizes only), the verdict's status when that check fails
    (``truncated``, ``missing-shard``, ``bad-metadata``, ``unsafe``), ``saving`` or ``incomplete``."""
    if not info.complete:
        return "saving" if is_being_written(info) else "incomplete"
    verdict = verify_checkpoint(info)
    return "complete" if verdict.ok else verdict.status
