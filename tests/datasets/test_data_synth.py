"""The synthesizer writes real, decodable mp4s and loader-shaped extras for every layout."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import av
import numpy as np
import pytest

from cosmos_tui.core.datasets.layouts import HDMAP_CAMERAS, LAYOUTS, P1_VIEWS, min_frames_for
from cosmos_tui.core.datasets.synth import synthesize
from cosmos_tui.core.datasets.validate import validate
from cosmos_tui.core.errors import UsageError, UserError


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(stream)])


def test_predict1_waymo_matches_the_loader(tmp_path: Path) -> None:
    root = synthesize(tmp_path / "ds", "predict1-waymo", clips=2, frames=6, size=(32, 48), fps=10)
    for view in P1_VIEWS:
        names = sorted(p.name for p in (root / "videos" / view).glob("*.mp4"))
        assert names == ["clip_0000.mp4", "clip_0001.mp4"]
        frames = _decode(root / "videos" / view / "clip_0001.mp4")
        assert frames.shape == (6, 32, 48, 3)
        # moving patterns: consecutive frames differ
        assert np.abs(frames[1:].astype(int) - frames[:-1].astype(int)).mean() > 1.0
        with open(root / "t5_xxl" / view / "clip_0000.pkl", "rb") as f:
            emb = pickle.load(f)
        assert isinstance(emb, list) and emb[0].dtype == np.float32 and emb[0].ndim == 2
        assert emb[0].shape[1] == 1024 and emb[0].shape[0] <= 512
        with open(root / "cache" / f"prefix_{view}.pkl", "rb") as f:
            prefix = pickle.load(f)
        assert prefix.dtype == np.float32 and prefix.shape[1] == 1024 and prefix.ndim == 2


def test_views_of_one_clip_differ_and_clips_differ(tmp_path: Path) -> None:
    root = synthesize(tmp_path / "ds", "predict1-waymo", clips=2, frames=4, size=(32, 48))
    a = _decode(root / "videos" / P1_VIEWS[0] / "clip_0000.mp4")
    b = _decode(root / "videos" / P1_VIEWS[1] / "clip_0000.mp4")
    c = _decode(root / "videos" / P1_VIEWS[0] / "clip_0001.mp4")
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("layout", sorted(k for k, v in LAYOUTS.items() if v.format == "folders"))
def test_every_layout_synthesizes(tmp_path: Path, layout: str) -> None:
    root = synthesize(tmp_path / "ds", layout, clips=2, frames=5, size=(32, 32))
    spec = LAYOUTS[layout]
    for vs in spec.videos:
        for vd in spec.view_dirs() if vs.per_view else (None,):
            path = spec.video_path(root, vs, "clip_0001", vd)
            assert _decode(path).shape == (5, 32, 32, 3)
    if spec.captions is not None:
        src = spec.captions.sources[spec.captions.synth_source]
        text = (root / src.folder / f"clip_0000{src.ext}").read_text()
        caption = json.loads(text)["caption"] if src.ext == ".json" else text
        assert "square moves" in caption


@pytest.mark.parametrize(
    ("layout", "experiment"),
    [(k, None) for k in sorted(LAYOUTS)] + [("predict1-waymo", "s2mv_text2world_2b")],
)
def test_a_default_synth_passes_the_default_validate(
    tmp_path: Path, layout: str, experiment: str | None
) -> None:
    # What a person types first: synth with no flags, then validate with no flags (or both with
    # the same --experiment): the set must be long enough for what validate then asks.
    root = synthesize(tmp_path / "ds", layout, clips=2, size=(32, 32), experiment=experiment)
    report = validate(root, layout, experiment=experiment)
    assert report.ok, [(f.id, f.examples[:1]) for f in report.findings if f.severity == "error"]
    assert report.min_frames == min_frames_for(LAYOUTS[layout], experiment)


def test_hdmap_has_seven_cameras_and_front_wide_captions(tmp_path: Path) -> None:
    root = synthesize(tmp_path / "ds", "transfer25-multiview-hdmap", clips=1, frames=3, size=(32, 32))
    assert sorted(p.name for p in (root / "videos").iterdir()) == sorted(f"ftheta_{c}" for c in HDMAP_CAMERAS)
    assert (root / "control_input_hdmap_bbox" / "ftheta_camera_rear_tele_30fov" / "clip_0000.mp4").is_file()
    assert (root / "captions" / "ftheta_camera_front_wide_120fov" / "clip_0000.json").is_file()


def test_same_seed_same_data_and_rerun_allowed(tmp_path: Path) -> None:
    a = synthesize(tmp_path / "a", "predict25-video2world", clips=1, frames=4, size=(32, 32), seed=3)
    synthesize(a, "predict25-video2world", clips=1, frames=4, size=(32, 32), seed=3)  # ours: may overwrite
    b = synthesize(tmp_path / "b", "predict25-video2world", clips=1, frames=4, size=(32, 32), seed=3)
    assert np.array_equal(_decode(a / "videos/clip_0000.mp4"), _decode(b / "videos/clip_0000.mp4"))


def test_refuses_to_write_into_user_data(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("keep")
    with pytest.raises(UserError, match="not empty"):
        synthesize(tmp_path / "mine", "predict25-video2world")
    assert (tmp_path / "mine" / "precious.txt").read_text() == "keep"


@pytest.mark.parametrize("kwargs", [{"size": (33, 32)}, {"clips": 0}, {"frames": 0}])
def test_bad_arguments_are_usage_errors(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(UsageError):
        synthesize(tmp_path / "ds", "predict25-video2world", **kwargs)


def test_unknown_layout_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="predict1-waymo"):
        synthesize(tmp_path / "ds", "waymo")
