"""Declarative dataset layouts: what each upstream loader opens, and what it needs of the files.

One :class:`Layout` per loader. The validator and the synthesizer are both driven by these specs,
so a layout is described once: its views, the video sets (videos and controls) and how they pair
by clip name, where captions or text embeddings live and their shapes and dtypes, and how many
frames each experiment needs. Facts come from the loaders' code, not from their docs
(shared/reference/upstream-contracts.md, section 7).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cosmos_tui.core.datasets.names import NameRule
from cosmos_tui.core.errors import UsageError

Severity = Literal["error", "warning", "info"]

P1_VIEWS = (
    "pinhole_front",
    "pinhole_front_left",
    "pinhole_front_right",
    "pinhole_side_left",
    "pinhole_side_right",
)
HDMAP_CAMERAS = (
    "camera_front_wide_120fov",
    "camera_cross_right_120fov",
    "camera_rear_right_70fov",
    "camera_rear_tele_30fov",
    "camera_rear_left_70fov",
    "camera_cross_left_120fov",
    "camera_front_tele_30fov",
)


@dataclass(frozen=True)
class VideoSet:
    """A set of mp4 files the loader opens, one per clip (one per clip and view when ``per_view``)."""

    folder: str
    """Folder under the dataset root, e.g. ``videos`` or ``control_input_hdmap_bbox``."""
    role: Literal["video", "control"]
    """``video`` is the clip itself (the clip list comes from it); ``control`` pairs with it."""
    per_view: bool
    """Files sit in one sub-folder per view (``<folder>/<view dir>/<clip>.mp4``)."""
    description: str
    """What the loader uses it for."""
    needed_by: tuple[str, ...] | None = None
    """Experiment-name patterns (fnmatch) that need this set; ``None``: every experiment."""
    pattern: Literal["rgb", "depth", "seg", "hdmap"] = "rgb"
    """What the synthesizer paints into it."""


@dataclass(frozen=True)
class CaptionSource:
    """One place a caption may come from for clip ``<clip>``: ``<folder>/<clip><ext>``."""

    folder: str
    """Folder under the dataset root (may include a view folder)."""
    ext: Literal[".json", ".txt"]
    """``.json`` holds an object; ``.txt`` holds the caption text."""
    json_keys: tuple[str, ...] = ()
    """``keys`` schema: the loader takes the first of these keys that is present."""
    json_schema: Literal["keys", "model-prompts"] = "keys"
    """``keys``: a flat object, ``{"caption": ...}``; ``model-prompts``: Predict2.5's
    ``{"<model>": {"long": ..., "short": ..., "medium": ...}}`` (the first key's object is read)."""


CaptionRule = Literal["fixed", "first-folder", "format-switch"]
"""How a loader picks the caption file of a clip (captions.py applies it):

- ``fixed``: one source, read as it is (the HDMap loader).
- ``first-folder``: the first source folder that exists is the caption folder, whatever it
  holds; in it ``<clip>.json`` then ``<clip>.txt`` (Transfer2.5 single-view).
- ``format-switch``: one source for the whole set: the JSON source if its folder holds any
  ``*.json`` name, else the text source if its folder holds any ``*.txt`` name; the experiment
  may force one (Predict2.5's ``caption_format``)."""


@dataclass(frozen=True)
class CaptionFormat:
    """What one experiment passes its caption loader (Predict2.5's VideoDataset arguments)."""

    format: Literal["auto", "json", "text"] = "auto"
    """``caption_format``: ``auto`` detects it from the folders; ``json``/``text`` force one."""
    prompt_type: str | None = None
    """``prompt_type``: the prompt key read from a JSON caption (``None``: the first one)."""


@dataclass(frozen=True)
class CaptionSpec:
    """Where captions live and which one the loader reads for a clip (see :data:`CaptionRule`)."""

    sources: tuple[CaptionSource, ...]
    """Every file a loader may read, in the loader's order of preference."""
    missing_severity: Severity
    """How bad a clip without any caption is for this loader."""
    missing_note: str
    """What the loader does when a clip has no caption."""
    rule: CaptionRule = "fixed"
    """How the loader picks among ``sources``."""
    fallback: str | None = None
    """The caption the loader trains a clip on when it reads none (``None``: it has no fallback)."""
    formats: dict[str, CaptionFormat] = field(default_factory=dict)
    """Experiment name (or fnmatch pattern) -> caption arguments; unnamed experiments: the default."""
    synth_source: int = 0
    """Which of ``sources`` the synthesizer writes."""

    def format_for(self, experiment: str | None) -> CaptionFormat:
        """The caption arguments ``experiment`` passes (the loader's defaults when none is named)."""
        if experiment is not None:
            for pattern, fmt in self.formats.items():
                if experiment == pattern or fnmatch.fnmatchcase(experiment, pattern):
                    return fmt
        return CaptionFormat()


@dataclass(frozen=True)
class EmbeddingSpec:
    """Pre-computed T5 text embeddings (Predict1): per-clip pickles and per-view prefix pickles."""

    clip_folder: str = "t5_xxl"
    """Per-clip embeddings: ``<clip_folder>/<view>/<clip>.pkl``."""
    clip_views_read: tuple[str, ...] = ("pinhole_front",)
    """Views whose per-clip embeddings the loader opens (the others only with ``load_mv_emb``)."""
    prefix_folder: str = "cache"
    """Per-view prefix embeddings: ``<prefix_folder>/prefix_<view>.pkl``."""
    prefix_stem: str = "prefix_{view}"
    """The file stem the loader opens."""
    wrong_prefix_stem: str = "prefix_t5_embeddings_{view}"
    """The stem the docs and some scripts write instead."""
    ext: str = ".pkl"
    """The extension the loader opens (``.pickle`` is a known mismatch)."""
    wrong_ext: str = ".pickle"
    """The extension some scripts write instead."""
    dim: int = 1024
    """Embedding width (T5-XXL)."""
    max_len: int = 512
    """Most tokens the loader keeps; it pads or truncates to this."""
    dtypes: tuple[str, ...] = ("float32", "float16")
    """Accepted numpy dtypes."""
    clip_is_list: bool = True
    """The loader reads ``pickle.load(f)[0]``: per-clip files hold a list of one array."""


@dataclass(frozen=True)
class Layout:
    """What one upstream loader opens under ``dataset_dir`` and what it needs of the files."""

    id: str
    """Layout id used on the command line and in presets."""
    title: str
    """One-line name for people."""
    loader: str
    """The upstream loader this describes."""
    views: tuple[str, ...]
    """View names, in the loader's order; empty for single-view layouts."""
    videos: tuple[VideoSet, ...]
    """The video set with role ``video`` first, then controls."""
    view_folder: str = "{view}"
    """How a view's folder is named (``ftheta_{view}`` for the HDMap rig)."""
    captions: CaptionSpec | None = None
    """Caption files, if the loader reads text captions."""
    embeddings: EmbeddingSpec | None = None
    """Pre-computed text embeddings, if the loader reads them."""
    default_min_frames: int = 1
    """Frames a clip needs when no experiment is named (the upstream example's need)."""
    experiments: dict[str, int] = field(default_factory=dict)
    """Experiment name (or fnmatch pattern) -> frames a clip needs."""
    resolution: tuple[int, int] | None = None
    """Training resolution (H, W) the loader resizes to (the default experiment's)."""
    resolutions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Experiment name (or fnmatch pattern) -> its resolution, where it differs from ``resolution``."""
    fps_range: tuple[float, float] | None = None
    """The frame rates the docs recommend."""
    notes: tuple[str, ...] = ()
    """Facts worth knowing about this loader."""
    names: NameRule = "stem"
    """How the loader derives a caption's, control's or embedding's name from a video's (names.py)."""
    fps_must_match: bool = False
    """The loader raises when the views of a clip, or a control and its clip, differ in frame rate."""
    format: Literal["folders", "vision-jsonl", "lerobot-v3"] = "folders"
    """``folders``: the clip list comes from video folders (the fields above); ``vision-jsonl``:
    Cosmos 3's JSON-lines index (``vision_jsonl.py`` validates it, with ``experiments`` frames)."""
    clip_list: Literal["mp4-names", "every-entry", "caption-stems"] = "mp4-names"
    """What the loader takes as its clips: every name ending in ``.mp4`` in the clip folder (hidden
    names too), every entry of the first view's folder (Predict1's ``os.listdir``), or the stems of
    the caption files (HDMap, which never lists the video folders)."""

    def view_dirs(self) -> tuple[str, ...]:
        """The view folder names as they appear on disk."""
        return tuple(self.view_folder.format(view=v) for v in self.views)

    @property
    def video(self) -> VideoSet:
        """The set that defines the clip list."""
        return self.videos[0]

    def video_path(self, root: Path, vs: VideoSet, clip: str, view_dir: str | None) -> Path:
        """Path of clip ``clip`` in video set ``vs`` (``view_dir`` for per-view sets)."""
        base = root / vs.folder
        if vs.per_view:
            base = base / (view_dir or "")
        return base / f"{clip}.mp4"

    def set_needed(self, vs: VideoSet, experiment: str | None) -> bool | None:
        """True if ``experiment`` needs ``vs``, False if not, None when no experiment is named."""
        if vs.needed_by is None:
            return True
        if experiment is None:
            return None
        return any(fnmatch.fnmatchcase(experiment, p) for p in vs.needed_by)

    def resolution_for(self, experiment: str | None) -> tuple[int, int] | None:
        """The (H, W) the loader resizes to for ``experiment`` (``resolution`` when none is named)."""
        if experiment is not None:
            for pattern, size in self.resolutions.items():
                if experiment == pattern or fnmatch.fnmatchcase(experiment, pattern):
                    return size
        return self.resolution

    def frames_for(self, experiment: str) -> int | None:
        """Frames a clip needs for ``experiment``, or None if the experiment is not this layout's."""
        if experiment in self.experiments:
            return self.experiments[experiment]
        for pattern, frames in self.experiments.items():
            if fnmatch.fnmatchcase(experiment, pattern):
                return frames
        return None


# Builtin engine (cosmos_engine) experiments: frames per sample by size, as engine/experiments.py sets
# dataloader_train.dataset.num_frames (a test keeps the two in step; --frames overrides).
BUILTIN_FRAMES = {"tiny": 8, "small": 16}
BUILTIN_SIZES = {"tiny": (64, 96), "small": (128, 192)}
"""(H, W) of ``dataloader_train.dataset.video_size`` by size (the 2B ones train at the upstream
experiment's resolution, each layout's default); what ``data prepare`` writes for them."""


def _builtin_sizes(family: str) -> dict[str, tuple[int, int]]:
    return {f"{family}{size}": hw for size, hw in BUILTIN_SIZES.items()}


BUILTIN_PREFIXES = ("s2mv_", "transfer_singleview_", "transfer_multiview_hdmap_")


def is_builtin_experiment(name: str | None) -> bool:
    """True for the builtin engine's experiments (which set their own resolution and frames)."""
    return bool(name) and name.startswith(BUILTIN_PREFIXES)  # type: ignore[union-attr]


LAYOUTS: dict[str, Layout] = {
    layout.id: layout
    for layout in (
        Layout(
            id="predict1-waymo",
            title="Predict1 Single2MultiView (Waymo, 5 pinhole views, T5 embeddings)",
            loader="cosmos_predict1/diffusion/training/datasets/dataset_multiview.py::Dataset",
            views=P1_VIEWS,
            videos=(
                VideoSet(
                    "videos", "video", True, "the clips, same file name in every view; listed from the first"
                ),
            ),
            embeddings=EmbeddingSpec(),
            default_min_frames=57,
            experiments={
                "text2world_singletomultiview_7b_example_waymo": 57,
                "video2world_singletomultiview_7b_example_waymo": 57,
                "s2mv_*_tiny": BUILTIN_FRAMES["tiny"],
                "s2mv_*_small": BUILTIN_FRAMES["small"],
                "s2mv_*_2b": 56,
            },
            resolution=(576, 1024),
            resolutions=_builtin_sizes("s2mv_*_"),
            notes=(
                "Windows of num_frames consecutive frames; a shorter clip yields no samples.",
                "Only t5_xxl/pinhole_front is read unless load_mv_emb=True.",
                "Bad samples are skipped with a warning and resampled, so a broken set can loop.",
            ),
            names="mp4-to-ext",
            clip_list="every-entry",
        ),
        Layout(
            id="transfer25-singleview",
            title="Transfer2.5 single-view control (edge, vis, depth, seg)",
            loader="cosmos_transfer2/_src/transfer2/datasets/local_datasets/singleview_dataset.py",
            views=(),
            videos=(
                VideoSet("videos", "video", False, "the clips"),
                VideoSet(
                    "depth",
                    "control",
                    False,
                    "depth control, same frame count as the clip",
                    needed_by=("*depth*",),
                    pattern="depth",
                ),
                VideoSet(
                    "seg",
                    "control",
                    False,
                    "segmentation control (segcolor mp4), same frame count as the clip",
                    needed_by=("*seg*",),
                    pattern="seg",
                ),
            ),
            captions=CaptionSpec(
                # captions/ if it exists (even empty), else metas/; in it <name>.json, then <name>.txt
                sources=tuple(
                    CaptionSource(folder, ext, ("caption", "text", "prompt") if ext == ".json" else ())
                    for folder in ("captions", "metas")
                    for ext in (".json", ".txt")
                ),
                missing_severity="error",
                missing_note='the loader silently trains on the caption "a video"',
                rule="first-folder",
                fallback="a video",
            ),
            default_min_frames=93,
            experiments={
                "transfer2_singleview_posttrain_*_example": 93,
                "transfer_singleview_*_tiny": BUILTIN_FRAMES["tiny"],
                "transfer_singleview_*_2b": 92,
            },
            resolution=(704, 1280),
            resolutions=_builtin_sizes("transfer_singleview_*_"),
            fps_range=(10, 60),
            notes=(
                "edge and vis controls are computed on the fly; depth and seg are mp4 files.",
                "captions/ is the caption folder whenever it exists (metas/ is then never read); "
                "a clip without a readable caption there trains on 'a video'.",
            ),
            names="remove-mp4",
        ),
        Layout(
            id="transfer25-multiview-hdmap",
            title="Transfer2.5 auto-multiview HDMap (7 ftheta cameras)",
            loader="cosmos_transfer2/_src/transfer2_multiview/.../dataloader_local.py::MultiviewTransferDataset",
            views=HDMAP_CAMERAS,
            view_folder="ftheta_{view}",
            videos=(
                VideoSet("videos", "video", True, "the clips, all 7 cameras"),
                VideoSet(
                    "control_input_hdmap_bbox",
                    "control",
                    True,
                    "HDMap + bounding-box control, all 7 cameras",
                    pattern="hdmap",
                ),
            ),
            captions=CaptionSpec(
                sources=(CaptionSource("captions/ftheta_camera_front_wide_120fov", ".json", ("caption",)),),
                missing_severity="error",
                missing_note="only the front-wide caption is read",
            ),
            default_min_frames=29,
            experiments={
                "transfer2_auto_multiview_post_train_example": 29,
                "transfer_multiview_hdmap_tiny": BUILTIN_FRAMES["tiny"],
                "transfer_multiview_hdmap_2b": 28,
            },
            resolution=(720, 1280),
            resolutions=_builtin_sizes("transfer_multiview_hdmap_"),
            notes=("A missing video or control file raises FileNotFoundError in the loader.",),
            fps_must_match=True,
            clip_list="caption-stems",
        ),
        Layout(
            id="predict25-video2world",
            title="Predict2.5 video2world",
            loader="cosmos_predict2/_src/predict2/datasets/local_datasets/dataset_video.py::VideoDataset",
            views=(),
            videos=(VideoSet("videos", "video", False, "the clips"),),
            captions=CaptionSpec(
                # any captions/*.json switches the whole set to JSON; else metas/*.txt (dataset_video.py)
                sources=(
                    CaptionSource("captions", ".json", json_schema="model-prompts"),
                    CaptionSource("metas", ".txt"),
                ),
                missing_severity="error",
                missing_note="the loader trains the clip on an empty caption",
                rule="format-switch",
                fallback="",
                formats={
                    "predict2_lora_training_2b_cosmos_nemo_assets_json": CaptionFormat("json", "long"),
                },
                synth_source=1,
            ),
            default_min_frames=94,
            # num_frames + 1: the start frame is randint(0, total - num_frames) (high end excluded)
            experiments={
                "predict2_video2world_training_2b_cosmos_nemo_assets": 94,
                "predict2_lora_training_2b_cosmos_nemo_assets_txt": 94,
                "predict2_lora_training_2b_cosmos_nemo_assets_json": 94,
                "predict2_video2world_training_2b_groot_gr1_480": 94,
                "predict2_video2world_training_14b_groot_gr1_480": 46,
            },
            resolution=(704, 1280),
            resolutions={"predict2_video2world_training_*_groot_gr1_480": (432, 768)},
            notes=(
                "The start frame is randint(0, total - num_frames), so a clip of exactly num_frames fails.",
                "Any captions/*.json switches every clip to JSON captions; metas/*.txt is then never read.",
                "The LoRA json experiment forces JSON captions and reads the 'long' prompt.",
                "GR00T GR1 trains at 432x768 (2B: 93 frames, 14B: 45 frames).",
            ),
            names="remove-mp4",
        ),
        Layout(
            id="cosmos3-vision-jsonl",
            title="Cosmos 3 vision SFT (train/video_dataset_file.jsonl, cosmos-framework)",
            loader="cosmos_framework/data/generator/local_datasets/sft_dataset.py::get_sft_dataset",
            views=(),
            videos=(),
            format="vision-jsonl",
            # _load_sft_metadata_from_s3(min_frames=61): windows of fewer frames are dropped
            default_min_frames=61,
            experiments={
                "vision_sft_nano": 61,
                "vision_sft_nano_mapstyle_dataloader": 61,
                "vision_sft_super": 61,
                "vision_sft_edge": 61,
            },
            notes=(
                "DATASET_PATH/train/video_dataset_file.jsonl; a relative vision_path is read from "
                "DATASET_PATH/train/ (the JSONL's folder).",
                "Windows shorter than 61 frames and clips longer than 61 s are dropped silently.",
                "The recipes use num_video_frames=-1: each window's own temporal_interval is used.",
                "caption_json (structured) is preferred over caption; max_caption_tokens 2048.",
            ),
        ),
        Layout(
            id="lerobot-v3",
            title="LeRobot v3.0 (Cosmos 3 action recipes: LIBERO, DROID)",
            loader="cosmos_framework/data/generator/action/datasets/base_dataset.py (LIBERO); "
            "lerobot (DROID)",
            views=(),
            videos=(),
            format="lerobot-v3",
            # a window is chunk_length + 1 frames: LIBERO chunk_length=16, DROID 32
            default_min_frames=17,
            experiments={
                "action_policy_libero_nano": 17,
                "action_policy_libero_all_nano": 17,
                "action_policy_droid_nano": 33,
            },
            notes=(
                "data.root is the dataset root holding meta/info.json (LIBERO_ROOT / DROID_ROOT); "
                "action_policy_libero_all_nano reads four suites under LIBERO_ROOT: validate each.",
                "LIBERO reads cameras observation.images.image and observation.images.wrist_image.",
            ),
        ),
    )
}


def get_layout(layout_id: str) -> Layout:
    """The layout called ``layout_id``; a usage error naming the known ids otherwise."""
    try:
        return LAYOUTS[layout_id]
    except KeyError:
        raise UsageError(f"Unknown dataset layout '{layout_id}'; use one of: {', '.join(LAYOUTS)}.") from None


def min_frames_for(layout: Layout, experiment: str | None, min_frames: int | None = None) -> int:
    """Frames each clip needs: ``min_frames`` if given, else the experiment's need, else the layout's."""
    if min_frames is not None:
        if min_frames < 1:
            raise UsageError(f"--frames must be at least 1, not {min_frames}.")
        return min_frames
    if experiment is None:
        return layout.default_min_frames
    frames = layout.frames_for(experiment)
    if frames is None:
        known = ", ".join(layout.experiments)
        raise UsageError(
            f"Experiment '{experiment}' does not train on layout '{layout.id}' "
            f"(known: {known}); pass --frames N to set the frame count yourself."
        )
    return frames


def _has_mp4(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(e.name.endswith(".mp4") for e in it)
    except OSError:
        return False


def detect_layout(root: Path) -> str | None:
    """Guess the layout of the dataset at ``root`` from its folders, or None if nothing fits."""
    root = Path(root)
    if (root / "train" / "video_dataset_file.jsonl").exists():
        return "cosmos3-vision-jsonl"
    if (root / "meta" / "info.json").exists():
        return "lerobot-v3"
    videos = root / "videos"
    if not videos.is_dir():
        return None
    subdirs = {p.name for p in videos.iterdir() if p.is_dir()}
    if (root / "t5_xxl").is_dir() or subdirs & set(P1_VIEWS):
        return "predict1-waymo"
    if (root / "control_input_hdmap_bbox").is_dir() or any(d.startswith("ftheta_") for d in subdirs):
        return "transfer25-multiview-hdmap"
    if _has_mp4(videos):
        if (root / "depth").is_dir() or (root / "seg").is_dir():
            return "transfer25-singleview"
        return "predict25-video2world"
    return None
