"""Safe mechanical fixes for embedding files: rename to the loader's name, squeeze, rewrap, byteswap.

Only files that load with the restricted unpickler and whose array is otherwise right are
touched. A renamed file is written as a new file beside the old one (the old stays). A file
fixed in place keeps its original bytes as ``<name>.orig`` (a hard link where possible) before
the fixed file replaces it atomically. Nothing is ever deleted, and nothing is written outside the
dataset folder: a target or backup that resolves elsewhere (a symlinked file or folder leading out
of the dataset) is planned as refused, with the reason (:mod:`~cosmos_tui.core.containment`).
"""

from __future__ import annotations

import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.containment import Escape, contained, write_contained
from cosmos_tui.core.datasets.embeddings import Role, check_embedding, embedding_array
from cosmos_tui.core.datasets.layouts import EmbeddingSpec, get_layout
from cosmos_tui.core.datasets.pickles import load_arrays

FIXABLE = frozenset(
    {"wrong-pickle-ext", "wrong-prefix-name", "embedding-batch-dim", "embedding-wrong-container"}
    | {"embedding-byte-order"}
)
BLOCKING = frozenset(
    {"unsafe-pickle", "unreadable-pickle", "unreadable-file", "empty-file", "broken-symlink"}
    | {"embedding-not-array", "embedding-bad-shape", "embedding-bad-dtype", "embedding-not-finite"}
    | {"symlink-loop", "permission-denied", "not-a-regular-file", "file-too-large", "fs-error"}
)


@dataclass(frozen=True)
class FixAction:
    """One planned fix: read ``source``, write the loader-ready embedding to ``target``."""

    findings: tuple[str, ...]
    """The finding ids this fixes."""
    source: Path
    """The file as it is."""
    target: Path
    """The file the loader opens (may equal ``source``)."""
    backup: Path | None
    """Where the original bytes are kept when ``target`` is ``source``."""
    role: Role
    """``clip`` (holds ``[array]``) or ``prefix`` (holds a bare array)."""
    root: Path | None = None
    """The dataset folder: nothing is written outside it."""
    refused: str | None = None
    """Why this fix will not be written (its target leads outside the dataset), or None."""

    def describe(self, root: Path) -> str:
        """One line for people."""
        src, dst = self.source.relative_to(root), self.target.relative_to(root)
        what = ", ".join(self.findings)
        if self.refused is not None:
            return f"{src}: not fixed ({what}): {self.refused}"
        if self.backup is not None:
            return f"{src}: rewrite in place ({what}); original kept as {self.backup.name}"
        return f"{src} -> {dst} ({what}); {src.name} is kept"


def _candidates(root: Path, spec: EmbeddingSpec, views: tuple[str, ...]) -> list[tuple[Path, Path, Role]]:
    """``(existing file, loader's path, role)`` for every embedding file the loader would open."""
    out: list[tuple[Path, Path, Role]] = []
    for view in views:
        folder = root / spec.clip_folder / view
        if folder.is_dir():
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it if not e.name.startswith("."))
            present = set(names)
            for name in names:
                if name.endswith(spec.ext):
                    out.append((folder / name, folder / name, "clip"))
                elif name.endswith(spec.wrong_ext):
                    stem = name[: -len(spec.wrong_ext)]
                    if f"{stem}{spec.ext}" not in present:
                        out.append((folder / name, folder / f"{stem}{spec.ext}", "clip"))
        cache = root / spec.prefix_folder
        right = cache / f"{spec.prefix_stem.format(view=view)}{spec.ext}"
        if right.is_file():
            out.append((right, right, "prefix"))
            continue
        wrong = spec.wrong_prefix_stem.format(view=view)
        for alt in (
            cache / f"{spec.prefix_stem.format(view=view)}{spec.wrong_ext}",
            cache / f"{wrong}{spec.ext}",
            cache / f"{wrong}{spec.wrong_ext}",
        ):
            if alt.is_file():
                out.append((alt, right, "prefix"))
                break
    return out


def plan_fixes(root: Path, layout_id: str) -> list[FixAction]:
    """The safe fixes for the dataset at ``root``; nothing is written."""
    layout = get_layout(layout_id)
    spec = layout.embeddings
    if spec is None:
        return []
    root = Path(root)
    actions = []
    for source, target, role in _candidates(root, spec, layout.views):
        rel = str(source.relative_to(root))
        check = check_embedding(source, rel, role, spec)
        ids = {fid for fid, _ in check.findings}
        if ids & BLOCKING:
            continue
        fixes = ids & FIXABLE
        if source != target:
            fixes.add(
                "wrong-prefix-name"
                if role == "prefix" and "t5_embeddings" in source.name
                else "wrong-pickle-ext"
            )
        if not fixes:
            continue
        backup = None
        if source == target:
            backup = source.with_name(source.name + ".orig")
            if backup.exists():
                continue  # an earlier fix's backup is there; never overwrite it
        refused = None
        try:
            for path in (target, backup) if backup is not None else (target,):
                contained(path, root, what="the dataset folder")
        except Escape as e:
            refused = e.message
        actions.append(FixAction(tuple(sorted(fixes)), source, target, backup, role, root, refused))
    return actions


def apply_fixes(actions: list[FixAction]) -> list[Path]:
    """Carry out ``actions`` (refused ones are skipped); returns the files written. Originals are
    never removed; every write stays inside the action's dataset folder and follows no link."""

    written = []
    for action in actions:
        if action.refused is not None:
            continue
        root = action.root if action.root is not None else action.target.parent
        obj = load_arrays(action.source)
        array = embedding_array(obj, action.role == "clip")[0]
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if not array.dtype.isnative:  # torch.from_numpy takes native byte order only
            array = array.astype(array.dtype.newbyteorder("="))
        data = pickle.dumps([array] if action.role == "clip" else array, protocol=4)
        if action.backup is not None:
            contained(action.backup, root, what="the dataset folder")
            try:
                os.link(action.source, action.backup)  # fails if the backup exists: never overwritten
            except FileExistsError:
                continue
            except OSError:
                with open(action.source, "rb") as src, _create_new(action.backup) as dst:
                    shutil.copyfileobj(src, dst)
                shutil.copystat(action.source, action.backup)
        elif os.path.lexists(action.target):
            continue
        write_contained(action.target, data, root, what="the dataset folder")
        written.append(action.target)
    return written


def _create_new(path: Path):
    """Open a new file for writing; fails if anything (a file, a planted link) is there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags, 0o644), "wb")
