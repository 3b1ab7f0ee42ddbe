"""Training datasets that read the upstream layouts the way the upstream loaders do.

- ``waymo`` (Predict1 Single2MultiView): ``videos/<view>/<clip>.mp4``, ``t5_xxl/pinhole_front/<clip>.pkl``
  (``[array (L, 1024)]``), ``cache/prefix_<view>.pkl`` (``(L, 1024)``). Every window of
  ``num_frames`` consecutive frames is a sample; the first view is always in a sample and the
  other ``sample_n_views - 1`` are drawn at random.
- ``singleview`` (Transfer2.5): ``videos/<clip>.mp4`` with ``captions/<clip>.json`` (``caption``,
  ``text`` or ``prompt``), else ``metas/<clip>.txt``, else "a video"; controls ``edge`` and ``vis``
  (blur) are computed on the fly, ``depth/<clip>.mp4`` and ``seg/<clip>.mp4`` are read.
- ``multiview_hdmap`` (Transfer2.5 auto-multiview): ``videos/ftheta_<cam>/<clip>.mp4``,
  ``control_input_hdmap_bbox/ftheta_<cam>/<clip>.mp4``,
  ``captions/ftheta_camera_front_wide_120fov/<clip>.json``.

Transfer captions are text, and this engine has no Reason1 encoder, so :func:`hash_text_embedding`
turns words into fixed pseudo-random 1024-d vectors: a small, deterministic text encoder of its own.
A clip that cannot be decoded is skipped with a warning; no usable clip at all is a DataError.
Frames and controls are ``uint8`` ``[views, T, 3, H, W]``; the loss maps them to [-1, 1] on the
device (:func:`cosmos_engine.flow.pixels`).
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from cosmos_engine.config import DatasetConfig
from cosmos_engine.errors import DataError
from cosmos_engine.flow import pixels
from cosmos_engine.video import as_embedding, load_embedding_pickle, probe_frames, read_frames

_WORD_CACHE: dict[str, np.ndarray] = {}


def hash_text_embedding(text: str, dim: int = 1024) -> np.ndarray:
    """One fixed pseudo-random vector per lower-cased word, ``(words, dim)`` float32."""
    words = text.lower().replace(".", " ").replace(",", " ").split() or ["<empty>"]
    rows = []
    for word in words:
        if word not in _WORD_CACHE:
            rng = np.random.default_rng(zlib.crc32(word.encode()))
            _WORD_CACHE[word] = (rng.standard_normal(dim) * 0.1).astype(np.float32)
        rows.append(_WORD_CACHE[word])
    return np.stack(rows)


@dataclass(frozen=True)
class Clip:
    """One clip: its video per view, control video per view (if any), and frame count."""

    name: str
    videos: dict[str, Path]
    controls: dict[str, Path]
    frames: int


def _need_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise DataError(
            f"{what} {path} does not exist; set dataloader_train.dataset.dataset_dir to a dataset folder "
            "(see the layouts in the docs, or make one with `cosmos-tui data synth`)."
        )


class ClipDataset(torch.utils.data.Dataset):
    """Windows of ``num_frames`` frames over all usable clips; items are dicts of tensors."""

    def __init__(
        self,
        cfg: DatasetConfig,
        *,
        seed: int,
        text_dim: int = 1024,
        verbose: bool = True,
        split: str = "train",
    ) -> None:
        """``split``: ``train`` (every clip but the ``cfg.val_clips`` held out) or ``val`` (those)."""
        self.cfg = cfg
        self.seed = seed
        self.text_dim = text_dim
        self.log = logging.getLogger("cosmos_engine")
        self.verbose = verbose
        self.root = Path(cfg.dataset_dir).expanduser()
        if not cfg.dataset_dir:
            raise DataError(
                "dataloader_train.dataset.dataset_dir is not set; pass "
                "dataloader_train.dataset.dataset_dir=<dataset folder> after the '--'."
            )
        _need_dir(self.root, "dataset folder")
        self.prefixes: dict[str, np.ndarray] = {}
        clips = held_out(self._find_clips(), cfg.val_clips, split, self.root)
        usable = [c for c in (self._probe(c) for c in clips) if c is not None]
        n = cfg.num_frames
        self.windows = [
            (clip, start)
            for clip in usable
            for start in range(0, clip.frames - n + 1, max(1, cfg.start_frame_interval))
        ]
        if not self.windows:
            raise DataError(
                f"no usable clip in {self.root}: {len(clips)} found, {len(usable)} decodable, none with at "
                f"least {n} frames; add longer videos or lower dataloader_train.dataset.num_frames."
            )
        self._bad: set[str] = set()

    # ----- discovery -------------------------------------------------------------------------
    def _find_clips(self) -> list[Clip]:
        kind = self.cfg.kind
        if kind == "waymo":
            views = list(self.cfg.view_keys)
            video_dirs = {v: self.root / "videos" / v for v in views}
            control_dirs: dict[str, Path] = {}
            _need_dir(video_dirs[views[0]], "video folder")
            for view in views:
                prefix = self.root / "cache" / f"prefix_{view}.pkl"
                if not prefix.is_file():
                    raise DataError(
                        f"missing prefix embedding {prefix}; the Waymo layout needs cache/prefix_<view>.pkl."
                    )
                self.prefixes[view] = self._embedding(prefix)
        elif kind == "singleview":
            views = ["video"]
            video_dirs = {"video": self.root / "videos"}
            _need_dir(video_dirs["video"], "video folder")
            ctrl = self.cfg.control_type
            control_dirs = {"video": self.root / ctrl} if ctrl in ("depth", "seg") else {}
        else:  # multiview_hdmap
            views = list(self.cfg.view_keys)
            video_dirs = {v: self.root / "videos" / f"ftheta_{v}" for v in views}
            control_dirs = {v: self.root / "control_input_hdmap_bbox" / f"ftheta_{v}" for v in views}
            _need_dir(video_dirs[views[0]], "video folder")
        names = sorted(p.stem for p in video_dirs[views[0]].glob("*.mp4"))
        if not names:
            raise DataError(f"no .mp4 files in {video_dirs[views[0]]}; put the training videos there.")
        clips = []
        for name in names:
            videos = {v: d / f"{name}.mp4" for v, d in video_dirs.items()}
            controls = {v: d / f"{name}.mp4" for v, d in control_dirs.items()}
            missing = [p for p in [*videos.values(), *controls.values()] if not p.is_file()]
            if kind == "waymo":
                caption = self.root / "t5_xxl" / views[0] / f"{name}.pkl"
                if not caption.is_file():
                    missing.append(caption)
            if missing:
                self._warn(f"Skipping clip {name}: missing {', '.join(str(p) for p in missing[:3])}")
                continue
            clips.append(Clip(name, videos, controls, 0))
        return clips

    def _probe(self, clip: Clip) -> Clip | None:
        try:
            frames = min(probe_frames(p) for p in [*clip.videos.values(), *clip.controls.values()])
        except Exception as exc:  # PyAV raises several error types for broken files
            self._warn(f"Skipping clip {clip.name}: cannot decode it ({type(exc).__name__}: {exc})")
            return None
        if frames < self.cfg.num_frames:
            self._warn(f"Skipping clip {clip.name}: {frames} frames, {self.cfg.num_frames} needed")
        return Clip(clip.name, clip.videos, clip.controls, frames)

    def _warn(self, message: str) -> None:
        if self.verbose:
            self.log.warning(message)

    def _embedding(self, path: Path) -> np.ndarray:
        try:
            return as_embedding(load_embedding_pickle(path), path)
        except Exception as exc:
            raise DataError(f"cannot read embedding {path}: {exc}") from None

    # ----- items -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        for attempt in range(len(self.windows)):
            i = (index + attempt) % len(self.windows)
            clip, start = self.windows[i]
            if clip.name in self._bad:
                continue
            try:
                return self._load(i, clip, start)
            except Exception as exc:
                self._bad.add(clip.name)
                self._warn(f"Failed to load video {clip.name} ({type(exc).__name__}: {exc}); skipping it")
        raise DataError(
            f"no clip in {self.root} could be decoded; check the videos with `cosmos-tui data validate`."
        )

    def _views(self, index: int) -> list[int]:
        n_all = len(self.cfg.view_keys)
        n = n_all if self.cfg.sample_n_views < 0 else self.cfg.sample_n_views
        rng = np.random.default_rng([self.seed, index])
        others = rng.permutation(np.arange(1, n_all))[: n - 1] if n > 1 else []
        return [0, *sorted(int(o) for o in others)]

    def _text(self, clip: Clip, view_names: list[str]) -> np.ndarray:
        if self.cfg.kind == "waymo":
            caption = self._embedding(self.root / "t5_xxl" / self.cfg.view_keys[0] / f"{clip.name}.pkl")
            return np.concatenate([caption, *(self.prefixes[v] for v in view_names)], axis=0)
        if self.cfg.kind == "singleview":
            folder, metas = self.root / "captions", self.root / "metas" / f"{clip.name}.txt"
        else:
            folder, metas = self.root / "captions" / f"ftheta_{self.cfg.view_keys[0]}", None
        text = "a video"
        caption_file = folder / f"{clip.name}.json"
        if caption_file.is_file():
            data: Any = json.loads(caption_file.read_text())
            text = next((str(data[k]) for k in ("caption", "text", "prompt") if k in data), text)
        elif metas is not None and metas.is_file():
            text = metas.read_text().strip() or text
        return hash_text_embedding(text, self.text_dim)

    def _frames(self, path: Path, start: int) -> torch.Tensor:
        size = (int(self.cfg.video_size[0]), int(self.cfg.video_size[1]))
        arr = read_frames(path, start, self.cfg.num_frames, size)
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # T C H W, uint8

    def conditioning(
        self, clip_name: str | None, prompt: str | None, n_views: int
    ) -> dict[str, torch.Tensor]:
        """What a sample is conditioned on, as a training item of clip ``clip_name`` (its first
        window; the first clip when None) with its first ``n_views`` views: frames (the first view
        conditions video2world), control, text. ``prompt`` replaces the caption: embedded as
        training embeds text captions (:func:`hash_text_embedding`; for the T5 Waymo layout, whose
        captions this engine cannot encode, in place of the clip's T5 embedding, before the view
        prefixes)."""
        matches = [i for i, (c, _) in enumerate(self.windows) if clip_name in (None, c.name)]
        if not matches:
            names = sorted({c.name for c, _ in self.windows})
            raise DataError(
                f"no usable clip {clip_name!r} in {self.root}; use one of {', '.join(names[:5])}"
                f"{' ...' if len(names) > 5 else ''}."
            )
        i = matches[0]
        clip, start = self.windows[i]
        n_all = len(self.cfg.view_keys) if self.cfg.kind != "singleview" else 1
        return self._load(i, clip, start, list(range(min(n_views, n_all))), prompt)

    def _load(
        self, index: int, clip: Clip, start: int, views: list[int] | None = None, prompt: str | None = None
    ) -> dict[str, torch.Tensor]:
        view_idx = self._views(index) if views is None else views
        names = [self.cfg.view_keys[v] for v in view_idx] if self.cfg.kind != "singleview" else ["video"]
        video = torch.stack([self._frames(clip.videos[v], start) for v in names])
        out = {"video": video, "view_ids": torch.tensor(view_idx, dtype=torch.long)}
        ctrl = self.cfg.control_type
        if ctrl in ("edge", "vis"):
            control = edges(pixels(video)) if ctrl == "edge" else blur(pixels(video))
            out["control"] = to_uint8(control)
        elif ctrl:
            out["control"] = torch.stack([self._frames(clip.controls[v], start) for v in names])
        if prompt is None:
            text = self._text(clip, names)
        else:
            words = hash_text_embedding(prompt, self.text_dim)
            prefixes = [self.prefixes[v] for v in names] if self.cfg.kind == "waymo" else []
            text = np.concatenate([words, *prefixes], axis=0)
        text = text[: self.cfg.max_text_len]
        padded = np.zeros((self.cfg.max_text_len, text.shape[1]), np.float32)
        padded[: len(text)] = text
        mask = torch.zeros(self.cfg.max_text_len, dtype=torch.bool)
        mask[: len(text)] = True
        out["text"], out["text_mask"] = torch.from_numpy(padded), mask
        return out


def held_out(clips: list[Clip], n: int, split: str, root: Path) -> list[Clip]:
    """The clips of ``split``: ``val`` is the ``n`` clips whose names hash lowest (CRC-32, ties by
    name), ``train`` the rest, in their original order; the split depends on the names alone."""
    if n <= 0:
        return clips if split == "train" else []
    if n >= len(clips):
        raise DataError(
            f"dataloader_train.dataset.val_clips={n} holds out every clip of the {len(clips)} in {root}; "
            "lower it so at least one clip is left to train on."
        )
    val = {c.name for c in sorted(clips, key=lambda c: (zlib.crc32(c.name.encode()), c.name))[:n]}
    return [c for c in clips if (c.name in val) == (split == "val")]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Frames in [-1, 1] as ``uint8`` (the inverse of :func:`cosmos_engine.flow.pixels`)."""
    return ((x + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def edges(video: torch.Tensor) -> torch.Tensor:
    """Sobel edge map of ``[..., 3, H, W]`` frames in [-1, 1], thresholded, as 3 channels in [-1, 1]."""
    shape = video.shape
    gray = video.reshape(-1, 3, *shape[-2:]).mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.t()])[:, None]
    grad = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), k)
    mag = grad.pow(2).sum(dim=1, keepdim=True).sqrt()
    edge = (mag > 0.5).float() * 2 - 1
    return edge.expand(-1, 3, -1, -1).reshape(shape)


def blur(video: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """A blurred copy (area downsample by ``factor``, bilinear upsample): the ``vis`` control."""
    shape = video.shape
    flat = video.reshape(-1, *shape[-3:])
    small = F.avg_pool2d(flat, factor, ceil_mode=True)
    return F.interpolate(small, size=shape[-2:], mode="bilinear", align_corners=False).reshape(shape)
