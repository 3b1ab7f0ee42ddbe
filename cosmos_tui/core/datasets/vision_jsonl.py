"""Validate a Cosmos 3 vision SFT index, ``DATASET_PATH/train/video_dataset_file.jsonl``, as the
loader reads it.

Facts from cosmos-framework 5eee9ed, ``cosmos_framework/data/generator/local_datasets/
sft_dataset.py`` (the code, not ``docs/dataset_jsonl.md``, where they differ):

- ``_load_sft_metadata_from_s3`` reads the whole file and runs ``json.loads(line.decode("utf-8"))``
  on every line, so one blank, non-UTF-8 or non-JSON line stops training before it starts.
  ``uuid``, ``duration``, ``width``, ``height`` are read from every record, ``vision_path`` from
  every record that keeps a window; ``t2w_windows`` may be absent (the clip is skipped).
- Clips with ``duration > 61.0`` are dropped; windows with ``end_frame - start_frame + 1 < 61``
  (``min_frames=61``, hard-coded in ``get_sft_dataset``) are dropped; no record left: the dataset
  asserts "Did not find any data".
- A ``vision_path`` without ``://`` that does not start with ``/`` is relative to the JSONL's
  folder (``DATASET_PATH/train/``); it is read with ``Path.read_bytes``.
- The shipped recipes (``configs/base/experiment/sft/vision_sft_{nano,super,edge}.py``) use
  ``num_video_frames=-1``: each window's own ``temporal_interval`` is used (as a modulo, so it must
  be a positive integer), ``end_frame`` is inclusive and cut at ``total_frames - 1`` (ffprobe's
  stated frame count), a window starting past the end decodes nothing and is skipped every time.
- Frames are resized by the record's ``width``/``height``, so a record of another aspect ratio
  than its video stretches the frames.
- The caption is ``caption_json`` (``json.dumps`` of the object), else ``qwen3_32b_rewrite-dense``,
  else ``caption`` (``.strip()``: a non-text value crashes the worker), else one of the
  ``CAPTION_TYPES`` keys; none: the sample is skipped. Dense captions get the duration/FPS and
  resolution sentences appended. Tokens beyond ``max_caption_tokens`` (2048 in the recipes, 1024
  in the loader's default) are cut with a warning.

Token counts are estimates: the recipe tokenizes with the Qwen3-VL tokenizer, which cannot be
loaded offline here. Byte-level BPE never makes more tokens than UTF-8 bytes, so a caption whose
byte count (plus the chat template) fits is certainly not truncated; a longer one is reported when
its estimate at 3 bytes per token (English runs about 4, JSON about 3.3) exceeds the cap.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosmos_tui.core.datasets.caption_text import text_problem
from cosmos_tui.core.datasets.findings import Report, Tally, ValidationPass
from cosmos_tui.core.datasets.layouts import Layout
from cosmos_tui.core.datasets.probe import ProbeError, VideoInfo, probe_video
from cosmos_tui.core.datasets.walk import check_file, fs_finding
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.safeio import JSONL_CAP, JSONL_LINE_CAP, iter_lines_capped, regular_file

JSONL = "train/video_dataset_file.jsonl"
"""Where the recipes read the index, relative to ``DATASET_PATH``."""
MIN_WINDOW_FRAMES = 61
"""``get_sft_dataset`` passes ``min_frames=61``: shorter windows are dropped."""
MAX_DURATION_S = 61.0
"""``_load_sft_metadata_from_s3`` drops clips with ``duration > 61.0``."""
RECIPE_MAX_CAPTION_TOKENS = 2048
"""``max_caption_tokens`` in vision_sft_{nano,super,edge} (the loader's own default is 1024)."""
BYTES_PER_TOKEN = 3.0
"""The estimate's bytes per Qwen3 token (conservative: English averages about 4)."""
TEMPLATE_TOKENS = 8
"""The chat template around the caption (``<|im_start|>user``, ``<|im_end|>``,
``<|im_start|>assistant`` and their line breaks)."""
CAPTION_KEYS = ("caption_json", "qwen3_32b_rewrite-dense", "caption")
STYLE_KEYS = tuple(
    f"{m}_{s}"
    for s in ("short", "descriptive", "dense", "temporal")
    for m in ("qwen3_235b", "qwen3_32b", "qwen3p5_397b")
)
_TEXT_FIELDS = (
    "background_setting",
    "style_medium",
    "artistic_style",
    "context",
    "temporal_caption",
    "audio_description",
    "aspect_ratio",
    "duration",
)
_OBJECT_FIELDS = ("lighting", "aesthetics", "cinematography", "resolution")
_LIST_FIELDS = ("subjects", "actions", "text_and_signage_elements", "segments", "transitions")


@dataclass
class _Clip:
    """What one record says about its clip (only what the later checks need)."""

    line: int
    uuid: str
    path: str | None
    """Absolute local path of the video, or None (remote, or no windows kept)."""
    width: int
    height: int
    duration: float
    nb_frames: Any
    windows: list[tuple[int, int, int]] = field(default_factory=list)
    """``(window number, start_frame, end_frame)`` of the windows the loader keeps."""
    caption_json: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "text", int: "an integer", float: "a number"}.get(
        type(v), type(v).__name__
    )


