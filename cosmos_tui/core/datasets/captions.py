"""Which caption file the loader reads for a clip, and what text it takes from it, per layout.

The loaders differ, and each one's rule is applied exactly (layouts.py names the rule):

- Transfer2.5 single-view (``singleview_dataset.py``): the caption folder is ``captions/`` when
  that path exists at all, else ``metas/``; in it ``<name>.json`` (``caption``, else ``text``,
  else ``prompt``), then ``<name>.txt``. A clip with neither, or whose file fails to load, is
  trained on the caption ``"a video"``, so ``metas/*.txt`` beside a ``captions/`` folder is never read.
- Predict2.5 (``dataset_video.py``): one format for the whole set. Any ``*.json`` name in
  ``captions/`` switches every clip to ``captions/<name>.json`` (the first key's object of
  prompts: ``{"<model>": {"long", "short", "medium"}}``); else ``metas/<name>.txt``; else the
  loader raises. An experiment may force JSON (the LoRA json experiment, prompt ``long``). A
  missing or unreadable caption trains the clip on an empty caption.
- Transfer2.5 HDMap: one source, read as it is.

:func:`plan_captions` settles the dataset-wide choice from the folder listings; :func:`check_clip`
follows one clip through it and reports what the loader would do.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.datasets.caption_text import decode_problem, text_problem
from cosmos_tui.core.datasets.layouts import CaptionSource, CaptionSpec, Layout
from cosmos_tui.core.datasets.names import companion_stem
from cosmos_tui.core.datasets.walk import Report, check_file, fs_finding, scan_entries
from cosmos_tui.core.safeio import CAPTION_CAP, ReadRefused, read_text_capped

Findings = list[tuple[str, str]]
STAND_IN = "stand-in-caption"
"""The finding id of clips the loader trains on its fallback caption."""


@dataclass(frozen=True)
class CaptionPlan:
    """The caption files the loader reads for this dataset and experiment."""

    spec: CaptionSpec
    read: tuple[CaptionSource, ...]
    """Sources the loader tries for each clip, in order (empty when it refuses to start)."""
    present: dict[str, dict[str, str]]
    """Per source folder that exists: entry name -> kind (``file``, ``dir``, ``broken``, ``other``)."""
    exists: frozenset[str]
    """Source folders (or files standing in their place) that exist under the root."""
    why: str
    """Why the loader reads ``read`` (for details), e.g. ``captions/ exists``."""
    prompt_type: str | None = None
    """The JSON prompt key the experiment asks for."""

    def stem_present(self, src: CaptionSource, stem: str) -> str | None:
        """The kind of ``<src.folder>/<stem><src.ext>`` when it exists, else None."""
        return self.present.get(src.folder, {}).get(f"{stem}{src.ext}")

    def unread(self) -> tuple[CaptionSource, ...]:
        """Sources holding files that the loader never opens under this plan."""
        read = set(self.read)
        return tuple(
            s
            for s in self.spec.sources
            if s not in read and any(n.endswith(s.ext) for n in self.present.get(s.folder, {}))
        )


def fallback_title(spec: CaptionSpec, clips: int) -> str:
    """The stand-in finding's title: what upstream trains these clips on."""
    what = "an empty caption ('')" if spec.fallback == "" else f"the caption '{spec.fallback}'"
    return f"upstream will train {clips} clip{'s' if clips != 1 else ''} on {what}"


