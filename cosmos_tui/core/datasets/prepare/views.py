"""Multiview grouping: raw videos -> clips with one file per camera, aligned across cameras.

The multiview loaders pair the cameras of a clip by file name and read the same frames from each:
cosmos-predict1 ``cosmos_predict1/diffusion/training/datasets/dataset_multiview.py`` lists
``videos/<view_keys[0]>/`` and opens ``videos/<view>/<same name>`` for every other view with the
same ``frame_ids`` (it asserts every id is below each view's ``len(vr)``), and cosmos-transfer2.5
``cosmos_transfer2/_src/transfer2_multiview/configs/vid2vid_transfer/defaults/dataloader_local.py``
raises ``FileNotFoundError`` when one camera of a clip is missing. So a clip goes to the output
only when every view has exactly one file, under one clip id, with the same frame count.

Where a file belongs comes from either

- a naming rule relative to SRC, such as ``{clip}_{view}.mp4`` or ``{view}/{clip}.mp4``
  (``{clip}`` and ``{view}`` each at least once, ``*`` any run of characters within one folder
  name, everything else literal), or
- a mapping file, CSV with a ``clip,view,path`` header or JSON (a list of
  ``{"clip", "view", "path"}`` objects, or ``{clip: {view: path}}``), paths relative to SRC.

:func:`group_views` pairs by name; :func:`align_frames` probes the files and keeps clips whose
views agree in frame count (or, with ``trim``, keeps them at the shortest view's count). Whatever
is left out is reported with its reason, never silently: a missing view, two files for one view,
one file for two views, an unknown view name (with the closest known one), a name that cannot be
a file name, frame counts or rates that differ.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cosmos_tui.core.datasets.probe import ProbeError, VideoInfo, probe_video
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.safeio import CONFIG_CAP, read_bytes_capped

_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ViewGroups:
    """Clips with one file per view, and what was left out."""

    views: tuple[str, ...]
    """The views, in the loader's order."""
    groups: dict[str, dict[str, Path]] = field(default_factory=dict)
    """Clip id -> view -> file, clips sorted, views in ``views`` order."""
    dropped: list[tuple[str, str]] = field(default_factory=list)
    """``(clip id or file, reason)`` for everything left out."""
    frames: dict[str, int] = field(default_factory=dict)
    """Clip id -> frames every view keeps (filled by :func:`align_frames`)."""
    trimmed: list[tuple[str, str]] = field(default_factory=list)
    """``(clip id, what was cut)`` for clips kept at their shortest view's length."""


