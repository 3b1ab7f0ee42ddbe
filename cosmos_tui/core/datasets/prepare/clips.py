"""One raw video into training windows: probe, find scene cuts, cut windows of N frames that never
cross a cut, resize and centre-crop (or pad) to the experiment's resolution, encode H.264.

The video is decoded once, frame by frame, and only the window being filled is held in memory
(N frames at the output size), so a long source costs no more memory than a short one. A cut is
where the mean absolute difference of consecutive frames, on a coarse grid of the scaled frame
(0-255), exceeds the threshold; the partial window before a cut is discarded. Each window is
written through :func:`~cosmos_tui.core.datasets.paint.write_mp4` (a temp name, then a rename), at
the source's frame rate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Literal

from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.probe import ProbeError, VideoInfo, probe_video

Fit = Literal["crop", "pad"]
_GRID = 24
"""Cut detection compares frames sampled on a grid of about this many points a side."""


class Dropped(Exception):
    """The clip yields no window; the message is the reason (``too short: ...``)."""


@dataclass(frozen=True)
class ClipSettings:
    """How every clip of a job is cut and encoded."""

    frames: int
    """Frames per window (what the experiment's loader needs)."""
    size: tuple[int, int] | None
    """Output (H, W); ``None``: the source's size (made even)."""
    fit: Fit = "crop"
    """``crop``: scale to cover, then centre-crop; ``pad``: scale to fit, then pad with black."""
    max_crop: float = 0.25
    """With ``crop``, a clip whose crop would lose more than this fraction of its picture is dropped."""
    scene_threshold: float | None = 30.0
    """Mean absolute frame difference (0-255) that counts as a scene cut; ``None``: no detection."""
    max_windows: int | None = None
    """Most windows taken from one clip; ``None``: every whole window."""
    max_seconds: float | None = None
    """Longest a window may last (Cosmos 3 drops clips over 61 s)."""
    crf: int = 18
    preset: str = "veryfast"


@dataclass(frozen=True)
class Window:
    """One window written as an mp4."""

    index: int
    """Its number within the clip (0, 1, ...)."""
    start: int
    """The source frame it starts at."""
    frames: int
    fps: float
    size: tuple[int, int]
    """(H, W) as written."""
    path: Path


def crop_loss(src: tuple[int, int], dst: tuple[int, int]) -> float:
    """The fraction of a ``src`` (H, W) picture a centre-crop to ``dst``'s aspect ratio cuts away."""
    a, b = src[1] / src[0], dst[1] / dst[0]
    return 1.0 - min(a / b, b / a)


def _quarter_turns(path: Path) -> int:
    """How many quarter turns (counter-clockwise, as FFmpeg's autorotate) show ``path`` upright:
    its first frame's display matrix, 0 when it has none or cannot be decoded."""
    import av  # deferred: av (PyAV), only when a video is read or written

    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(container.streams.video[0]), None)
            rotation = int(getattr(frame, "rotation", 0) or 0)
    except (av.error.FFmpegError, OSError, StopIteration, IndexError):
        return 0
    return round(rotation / 90) % 4


def _even(n: int) -> int:
    return max(2, n - n % 2)


