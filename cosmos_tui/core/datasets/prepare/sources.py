"""What SRC holds for ``data prepare``: its videos, the captions the person has, and the rule that
SRC and OUT never overlap (SRC is only ever read).

Videos are the regular files under SRC ending in one of :data:`VIDEO_EXTS` (case-insensitive);
folders are walked without following folder links (a link to a video file is followed, as
datasets link their clips). Hidden names (``.x``, macOS ``._x.mp4`` resource files) are skipped and
reported. Captions, by precedence: an entry of ``--captions FILE`` (CSV ``path,caption`` or JSON
lines ``{"path": ..., "caption": ...}``, paths relative to SRC), then ``<stem>.txt`` beside the
clip.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.containment import resolved
from cosmos_tui.core.datasets.caption_text import decode_problem, text_problem
from cosmos_tui.core.datasets.layouts import Layout
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.safeio import CAPTION_CAP, CONFIG_CAP, read_bytes_capped

GroupViews = Callable[[list[Path], Layout], tuple[dict[str, dict[str, Path]], list[tuple[Path, str]]]]
"""Multiview grouping (``views.py``): SRC's videos -> clip id -> view name -> path, and the videos
left out with the reason."""

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".webm", ".avi")
PROMPT_KEYS = ("long", "short", "medium")
"""Predict2.5's prompt lengths; a structured caption holding them fills each."""
_TEXT_KEYS = ("long", "caption", "text", "prompt", "temporal_caption", "medium", "short")


@dataclass(frozen=True)
class Caption:
    """One clip's caption: the text every layout writes, and the object when the person gave one."""

    text: str
    structured: dict[str, Any] | None = None
    """A JSON object from the captions file (Cosmos 3's ``caption_json``; Predict2.5's prompts)."""
    origin: str = "file"
    """Where it came from: ``file`` (--captions), ``txt`` (beside the clip), ``command``."""

    def prompts(self) -> dict[str, str]:
        """The ``long``/``short``/``medium`` prompts the structured caption gives (may be empty)."""
        s = self.structured or {}
        return {k: s[k] for k in PROMPT_KEYS if isinstance(s.get(k), str) and s[k].strip()}


@dataclass(frozen=True)
class SourceClip:
    """A video of SRC and what goes with it."""

    rel: str
    """Its path relative to SRC, with ``/``."""
    path: Path
    """Its absolute path."""
    slug: str
    """The output name stem: safe characters only, unique within the job."""
    caption: Caption | None
    caption_problem: str | None = None
    """Why the caption beside it cannot be used (the clip is then dropped with this reason)."""
    views: dict[str, Path] | None = None
    """Multiview layouts: view name -> its video (``path`` is the first view's); None: single view."""


@dataclass
class Sources:
    """Everything SRC gives the job."""

    root: Path
    clips: list[SourceClip]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(rel path, reason)`` of files not taken (hidden names, unknown caption entries)."""
    dropped: list[tuple[str, str]] = field(default_factory=list)
    """``(rel path, reason)`` of videos the multiview grouping left out."""


def check_roots(src: Path, out: Path) -> tuple[Path, Path]:
    """SRC and OUT resolved; a :class:`UsageError` when they are the same folder or one holds the
    other (after ``..`` and links), since the job must never write into SRC."""
    s, o = resolved(src), resolved(out)
    if not s.is_dir():
        what = "is not a folder" if s.exists() else "does not exist"
        raise UserError(f"{src} {what}; pass the folder holding your raw videos as SRC.")
    if o == s or s in o.parents:
        raise UsageError(
            f"OUT {out} lies inside SRC {src} (resolved: {o}); pick an OUT outside the source "
            "folder, which data prepare never writes into."
        )
    if o in s.parents:
        raise UsageError(
            f"SRC {src} lies inside OUT {out} (resolved: {s}); pick an OUT that does not hold the source."
        )
    return s, o


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def slug_of(rel: str) -> str:
    """A safe output stem for the clip at ``rel``: folders joined by ``__``, the extension dropped,
    every run of other characters (spaces, dots, line breaks) one ``-``; never empty, never hidden,
    never holding ``.mp4`` (the loaders strip it from names)."""
    parts = rel.split("/")
    parts[-1] = os.path.splitext(parts[-1])[0]
    pieces = [_UNSAFE.sub("-", p).strip("-_") for p in parts]
    slug = "__".join(p for p in pieces if p)[:120]
    return slug or "clip"


def _digest(rel: str) -> str:
    return hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def find_videos(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Relative paths (``/``) of the videos under ``root``, sorted, and the skipped hidden ones."""
    found: list[str] = []
    skipped: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                skipped.append((posixpath.normpath(f"{rel_dir}/{d}"), "hidden folder, not read"))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.lower().endswith(VIDEO_EXTS):
                continue
            rel = posixpath.normpath(f"{rel_dir}/{name}") if rel_dir != "." else name
            if name.startswith("."):
                skipped.append((rel, "hidden file (a macOS ._ resource file or a temp file), not read"))
                continue
            found.append(rel)
    return sorted(found), skipped


def _caption_from(value: Any, where: str) -> Caption:
    if isinstance(value, str):
        text, structured = value.strip(), None
    elif isinstance(value, dict):
        text = next((value[k].strip() for k in _TEXT_KEYS if isinstance(value.get(k), str)), "")
        structured = value
        if not text:
            text = json.dumps(value, ensure_ascii=False)
    else:
        raise UserError(f"{where}: the caption is {type(value).__name__}, not text or a JSON object.")
    problem = text_problem(text)
    if problem:
        raise UserError(f"{where}: the caption holds {problem}; fix the captions file.")
    return Caption(text, structured, "file")