def clip_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a clip id (a file name in every view folder), or None."""
    if not name:
        return "is empty"
    if name in (".", "..") or "/" in name:
        return "holds a path ('/' or '..')"
    if _BAD_CHARS.search(name):
        return "holds a newline, control character or backslash"
    if name.startswith("."):
        return "starts with '.' (a hidden file the loader would still list)"
    return None


def _suggest(name: str, views: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, views, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(views)})"


@dataclass(frozen=True)
class _Rule:
    known: re.Pattern[str]
    anyview: re.Pattern[str]


def parse_rule(rule: str, views: Sequence[str]) -> _Rule:
    """Compile a naming rule (see the module docstring); a usage error says what is wrong with it."""
    if not rule or rule.startswith("/") or "\n" in rule or "\0" in rule:
        raise UsageError(
            f"The view rule {rule!r} must be a relative pattern such as '{{clip}}_{{view}}.mp4'."
        )
    if ".." in rule.split("/"):
        raise UsageError(f"The view rule {rule!r} must not hold '..': it matches paths inside SRC.")
    tokens = re.split(r"(\{[^{}]*\}|\*)", rule)
    for tok in tokens:
        if tok.startswith("{") and tok not in ("{clip}", "{view}"):
            raise UsageError(f"The view rule {rule!r} holds {tok}; it may name only {{clip}} and {{view}}.")
    if "{clip}" not in tokens or "{view}" not in tokens:
        raise UsageError(
            f"The view rule {rule!r} must name both {{clip}} and {{view}}, e.g. '{{view}}/{{clip}}.mp4'."
        )

    def build(view_re: str) -> re.Pattern[str]:
        seen: set[str] = set()
        parts = []
        for tok in tokens:
            if tok in ("{clip}", "{view}"):
                key = tok[1:-1]
                parts.append(
                    f"(?P={key})" if key in seen else f"(?P<{key}>{view_re if key == 'view' else '[^/]+?'})"
                )
                seen.add(key)
            elif tok == "*":
                parts.append("[^/]*")
            else:
                parts.append(re.escape(tok))
        return re.compile("".join(parts))

    alternatives = "|".join(re.escape(v) for v in sorted(views, key=len, reverse=True))
    return _Rule(build(alternatives), build("[^/]+?"))


def _rel(path: Path, src: Path) -> str | None:
    """``path`` relative to ``src`` with '/' separators, or None if it lies outside (lexically)."""
    full = Path(os.path.normpath(path if path.is_absolute() else src / path))
    try:
        return full.relative_to(src).as_posix()
    except ValueError:
        return None


def _entries_from_rule(
    paths: Iterable[str | Path], src: Path, rule: _Rule, views: Sequence[str], dropped: list[tuple[str, str]]
) -> list[tuple[str, str, Path]]:
    out = []
    for p in paths:
        path = Path(p)
        rel = _rel(path, src)
        if rel is None:
            dropped.append((str(path), "lies outside SRC"))
            continue
        m = rule.known.fullmatch(rel)
        if m is None:
            other = rule.anyview.fullmatch(rel)
            if other is not None:
                view = other.group("view")
                dropped.append((rel, f"unknown view '{view}'{_suggest(view, views)}"))
            else:
                dropped.append((rel, "does not match the view rule"))
            continue
        out.append((m.group("clip"), m.group("view"), src / rel))
    return out


def read_mapping(mapping: str | Path, src: str | Path) -> list[tuple[str, str, Path]]:
    """The ``(clip, view, file)`` rows of a CSV or JSON mapping file, files under ``src``.

    A mapping that is unreadable, lacks a field, or names a path with ``..``, a newline, or an
    absolute path outside SRC is refused as a whole with a :class:`UsageError` naming the row.
    """
    mapping, src = Path(mapping), Path(os.path.abspath(src))
    try:
        text = read_bytes_capped(mapping, CONFIG_CAP, what="view mapping").decode("utf-8-sig")
    except OSError as e:
        raise UsageError(f"Cannot read the view mapping {mapping}: {e.strerror or e}.") from None
    except UnicodeDecodeError:
        raise UsageError(f"The view mapping {mapping} is not UTF-8 text.") from None
    rows = _json_rows(text, mapping) if mapping.suffix.lower() == ".json" else _csv_rows(text, mapping)
    out = []
    for where, clip, view, rel in rows:
        for key, value in (("clip", clip), ("view", view), ("path", rel)):
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{mapping} {where}: '{key}' is missing or not text.")
        if any(_CONTROL.search(value) for value in (clip, view, rel)):
            raise UsageError(f"{mapping} {where}: a field holds a newline or control character; remove it.")
        if ".." in Path(rel).parts:
            raise UsageError(f"{mapping} {where}: path {rel!r} holds '..'; give paths inside SRC.")
        full = Path(os.path.normpath(rel if os.path.isabs(rel) else src / rel))
        if full != src and src not in full.parents:
            raise UsageError(f"{mapping} {where}: path {rel!r} is outside SRC {src}; give paths inside it.")
        problem = clip_name_problem(clip)
        if problem:
            raise UsageError(f"{mapping} {where}: clip id {clip!r} {problem}; rename it.")
        out.append((clip, view, full))
    return out


def _csv_rows(text: str, mapping: Path) -> list[tuple[str, object, object, object]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise UsageError(f"The view mapping {mapping} is empty; it needs a clip,view,path header.") from None
    except csv.Error as e:
        raise UsageError(f"The view mapping {mapping} is not valid CSV ({e}).") from None
    if not {"clip", "view", "path"} <= set(header):
        raise UsageError(f"The view mapping {mapping} must start with a clip,view,path header, not {header}.")
    idx = [header.index(k) for k in ("clip", "view", "path")]
    rows: list[tuple[str, object, object, object]] = []
    try:
        for n, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            cells = [row[i].strip() if i < len(row) else None for i in idx]
            rows.append((f"line {n}", *cells))
    except csv.Error as e:
        raise UsageError(f"The view mapping {mapping} is not valid CSV ({e}).") from None
    return rows


def _json_rows(text: str, mapping: Path) -> list[tuple[str, object, object, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(
            f"The view mapping {mapping} is not valid JSON ({e.msg}, line {e.lineno})."
        ) from None
    if isinstance(data, dict):
        rows: list[tuple[str, object, object, object]] = []
        for clip, per_view in data.items():
            if not isinstance(per_view, dict):
                raise UsageError(f"{mapping} clip {clip!r}: expected an object of view -> path.")
            rows.extend((f"clip {clip!r}", clip, view, path) for view, path in per_view.items())
        return rows
    if isinstance(data, list):
        rows = []
        for n, item in enumerate(data):
            if not isinstance(item, dict):
                raise UsageError(f"{mapping} entry {n}: expected an object with clip, view and path.")
            rows.append((f"entry {n}", item.get("clip"), item.get("view"), item.get("path")))
        return rows
    raise UsageError(
        f"The view mapping {mapping} must hold a list of {{clip, view, path}} or {{clip: {{view: path}}}}."
    )


def group_views(
    paths: Iterable[str | Path] | None,
    views: Sequence[str],
    *,
    src: str | Path,
    rule: str | None = None,
    mapping: str | Path | None = None,
) -> ViewGroups:
    """Group files into clips with one file per view, by a naming ``rule`` over ``paths`` (files
    under ``src``, absolute or relative to it; others are reported as outside SRC) or by a
    ``mapping`` file (``paths`` unused). Exactly one of the two. A mapping's paths are checked
    lexically (no ``..``, inside SRC); a symlink inside SRC is followed when read, like the loaders
    do, and nothing under SRC is ever written."""
    if (rule is None) == (mapping is None):
        raise UsageError("Give either a view rule or a view mapping file, not both or neither.")
    views = tuple(views)
    if not views:
        raise UsageError("This layout has no views to group videos into.")
    root = Path(os.path.abspath(src))
    out = ViewGroups(views)
    early: dict[str, str] = {}
    if rule is not None:
        entries = _entries_from_rule(paths or (), root, parse_rule(rule, views), views, out.dropped)
    else:
        entries = []
        for clip, view, path in read_mapping(mapping, root):  # type: ignore[arg-type]
            if view not in views:
                early.setdefault(clip, f"unknown view '{view}'{_suggest(view, views)}")
                continue
            if not path.is_file():
                early.setdefault(clip, f"the file for view '{view}' ({_show(path, root)}) is not there")
            entries.append((clip, view, path))
    slots: dict[str, dict[str, set[Path]]] = {}
    users: dict[Path, set[tuple[str, str]]] = {}
    bad: dict[str, str] = dict(early)
    for clip, view, path in entries:
        problem = clip_name_problem(clip)
        if problem:
            out.dropped.append((str(path), f"clip id {clip!r} {problem}"))
            continue
        slots.setdefault(clip, {}).setdefault(view, set()).add(path)
        users.setdefault(path, set()).add((clip, view))
    for path, used in users.items():
        if len(used) > 1:
            names = ", ".join(f"{c}/{v}" for c, v in sorted(used))
            for clip, _ in used:
                bad.setdefault(clip, f"the same file {_show(path, root)} is given for {names}")
    for clip in sorted(set(slots) | set(bad)):
        per_view = slots.get(clip, {})
        if clip in bad:
            out.dropped.append((clip, bad[clip]))
            continue
        twice = {v: ps for v, ps in per_view.items() if len(ps) > 1}
        if twice:
            v, ps = next(iter(twice.items()))
            files = ", ".join(sorted(_show(p, root) for p in ps))
            out.dropped.append((clip, f"two files for view '{v}': {files}"))
            continue
        missing = [v for v in views if v not in per_view]
        if missing:
            out.dropped.append((clip, f"missing view(s) {', '.join(missing)}"))
            continue
        out.groups[clip] = {v: next(iter(per_view[v])) for v in views}
    return out


def _show(path: Path, root: Path) -> str:
    rel = _rel(path, root)
    return rel if rel is not None else str(path)


def align_frames(
    groups: ViewGroups,
    *,
    trim: bool = False,
    deep: bool = False,
    fps_must_match: bool = False,
    probe: Callable[..., VideoInfo] = probe_video,
) -> ViewGroups:
    """Probe every file of every clip and keep the clips whose views are aligned.

    Aligned: every view readable and of the same frame count (``deep`` decodes to count the real
    frames instead of trusting the container). A clip whose views differ is dropped with the
    counts in the reason, or with ``trim`` kept at the shortest view's count (recorded in
    ``trimmed``; the writer cuts every view to ``frames[clip]``). With ``fps_must_match`` (the
    HDMap loader's rule) views of different frame rates drop the clip whatever ``trim`` says.
    Returns a new :class:`ViewGroups`, the old drops first.
    """
    out = ViewGroups(groups.views, dropped=list(groups.dropped), trimmed=list(groups.trimmed))
    for clip, per_view in groups.groups.items():
        infos: dict[str, VideoInfo] = {}
        failed = None
        for view, path in per_view.items():
            try:
                info = probe(path, deep=deep)
                if info.best_frames == 0 and not deep:
                    info = probe(path, deep=True)
            except ProbeError as e:
                failed = f"view '{view}' ({path.name}) is unreadable: {e}"
                break
            infos[view] = info
        if failed:
            out.dropped.append((clip, failed))
            continue
        counts = {v: i.best_frames for v, i in infos.items()}
        if fps_must_match and len({round(i.fps, 3) for i in infos.values()}) > 1:
            rates = ", ".join(f"{v} {i.fps:g}" for v, i in infos.items())
            out.dropped.append((clip, f"views differ in frame rate ({rates}); the loader needs one rate"))
            continue
        shortest = min(counts.values())
        if shortest < 1:
            out.dropped.append((clip, "a view has no frames"))
            continue
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{v} {n}" for v, n in counts.items())
            if not trim:
                out.dropped.append(
                    (
                        clip,
                        f"views differ in frame count ({listed}); "
                        f"trim to the shortest ({shortest}) to keep it",
                    )
                )
                continue
            out.trimmed.append((clip, f"cut to {shortest} frames ({listed})"))
        out.groups[clip] = dict(per_view)
        out.frames[clip] = shortest
    return out