@dataclass
class ClipCutter:
    """Cuts one source video; iterate :meth:`windows`, then read what it found."""

    path: Path
    settings: ClipSettings
    target: Callable[[int], Path]
    """Where window ``i`` is written."""
    root: Path
    """The folder the job owns (every write is checked to stay inside it)."""
    starts: tuple[tuple[int, int], ...] | None = None
    """``(window index, start frame)`` to cut at instead of finding windows (the other views of a
    multiview clip follow its first view's windows)."""
    info: VideoInfo | None = None
    frames_read: int = 0
    cuts: list[int] = field(default_factory=list)
    """Source frame numbers where a new shot starts."""
    longest_shot: int = 0
    note: str | None = None
    """A problem met after some windows were written (kept), e.g. a decode error near the end."""
    turns: int = 0
    """Quarter turns counter-clockwise that show the stored frames upright (the display matrix)."""

    def check(self) -> VideoInfo:
        """Probe the clip; :class:`Dropped` when it is unreadable, too short or of the wrong aspect."""
        s = self.settings
        try:
            info = probe_video(self.path)
        except ProbeError as e:
            raise Dropped(f"unreadable: {e}") from None
        if info.width < 2 or info.height < 2:
            raise Dropped(f"unreadable: frame size {info.width}x{info.height}")
        self.turns = _quarter_turns(self.path)
        if self.turns % 2:  # a phone's portrait clip: stored sideways, shown upright
            info = replace(info, width=info.height, height=info.width)
        if info.fps <= 0:
            raise Dropped("unreadable: the container states no frame rate")
        if info.frames and info.frames < s.frames:
            raise Dropped(f"too short: {info.frames} frames < {s.frames} needed")
        if s.max_seconds is not None and s.frames / info.fps > s.max_seconds:
            raise Dropped(
                f"too slow: {s.frames} frames at {info.fps:g} fps last {s.frames / info.fps:.0f} s, "
                f"over the loader's {s.max_seconds:g} s"
            )
        if s.size is not None and s.fit == "crop":
            loss = crop_loss((info.height, info.width), s.size)
            if loss > s.max_crop:
                raise Dropped(
                    f"wrong aspect: {info.width}x{info.height} cropped to {s.size[1]}x{s.size[0]} would "
                    f"lose {loss:.0%} of the picture (more than {s.max_crop:.0%}; --fit pad keeps it all)"
                )
        self.info = info
        return info

    def _geometry(self, info: VideoInfo) -> tuple[tuple[int, int], tuple[int, int]]:
        """(scaled (H, W), output (H, W))."""
        s = self.settings
        if s.size is None:
            out = (_even(info.height), _even(info.width))
            return out, out
        h, w = s.size
        scale = (max if s.fit == "crop" else min)(h / info.height, w / info.width)
        sh, sw = round(info.height * scale), round(info.width * scale)
        if s.fit == "crop":
            return (max(h, sh), max(w, sw)), (h, w)
        return (min(h, max(1, sh)), min(w, max(1, sw))), (h, w)

    def windows(self) -> Iterator[Window]:
        """Decode the clip once and write each whole window as it fills; yields each written."""
        import av  # deferred: av (PyAV), only when a video is read or written
        import numpy as np  # deferred: numpy, only for frames
        from av.video.reformatter import VideoReformatter  # deferred: av (PyAV)

        info = self.info or self.check()
        s = self.settings
        (sh, sw), (h, w) = self._geometry(info)
        top, left = abs(sh - h) // 2, abs(sw - w) // 2
        step_h, step_w = max(1, h // _GRID), max(1, w // _GRID)
        buf = np.zeros((s.frames, h, w, 3), dtype=np.uint8)
        filled = start = written = shot = 0
        prev = None
        plan = self.starts
        # one reformatter for the clip: it keeps its scaler (a new one per frame costs 10x the scaling)
        scaler = VideoReformatter()
        interpolation = "AREA" if sh * sw <= info.height * info.width else "BICUBIC"
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(info.fps).limit_denominator(1001)
            fps = Fraction(rate)
            try:
                for frame in container.decode(stream):
                    if plan is not None and filled == 0 and self.frames_read < plan[written][1]:
                        self.frames_read += 1  # before the next planned window: not even scaled
                        continue
                    ow, oh = (sh, sw) if self.turns % 2 else (sw, sh)  # scaled as stored, then turned
                    img = scaler.reformat(
                        frame, width=ow, height=oh, format="rgb24", interpolation=interpolation
                    ).to_ndarray()
                    if self.turns:
                        img = np.rot90(img, self.turns)
                    n = self.frames_read
                    self.frames_read += 1
                    view = img[top : top + h, left : left + w] if s.fit == "crop" else None
                    grid = (view if view is not None else img)[::step_h, ::step_w, 1].astype(np.int16)
                    cut = plan is None and s.scene_threshold is not None and prev is not None
                    cut = cut and prev.shape == grid.shape  # type: ignore[union-attr]
                    if cut and np.abs(grid - prev).mean() > s.scene_threshold:
                        self.cuts.append(n)
                        filled, shot = 0, 0
                    prev = grid
                    shot += 1
                    self.longest_shot = max(self.longest_shot, shot)
                    if filled == 0:
                        start = n
                    if view is not None:
                        buf[filled] = view
                    else:
                        buf[filled] = 0
                        buf[filled, top : top + img.shape[0], left : left + img.shape[1]] = img
                    filled += 1
                    if filled < s.frames:
                        continue
                    index = written if plan is None else plan[written][0]
                    path = self.target(index)
                    paint.write_mp4(path, buf, fps, root=self.root, preset=s.preset, crf=s.crf)
                    yield Window(index, start, s.frames, float(fps), (h, w), path)
                    written += 1
                    filled = 0
                    if s.max_windows is not None and written >= s.max_windows:
                        return
                    if plan is not None and written >= len(plan):
                        return
            except av.error.FFmpegError as e:
                why = f"decoding failed after {self.frames_read} frames ({e.strerror or e})"
                if written == 0:
                    raise Dropped(f"unreadable: {why}") from None
                self.note = why
        if written == 0:
            raise Dropped(self.shortfall())

    def shortfall(self) -> str:
        """Why no window came out of a clip that decoded."""
        n = self.settings.frames
        if self.cuts and self.frames_read >= n:
            return (
                f"too short between scene cuts: the longest shot has {self.longest_shot} frames < {n} "
                f"needed ({len(self.cuts)} cut(s) found; --scene-threshold or --no-scene-cuts changes it)"
            )
        return f"too short: {self.frames_read} frames decoded < {n} needed"