def estimate_tokens(text: str) -> tuple[int, int]:
    """``(upper bound, estimate)`` of the Qwen3 tokens of ``text`` in the chat template."""
    n = len(text.encode("utf-8"))
    return n + TEMPLATE_TOKENS, math.ceil(n / BYTES_PER_TOKEN) + TEMPLATE_TOKENS


def caption_text(window: dict[str, Any], height: int, width: int, seconds: float, fps: float) -> str | None:
    """The text the loader tokenizes for ``window`` (before CFG dropout), or None for none."""
    key = next((k for k in CAPTION_KEYS if k in window), None)
    if key is None:
        key = next((k for k in STYLE_KEYS if k in window), None)
        if key is None:
            return None
    raw = window[key]
    if isinstance(raw, dict):
        return json.dumps(raw, ensure_ascii=False)
    if key == "caption_json":
        return str(raw).strip()
    if not isinstance(raw, str):
        return None
    text = raw.strip().rstrip(".") + "."
    text += f" The video is {seconds:.1f} seconds long and is of {fps:.0f} FPS."
    return f"{text} This video is of {height}x{width} resolution."


class _LineChecker:
    """Checks records line by line; keeps only what the video checks need."""

    def __init__(self, root: Path, train: Path, max_tokens: int, tally: Tally) -> None:
        self.root = os.path.normpath(str(root.absolute()))
        self.train = os.path.normpath(str(train.absolute()))
        self.max_tokens = max_tokens
        self.tally = tally
        self.uuids: dict[str, int] = {}
        self.clips: list[_Clip] = []
        self.records = 0

    def add(self, fid: str, line: int, detail: str) -> None:
        self.tally.add(fid, f"line {line}: {detail}", subject=f"line {line}")

    def line(self, number: int, raw: bytes | None) -> None:
        self.records += 1
        if raw is None:
            self.add("jsonl-line-too-long", number, f"longer than {JSONL_LINE_CAP >> 20} MiB")
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.add("jsonl-bad-line", number, f"not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})")
            return
        if not text.strip():
            self.add("jsonl-bad-line", number, "a blank line (json.loads fails on it)")
            return
        try:
            record = json.loads(text)
        except ValueError as e:
            self.add("jsonl-bad-line", number, f"not JSON ({getattr(e, 'msg', e)})")
            return
        if not isinstance(record, dict):
            self.add("jsonl-bad-line", number, f"{_kind(record)}, not a JSON object")
            return
        self.record(number, record)

    def bad(self, number: int, name: str, value: Any, want: str) -> None:
        if value is _MISSING:
            got = "missing"
        elif _is_number(value):
            got = repr(value)
        else:
            got = _kind(value)
        self.add("jsonl-bad-field", number, f"{name} is {got}, expected {want}")

    def record(self, n: int, r: dict[str, Any]) -> None:
        ok = True
        uuid = r.get("uuid", _MISSING)
        if not isinstance(uuid, str) or not uuid:
            self.bad(n, "uuid", uuid, "non-empty text")
            ok = False
        elif uuid in self.uuids:
            self.add("jsonl-duplicate-uuid", n, f"uuid {uuid!r} is also on line {self.uuids[uuid]}")
        else:
            self.uuids[uuid] = n
        duration = r.get("duration", _MISSING)
        if not _is_number(duration):
            self.bad(n, "duration", duration, "a finite number of seconds")
            ok = False
        for name in ("width", "height"):
            v = r.get(name, _MISSING)
            if not _is_int(v) or v <= 0:
                self.bad(n, name, v, "a positive integer")
                ok = False
        if not ok:
            return
        if duration > MAX_DURATION_S:
            self.add("jsonl-clip-too-long", n, f"duration {duration:g} s > {MAX_DURATION_S:g} s")
            return
        windows = r.get("t2w_windows")
        if not windows:
            self.add("jsonl-no-windows", n, f"uuid {uuid!r}")
            return
        if not isinstance(windows, list):
            self.bad(n, "t2w_windows", windows, "a list of window objects")
            return
        clip = _Clip(n, uuid, None, r["width"], r["height"], float(duration), r.get("nb_frames"))
        for i, w in enumerate(windows):
            self.window(n, i, w, clip)
        if not clip.windows:
            return
        vp = r.get("vision_path", _MISSING)
        if not isinstance(vp, str) or not vp:
            self.bad(n, "vision_path", vp, "a path to the video (text)")
            return
        if "\x00" in vp:
            self.add("jsonl-bad-field", n, "vision_path holds a NUL byte")
            return
        if "://" in vp:
            self.add("vision-path-remote", n, vp)
            return
        path = vp if vp.startswith("/") else f"{self.train}/{vp}"
        norm = os.path.normpath(path)
        if os.path.commonpath([norm, self.root]) != self.root:
            self.add("vision-path-outside", n, f"{vp} resolves to {norm}, outside {self.root}")
        clip.path = norm
        self.clips.append(clip)

    def window(self, n: int, i: int, w: Any, clip: _Clip) -> None:
        where = f"t2w_windows[{i}]"
        if not isinstance(w, dict):
            self.bad(n, where, w, "a window object")
            return
        fields_ok = True
        for name in ("start_frame", "end_frame", "temporal_interval"):
            v = w.get(name, _MISSING)
            low = 1 if name == "temporal_interval" else 0
            if not _is_int(v) or v < low:
                self.bad(n, f"{where}.{name}", v, "an integer >= 1" if low else "an integer >= 0")
                fields_ok = False
        if not fields_ok:
            return
        start, end = w["start_frame"], w["end_frame"]
        if end - start + 1 < MIN_WINDOW_FRAMES:
            self.add(
                "jsonl-window-too-short",
                n,
                f"{where} spans frames {start}-{end} ({end - start + 1} < {MIN_WINDOW_FRAMES})",
            )
            return
        text = caption_text(w, clip.height, clip.width, clip.duration, 24.0)
        if text is None:
            keys = [k for k in (*CAPTION_KEYS, *STYLE_KEYS) if k in w]
            why = f"{keys[0]} is {_kind(w[keys[0]])}, not text" if keys else "no caption_json or caption"
            self.add("jsonl-no-caption", n, f"{where}: {why}")
            return
        self.caption(n, where, w, text)
        clip.windows.append((i, start, end))
        cj = w.get("caption_json")
        if isinstance(cj, dict):
            clip.caption_json.append((i, cj))

    def caption(self, n: int, where: str, w: dict[str, Any], text: str) -> None:
        cj = w.get("caption_json", _MISSING)
        if cj is not _MISSING and not isinstance(cj, dict):
            self.add(
                "caption-json-field",
                n,
                f"{where}.caption_json is {_kind(cj)}; the loader trains on str() of it",
            )
        if text.strip(". ") in ("", "{}", "None"):
            self.add("jsonl-no-caption", n, f"{where}: the caption is empty ({text[:20]!r})")
            return
        problem = text_problem(text)
        if problem:
            self.tally.add("caption-control-chars", f"line {n}: {where}: {problem}", subject=f"line {n}")
        bound, estimate = estimate_tokens(text)
        if bound > self.max_tokens and estimate > self.max_tokens:
            self.add(
                "caption-too-long",
                n,
                f"{where}: ~{estimate} tokens (estimated at {BYTES_PER_TOKEN:g} UTF-8 bytes a token; "
                f"the Qwen3-VL tokenizer is not loaded offline) > max_caption_tokens {self.max_tokens}",
            )
        if isinstance(cj, dict):
            for name, v in cj.items():
                want = (
                    "text"
                    if name in _TEXT_FIELDS
                    else "an object"
                    if name in _OBJECT_FIELDS
                    else "a list"
                    if name in _LIST_FIELDS
                    else "an integer"
                    if name == "fps"
                    else None
                )
                types = {"text": str, "an object": dict, "a list": list}
                if want is None or v is None:
                    continue
                good = _is_int(v) if want == "an integer" else isinstance(v, types[want])
                if not good:
                    self.add(
                        "caption-json-field", n, f"{where}.caption_json.{name} is {_kind(v)}, expected {want}"
                    )