def plan_captions(
    root: Path, layout: Layout, experiment: str | None, report: Report
) -> tuple[CaptionPlan | None, str | None]:
    """The loader's caption choice for ``root``, and why it refuses to start (a ``no-captions``
    example) if it does. File-system errors while listing are reported through ``report``."""
    spec = layout.captions
    if spec is None:
        return None, None
    folders = list(dict.fromkeys(s.folder for s in spec.sources))
    exists = frozenset(f for f in folders if (root / f).exists())  # os.path.exists: a broken link is not
    present: dict[str, dict[str, str]] = {}
    for folder in folders:
        if (root / folder).is_dir():
            present[folder] = {e.name: e.kind for e in scan_entries(root / folder, folder, report)}

    def plan(read: tuple[CaptionSource, ...], why: str, prompt: str | None = None) -> CaptionPlan:
        return CaptionPlan(spec, read, present, exists, why, prompt)

    if spec.rule == "fixed":
        return plan(spec.sources, "the loader reads only these"), None
    if spec.rule == "first-folder":
        chosen = next((f for f in folders if f in exists), folders[-1])
        why = f"{chosen}/ exists" if chosen in exists else f"no {folders[0]}/"
        return plan(tuple(s for s in spec.sources if s.folder == chosen), why), None
    # format-switch: one format for every clip
    json_src = next(s for s in spec.sources if s.ext == ".json")
    text_src = next(s for s in spec.sources if s.ext == ".txt")
    fmt = spec.format_for(experiment)

    def holds(src: CaptionSource) -> bool:
        return src.folder in exists and any(n.endswith(src.ext) for n in present.get(src.folder, {}))

    if fmt.format == "auto" and json_src.folder in exists and json_src.folder not in present:
        return None, f"{json_src.folder} is not a folder (the loader lists it and stops)"
    if fmt.format == "json" or (fmt.format == "auto" and holds(json_src)):
        if json_src.folder not in exists:
            return None, f"no {json_src.folder}/ (this experiment reads JSON captions only)"
        why = (
            "this experiment reads JSON captions"
            if fmt.format == "json"
            else f"{json_src.folder}/ holds *{json_src.ext} files, so every clip reads JSON"
        )
        return plan((json_src,), why, fmt.prompt_type), None
    if fmt.format == "text" or holds(text_src):
        if text_src.folder not in exists:
            return None, f"no {text_src.folder}/ (this experiment reads text captions only)"
        return plan((text_src,), f"no *{json_src.ext} in {json_src.folder}/"), None
    return None, f"neither {json_src.folder}/*{json_src.ext} nor {text_src.folder}/*{text_src.ext}"


def orphans(plan: CaptionPlan, stems: set[str]) -> list[str]:
    """Caption files the loader reads from that belong to no clip (hidden names aside)."""
    out = []
    for src in plan.read:
        for name in sorted(plan.present.get(src.folder, {})):
            if name.endswith(src.ext) and not name.startswith(".") and name[: -len(src.ext)] not in stems:
                out.append(f"{src.folder}/{name}")
    return out


def check_clip(root: Path, layout: Layout, plan: CaptionPlan, clip: str, out: Findings) -> None:
    """Follow ``clip`` through the loader's caption lookup; append what is wrong to ``out``."""
    spec = plan.spec
    tried: list[str] = []
    failed: list[str] = []
    for src in plan.read:
        stem = companion_stem(clip, src.ext, layout.names)
        rel = f"{src.folder}/{stem}{src.ext}"
        tried.append(rel)
        kind = plan.stem_present(src, stem)
        if kind is None:
            continue
        if kind == "other":
            return  # a FIFO, a device, a loop: reported while listing; the loader would hang or stop
        outcome = read_caption(root / rel, rel, src, plan.prompt_type, out)
        if outcome is _UNKNOWN:
            return
        if outcome is not None:
            return  # the loader has its caption (its text was checked)
        failed.append(rel)
        if spec.rule == "format-switch":
            break  # no second chance: the loader's except branch returns the fallback
    if spec.fallback is None:
        if not failed:
            wanted = " or ".join(tried)
            out.append(("missing-caption", f"{clip}: no {wanted} ({spec.missing_note})"))
        return
    if failed:
        detail = f"the loader gets no caption from {', '.join(failed)} (see the finding on that file)"
    else:
        detail = f"no {' or '.join(tried)}"
    ignored = [
        f"{s.folder}/{companion_stem(clip, s.ext, layout.names)}{s.ext}"
        for s in plan.unread()
        if plan.stem_present(s, companion_stem(clip, s.ext, layout.names)) is not None
    ]
    if ignored:
        detail += f"; {', '.join(ignored)} is never read ({plan.why})"
    elif plan.why and not failed:
        detail += f" ({plan.why})"
    out.append((STAND_IN, f"{clip}: {detail}"))


class _Unknown:
    """The file could not be looked at safely (too large, not a regular file): no verdict."""


_UNKNOWN = _Unknown()