def _key(src_root: Path, raw: str, where: str) -> str:
    p = raw.strip()
    if os.path.isabs(p):
        rp = os.path.normpath(p)
        root = str(src_root)
        if os.path.commonpath([rp, root]) != root:
            raise UserError(f"{where}: {raw!r} is outside SRC {src_root}; give paths relative to SRC.")
        p = os.path.relpath(rp, root)
    return posixpath.normpath(p.replace(os.sep, "/"))


def read_captions_file(path: Path, src_root: Path) -> dict[str, Caption]:
    """Captions by SRC-relative path from a CSV (``path,caption``, header optional) or JSON-lines
    (``{"path": ..., "caption": ...}``; the caption may be an object) file."""
    try:
        data = read_bytes_capped(path, CONFIG_CAP, what="captions file")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"captions file {path} is {decode_problem(e)}; save it as UTF-8.") from None
    except OSError as e:
        raise UserError(f"cannot read captions file {path}: {e.strerror or e}.") from None
    captions: dict[str, Caption] = {}
    name = path.name.lower()
    if name.endswith((".jsonl", ".json")):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except ValueError:
                raise UserError(
                    f'{where} is not JSON; each line must be {{"path": ..., "caption": ...}}.'
                ) from None
            if not isinstance(row, dict) or not isinstance(row.get("path"), str) or "caption" not in row:
                raise UserError(f'{where} needs "path" (text) and "caption"; got {str(line)[:80]!r}.')
            captions[_key(src_root, row["path"], where)] = _caption_from(row["caption"], where)
    elif name.endswith(".csv"):
        for n, row in enumerate(csv.reader(io.StringIO(text)), 1):
            if not row or (n == 1 and [c.strip().lower() for c in row[:2]] == ["path", "caption"]):
                continue
            where = f"{path}:{n}"
            if len(row) < 2:
                raise UserError(f"{where} has {len(row)} column(s); each row must be path,caption.")
            captions[_key(src_root, row[0], where)] = _caption_from(",".join(row[1:]), where)
    else:
        raise UsageError(f"--captions {path}: name a .csv (path,caption) or .jsonl file.")
    return captions


def _beside(path: Path) -> tuple[Caption | None, str | None]:
    """The caption in ``<stem>.txt`` beside ``path``, or why it cannot be used."""
    txt = path.with_suffix(".txt")
    try:
        raw = read_bytes_capped(txt, CAPTION_CAP, what="caption")
    except FileNotFoundError:
        return None, None
    except OSError as e:
        return None, f"its caption {txt.name} cannot be read ({e.strerror or e})"
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError as e:
        return None, f"its caption {txt.name} is {decode_problem(e)}"
    if not text:
        return None, None
    problem = text_problem(text)
    if problem:
        return None, f"its caption {txt.name} holds {problem}"
    return Caption(text, None, "txt"), None


def _unique_slugs(names: list[str]) -> list[str]:
    slugs = [slug_of(n) for n in names]
    counts: dict[str, int] = {}
    for s in slugs:
        counts[s] = counts.get(s, 0) + 1
    # 'a b.mp4' and 'a-b.mp4': both get their path's digest
    return [f"{s}-{_digest(n)}" if counts[s] > 1 else s for n, s in zip(names, slugs, strict=True)]


def _caption_for(rels: list[str], src: Path, given: dict[str, Caption]) -> tuple[Caption | None, str | None]:
    """The first caption of ``rels`` (the file's entry, else the ``.txt`` beside), or why not."""
    problem = None
    for rel in rels:
        if rel in given:
            return given[rel], None
    for rel in rels:
        caption, why = _beside(src / rel)
        if caption is not None:
            return caption, None
        problem = problem or why
    return None, problem


def gather(
    src: Path,
    captions_file: Path | None = None,
    group: GroupViews | None = None,
    layout: Layout | None = None,
) -> Sources:
    """Walk ``src`` (already resolved) for videos and pair each with its caption. With ``group``
    (a ``GroupViews``, for a multiview ``layout``) the videos become per-camera clips."""
    rels, skipped = find_videos(src)
    given = read_captions_file(captions_file, src) if captions_file is not None else {}
    clips = []
    dropped: list[tuple[str, str]] = []
    taken = set(rels)
    if group is None:
        for rel, slug in zip(rels, _unique_slugs(rels), strict=True):
            caption, problem = _caption_for([rel], src, given)
            clips.append(SourceClip(rel, src / rel, slug, caption, problem))
    else:
        assert layout is not None
        grouped, left = group([src / r for r in rels], layout)
        dropped = [(_rel(p, src), reason) for p, reason in left]
        ids = sorted(grouped)
        for clip_id, slug in zip(ids, _unique_slugs(ids), strict=True):
            views = {v: Path(grouped[clip_id][v]) for v in layout.views if v in grouped[clip_id]}
            if len(views) != len(layout.views):
                missing = [v for v in layout.views if v not in views]
                dropped.append((clip_id, f"missing view(s): {', '.join(missing)}"))
                continue
            view_rels = [_rel(p, src) for p in views.values()]
            caption, problem = _caption_for([clip_id, *view_rels], src, given)
            first = next(iter(views.values()))
            clips.append(SourceClip(clip_id, first, slug, caption, problem, views))
        taken |= set(ids)
    for rel in sorted(set(given) - taken):
        skipped.append((rel, "in the captions file, but no such video in SRC"))
    return Sources(src, clips, skipped, dropped)


def _rel(path: Path, src: Path) -> str:
    try:
        return Path(path).relative_to(src).as_posix()
    except ValueError:
        return str(path)