class _Missing:
    """A field absent from the record."""


_MISSING = _Missing()


def _probe(path: str, rel: str, deep: bool) -> tuple[VideoInfo | None, list[tuple[str, str]]]:
    out: list[tuple[str, str]] = []
    if not os.path.lexists(path):
        return None, [("vision-path-missing", rel)]
    try:
        regular_file(path, what="video")  # /dev/zero, a FIFO, a folder, a symlink loop
    except FileNotFoundError:
        pass  # a broken link: check_file names its target
    except OSError as e:
        return None, [fs_finding(e, rel)]
    if not check_file(path, rel, out):
        return None, out
    try:
        return probe_video(path, deep=deep), out
    except ProbeError as e:
        return None, [("broken-video", f"{rel}: {e}")]
    except OSError as e:
        return None, [fs_finding(e, rel)]


def _check_video(checker: _LineChecker, clip: _Clip, info: VideoInfo) -> None:
    n = clip.line
    frames = info.best_frames
    if clip.width * info.height != clip.height * info.width:
        declared, real = clip.width / clip.height, info.width / info.height
        fid = "jsonl-aspect-mismatch" if abs(declared / real - 1) > 0.01 else "jsonl-size-mismatch"
        checker.add(
            fid, n, f"record says {clip.width}x{clip.height} (WxH), the video is {info.width}x{info.height}"
        )
    elif (clip.width, clip.height) != (info.width, info.height):
        checker.add(
            "jsonl-size-mismatch",
            n,
            f"record says {clip.width}x{clip.height}, the video is {info.width}x{info.height}",
        )
    if info.fps and frames:
        seconds = frames / info.fps
        if abs(seconds - clip.duration) > max(0.5, 0.05 * seconds):
            checker.add(
                "jsonl-size-mismatch", n, f"duration {clip.duration:g} s, the video lasts {seconds:.2f} s"
            )
    if _is_int(clip.nb_frames) and frames and clip.nb_frames != frames:
        checker.add("jsonl-size-mismatch", n, f"nb_frames {clip.nb_frames}, the video has {frames}")
    if not frames:
        checker.tally.add("frame-count-unknown", f"line {n}: {clip.path}", subject=f"line {n}")
        return
    for i, start, end in clip.windows:
        if start > frames - 1:
            checker.add(
                "jsonl-window-outside",
                n,
                f"t2w_windows[{i}] starts at frame {start}; the video has {frames} frames",
            )
        elif end > frames - 1:
            checker.add(
                "jsonl-window-clamped",
                n,
                f"t2w_windows[{i}] ends at frame {end}; the video has {frames} (0-{frames - 1})",
            )
    for i, cj in clip.caption_json:
        res = cj.get("resolution")
        if isinstance(res, dict) and (res.get("H"), res.get("W")) != (info.height, info.width):
            checker.add(
                "caption-json-field",
                n,
                f"t2w_windows[{i}].caption_json.resolution is {res}, "
                f"the video is H={info.height} W={info.width}",
            )
        fps = cj.get("fps")
        if _is_int(fps) and info.fps and abs(fps - info.fps) > 0.5:
            checker.add(
                "caption-json-field",
                n,
                f"t2w_windows[{i}].caption_json.fps is {fps}, the video has {info.fps:g}",
            )