def read_caption(
    path: Path, rel: str, src: CaptionSource, prompt_type: str | None, out: Findings
) -> str | _Unknown | None:
    """The text the loader takes from ``path``, or None when its read fails (it falls back)."""
    if not check_file(path, rel, out):
        # broken link, empty: the loader's open or parse fails too. Permission: the training user
        # may be another one, so no verdict on what that user's loader reads.
        return _UNKNOWN if out[-1][0] == "permission-denied" else None
    try:
        text = read_text_capped(path, CAPTION_CAP, what="caption")
    except UnicodeDecodeError as e:
        out.append(("caption-not-utf8", f"{rel}: {decode_problem(e)}"))
        return None
    except ReadRefused as e:
        out.append(fs_finding(e, rel))
        return None if e.errno == errno.EISDIR else _UNKNOWN  # a folder: the loader's open fails
    except OSError as e:  # permission, loop, I/O error
        out.append(fs_finding(e, rel))
        return _UNKNOWN if out[-1][0] == "permission-denied" else None
    if src.ext != ".json":
        return _text_caption(text, rel, out).strip()  # the loader strips (checked unstripped)
    if src.json_schema == "model-prompts":
        return _model_prompts(text, rel, prompt_type, out)
    return _keyed(text, rel, src.json_keys, out)


def _text_caption(text: str, rel: str, out: Findings) -> str:
    if not text.strip():
        out.append(("bad-caption", f"{rel}: only whitespace"))
    else:
        problem = text_problem(text)
        if problem:
            out.append(("caption-control-chars", f"{rel}: {problem}"))
    return text


def _keyed(text: str, rel: str, keys: tuple[str, ...], out: Findings) -> str | None:
    """A flat JSON object: the first of ``keys`` present (Transfer2.5, HDMap)."""
    if not text.strip():
        out.append(("bad-caption", f"{rel}: only whitespace"))
        return None
    try:
        obj = json.loads(text)
    except ValueError as e:
        out.append(("bad-caption", f"{rel}: not JSON ({getattr(e, 'msg', e)})"))
        return None
    if not isinstance(obj, dict) or not obj:
        out.append(("bad-caption", f"{rel}: expected a JSON object"))
        return str(obj)  # the loader trains on the repr
    value = next((obj[k] for k in keys if k in obj), "")
    if not isinstance(value, str) or not value.strip():
        out.append(("bad-caption", f"{rel}: no non-empty {' / '.join(keys)} key"))
        return value if isinstance(value, str) else str(value)
    return _text_caption(value, rel, out)


def _model_prompts(text: str, rel: str, prompt_type: str | None, out: Findings) -> str | None:
    """Predict2.5's ``{"<model>": {"<prompt type>": text}}``: the first key's object, the asked-for
    prompt in it, else its first one. Whatever fails there, the loader trains on an empty caption."""
    schema = '{"<model>": {"long": ..., "short": ..., "medium": ...}}'
    body = text.strip()
    try:
        data = json.loads(body if body.startswith("{") else "{" + body + "}")  # as the loader wraps it
    except ValueError as e:
        out.append(("bad-caption", f"{rel}: not JSON ({getattr(e, 'msg', e)})"))
        return None
    if not isinstance(data, dict) or not data:
        out.append(("bad-caption", f"{rel}: an empty JSON object (expected {schema})"))
        return None
    model, prompts = next(iter(data.items()))
    if not isinstance(prompts, dict) or not prompts:
        out.append(
            (
                "bad-caption",
                f"{rel}: the first key {json.dumps(model)} holds {_kind(prompts)}, not prompts "
                f"(expected {schema})",
            )
        )
        return None
    value = prompts[prompt_type] if prompt_type in prompts else next(iter(prompts.values()))
    which = prompt_type if prompt_type in prompts else next(iter(prompts))
    if not isinstance(value, str):
        out.append(("bad-caption", f"{rel}: prompt {json.dumps(which)} holds {_kind(value)}, not text"))
        return None
    if not value.strip():
        out.append(("bad-caption", f"{rel}: prompt {json.dumps(which)} is empty"))
        return value
    problem = text_problem(value)
    if problem:
        out.append(("caption-control-chars", f"{rel}: {problem}"))
    return value


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an empty object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"a {type(value).__name__}"
