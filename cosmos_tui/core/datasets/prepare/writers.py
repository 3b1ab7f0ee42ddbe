"""Where a prepared window and its caption go, per layout, in exactly the form the loader reads.

- ``predict25-video2world``: ``videos/<name>.mp4`` and ``metas/<name>.txt`` (text captions), or
  ``captions/<name>.json`` = ``{"<model>": {"long", "short", "medium"}}`` (JSON captions: the
  default for an experiment that forces them, or ``--caption-format json``).
- ``transfer25-singleview``: ``videos/<name>.mp4`` and ``captions/<name>.json`` = ``{"caption": ...}``.
- ``cosmos3-vision-jsonl``: ``train/videos/<name>.mp4`` and one record a window in
  ``train/video_dataset_file.jsonl`` (``vision_path`` relative to ``train/``, a ``caption_json``
  and the dense ``caption``), written once every window is known.

- ``transfer25-multiview-hdmap`` / ``predict1-waymo`` (only when the job has a view grouping,
  ``views.py``): ``videos/<view folder>/<name>.mp4`` per camera; the HDMap rig's caption at
  ``captions/ftheta_camera_front_wide_120fov/<name>.json``; controls and T5 embeddings come from
  the job's per-window steps.

The JSON and text formats are those the synthesizer writes (``synth.caption_object``,
``synth_cosmos3.vision_record``): one writer per format. LeRobot sets are recorded episodes with
actions, so they are refused here with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.layouts import Layout, get_layout
from cosmos_tui.core.datasets.prepare.clips import Window
from cosmos_tui.core.datasets.prepare.sources import Caption
from cosmos_tui.core.datasets.synth import caption_object
from cosmos_tui.core.datasets.synth_cosmos3 import aspect_ratio, vision_record
from cosmos_tui.core.datasets.vision_jsonl import JSONL, MAX_DURATION_S
from cosmos_tui.core.errors import UsageError

CaptionFormat = Literal["auto", "text", "json"]
MODEL_KEY = "cosmos-tui"
"""The model key of a Predict2.5 JSON caption (the loader reads the first key's prompts)."""


@dataclass(frozen=True)
class LayoutWriter:
    """Paths and caption files of one layout (picklable: it travels to the worker processes)."""

    layout_id: str
    video_folder: str
    """Folder of the clip mp4s, under OUT."""
    caption_path: str | None
    """``<folder>/{name}<ext>`` of the caption file, or None (Cosmos 3: captions in the index)."""
    caption_kind: Literal["txt", "keys", "model-prompts", "jsonl", "none"]
    outputs: tuple[str, ...]
    """Top-level folders under OUT the job writes (``--fresh`` clears exactly these)."""
    max_seconds: float | None = None
    view_dirs: tuple[tuple[str, str], ...] = ()
    """Multiview: (view, folder) in the loader's order; the videos go to ``<video_folder>/<folder>/``."""

    @property
    def layout(self) -> Layout:
        return get_layout(self.layout_id)

    def video_path(self, out: Path, name: str, view: str | None = None) -> Path:
        if view is None:
            return out / self.video_folder / f"{name}.mp4"
        return out / self.video_folder / dict(self.view_dirs)[view] / f"{name}.mp4"

    def write_caption(self, out: Path, name: str, caption: Caption) -> Path | None:
        """Write the caption file of window ``name``; returns it (None when the index holds it)."""
        if self.caption_path is None:
            return None
        path = out / self.caption_path.format(name=name)
        if self.caption_kind == "txt":
            data = caption.text + "\n"
        else:
            src = next(s for s in self.layout.captions.sources if s.ext == ".json")  # type: ignore[union-attr]
            obj = caption_object(src, caption.text, model=MODEL_KEY, prompts=caption.prompts())
            data = json.dumps(obj, ensure_ascii=False) + "\n"
        paint.put(path, data, out)
        return path

    def record(self, name: str, window: Window, caption: Caption) -> dict[str, Any] | None:
        """The index record of window ``name`` (Cosmos 3), else None."""
        if self.caption_kind != "jsonl":
            return None
        h, w = window.size
        seconds = window.frames / window.fps
        structured = caption.structured
        if structured is None:  # the person's text as a StructuredCaption (the loader prefers it)
            structured = {
                "temporal_caption": caption.text,
                "resolution": {"H": h, "W": w},
                "aspect_ratio": aspect_ratio(h, w),
                "duration": f"{round(seconds)}s",
                "fps": round(window.fps),
            }
        return vision_record(
            name,
            f"videos/{name}.mp4",
            frames=window.frames,
            fps=window.fps,
            size=(h, w),
            caption=caption.text,
            caption_json=structured,
        )

    def finish(self, out: Path, records: list[dict[str, Any]]) -> None:
        """Write what needs every window (Cosmos 3's index), atomically."""
        if self.caption_kind != "jsonl":
            return
        lines = [json.dumps(r, ensure_ascii=False) for r in sorted(records, key=lambda r: r["uuid"])]
        paint.put(out / JSONL, "".join(line + "\n" for line in lines), out)


def writer_for(
    layout_id: str, experiment: str | None, caption_format: CaptionFormat = "auto", *, multiview: bool = False
) -> LayoutWriter:
    """The writer of ``layout_id``; a :class:`UsageError` for layouts not prepared from raw videos
    (the multiview ones unless ``multiview``: the job has a view grouping)."""
    layout = get_layout(layout_id)
    if layout.views and not multiview:
        raise UsageError(
            f"data prepare cannot build {layout_id} yet: it needs the raw videos grouped per camera "
            f"({', '.join(layout.view_dirs())}) and "
            + ("T5 embeddings" if layout.embeddings else "HDMap control videos")
            + "; prepare a single-view layout, or build this one by hand and run data validate."
        )
    if layout.format == "lerobot-v3":
        raise UsageError(
            "data prepare does not build lerobot-v3: a LeRobot set is recorded robot episodes "
            "(actions and states per frame in parquet), which raw videos do not hold; convert "
            "your recordings with LeRobot's own tools, then run data validate."
        )
    if caption_format != "auto" and layout_id != "predict25-video2world":
        raise UsageError(
            f"--caption-format is for predict25-video2world (text or json); {layout_id} has one format."
        )
    if layout.views:
        if caption_format != "auto":
            raise UsageError(f"--caption-format is for predict25-video2world; {layout_id} has one format.")
        views = tuple(zip(layout.views, layout.view_dirs(), strict=True))
        folders = tuple(dict.fromkeys(vs.folder for vs in layout.videos))
        if layout.captions is not None:  # the HDMap rig: the front-wide camera's caption
            src = layout.captions.sources[0]
            top = src.folder.split("/")[0]
            path = f"{src.folder}/{{name}}{src.ext}"
            return LayoutWriter(
                layout_id, layout.video.folder, path, "keys", (*folders, top), view_dirs=views
            )
        extra = (layout.embeddings.clip_folder, layout.embeddings.prefix_folder) if layout.embeddings else ()
        return LayoutWriter(layout_id, layout.video.folder, None, "none", (*folders, *extra), view_dirs=views)
    if layout.format == "vision-jsonl":
        return LayoutWriter(layout_id, "train/videos", None, "jsonl", ("train",), max_seconds=MAX_DURATION_S)
    if layout_id == "transfer25-singleview":
        return LayoutWriter(layout_id, "videos", "captions/{name}.json", "keys", ("videos", "captions"))
    if layout_id == "predict25-video2world":
        assert layout.captions is not None
        forced = layout.captions.format_for(experiment).format
        fmt = caption_format if caption_format != "auto" else ("json" if forced == "json" else "text")
        if forced != "auto" and fmt != forced:
            raise UsageError(
                f"experiment {experiment} reads {forced} captions; drop --caption-format {caption_format}."
            )
        if fmt == "json":
            return LayoutWriter(
                layout_id, "videos", "captions/{name}.json", "model-prompts", ("videos", "captions")
            )
        return LayoutWriter(layout_id, "videos", "metas/{name}.txt", "txt", ("videos", "metas"))
    raise UsageError(f"data prepare does not know how to write layout {layout_id} yet.")