def validate_vision_jsonl(
    root: Path,
    spec: Layout,
    *,
    experiment: str | None,
    need: int,
    deep: bool = False,
    workers: int | None = None,
    max_caption_tokens: int | None = None,
) -> Report:
    """Validate ``root/train/video_dataset_file.jsonl`` and the videos it names (see the module doc)."""
    checking = ValidationPass(root, spec.id, experiment, need, deep)
    if max_caption_tokens is not None and max_caption_tokens < 1:
        raise UsageError(f"--max-caption-tokens must be at least 1, not {max_caption_tokens}.")
    tally = Tally()
    path = root / JSONL
    checker = _LineChecker(root, path.parent, max_caption_tokens or RECIPE_MAX_CAPTION_TOKENS, tally)
    if not os.path.lexists(path):
        tally.add("jsonl-missing", JSONL)
    else:
        try:
            for number, raw in iter_lines_capped(path, JSONL_CAP, JSONL_LINE_CAP, what="JSONL index"):
                checker.line(number, raw)
        except OSError as e:
            tally.add(*fs_finding(e, JSONL))
        else:
            if checker.records == 0:
                tally.add("empty-file", JSONL)
            elif not checker.clips and not tally.counts["jsonl-bad-line"]:
                tally.add("jsonl-no-usable-windows", f"{JSONL}: {checker.records} record(s), none kept")
    paths = sorted({c.path for c in checker.clips if c.path})
    base = os.path.normpath(str(root.absolute()))

    def rel(p: str) -> str:
        return os.path.relpath(p, base) if os.path.commonpath([p, base]) == base else p

    n = max(1, workers or min(16, 2 * (os.cpu_count() or 1)))
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="validate") as pool:
        results = dict(zip(paths, pool.map(lambda p: _probe(p, rel(p), deep), paths), strict=True))
    reported: set[str] = set()
    for clip in checker.clips:
        info, found = results[clip.path]  # type: ignore[index]
        if clip.path not in reported:
            reported.add(clip.path)  # type: ignore[arg-type]
            for fid, detail in found:
                checker.add(fid, clip.line, detail)
        if info is not None:
            _check_video(checker, clip, info)
    return checking.report(tally, clips=checker.records, videos=len(paths))
