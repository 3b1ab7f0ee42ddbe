"""Every finding the validator reports has a fixture that triggers it and a test that names it exactly."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from data_helpers import FRAMES, dump, emb, video
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosmos_tui.core.datasets.findings import KINDS, Report
from cosmos_tui.core.datasets.layouts import LAYOUTS
from cosmos_tui.core.datasets.validate import validate

Make = Callable[[str], Path]
P1, T25, HD, P25 = (
    "predict1-waymo",
    "transfer25-singleview",
    "transfer25-multiview-hdmap",
    "predict25-video2world",
)
EXPERIMENT = {
    P1: "s2mv_text2world_tiny",
    T25: "transfer_singleview_depth_tiny",
    HD: "transfer_multiview_hdmap_tiny",
}


def check(root: Path, layout: str, **kwargs) -> Report:
    """Validate against the builtin tiny experiment (8 frames, own resolution) unless told otherwise."""
    if "experiment" not in kwargs and "min_frames" not in kwargs:
        if layout in EXPERIMENT:
            kwargs["experiment"] = EXPERIMENT[layout]
        else:
            kwargs["min_frames"] = FRAMES
    return validate(root, layout, workers=2, **kwargs)


def only(report: Report, *ids: str) -> None:
    """The report has exactly these finding ids (low-resolution aside, which tiny clips always have)."""
    assert report.ids() - {"low-resolution"} == set(ids), [(f.id, f.examples) for f in report.findings]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fresh_synth_is_valid_with_no_findings(dataset: Make, layout: str) -> None:
    report = check(dataset(layout), layout)
    only(report)
    assert report.ok and report.clips == 2
    spec = LAYOUTS[layout]
    assert report.videos == 2 * len(spec.view_dirs() or [None]) * (2 if spec.id in (T25, HD) else 1)


# ---- folders, views, names -------------------------------------------------------------------------


def test_missing_videos_folder(dataset: Make) -> None:
    root = dataset(P25)
    shutil.rmtree(root / "videos")
    report = check(root, P25)
    only(report, "missing-folder")
    assert not report.ok


def test_missing_cache_folder(dataset: Make) -> None:
    root = dataset(P1)
    shutil.rmtree(root / "cache")
    only(check(root, P1), "missing-folder")


def test_missing_view(dataset: Make) -> None:
    root = dataset(P1)
    shutil.rmtree(root / "videos" / "pinhole_side_left")
    report = check(root, P1)
    only(report, "missing-view")
    assert report.get("missing-view").examples == ("videos/pinhole_side_left/",)


def test_unknown_view_folder(dataset: Make) -> None:
    root = dataset(P1)
    (root / "videos" / "pinhole_frontleft").mkdir()
    report = check(root, P1)
    only(report, "unknown-view")
    assert report.ok  # a warning only


def test_hdmap_camera_without_ftheta_prefix(dataset: Make) -> None:
    root = dataset(HD)
    os.rename(root / "videos/ftheta_camera_rear_tele_30fov", root / "videos/camera_rear_tele_30fov")
    only(check(root, HD), "unknown-view", "missing-view")


def test_no_clips(dataset: Make) -> None:
    root = dataset(P25)
    for p in (root / "videos").iterdir():
        p.unlink()
    for p in (root / "metas").iterdir():
        p.unlink()
    only(check(root, P25), "no-clips", "no-captions")


def test_not_mp4(dataset: Make) -> None:
    root = dataset(P25)
    (root / "videos" / "clip_0002.avi").write_bytes(b"RIFF")
    report = check(root, P25)
    only(report, "not-mp4")
    assert report.get("not-mp4").examples == ("videos/clip_0002.avi",)


def test_clip_missing_in_one_view(dataset: Make) -> None:
    root = dataset(P1)
    (root / "videos/pinhole_side_right/clip_0001.mp4").unlink()
    report = check(root, P1)
    only(report, "clip-missing-in-view")
    f = report.get("clip-missing-in-view")
    assert f.count == 1 and "pinhole_side_right/clip_0001.mp4" in f.examples[0]


def test_missing_control_when_the_experiment_needs_it(dataset: Make) -> None:
    root = dataset(T25)
    (root / "depth/clip_0001.mp4").unlink()
    only(check(root, T25), "missing-control")
    # the edge experiment computes its control on the fly: depth/ is not opened
    only(check(root, T25, experiment="transfer_singleview_edge_tiny"))


def test_missing_hdmap_control(dataset: Make) -> None:
    root = dataset(HD)
    (root / "control_input_hdmap_bbox/ftheta_camera_front_tele_30fov/clip_0000.mp4").unlink()
    only(check(root, HD), "missing-control")


def test_orphan_file_whose_name_matches_no_clip(dataset: Make) -> None:
    root = dataset(T25)
    os.rename(root / "captions/clip_0001.json", root / "captions/clip_1.json")
    report = check(root, T25)
    only(report, "orphan-file", "stand-in-caption")
    assert report.get("orphan-file").examples == ("captions/clip_1.json",)


# ---- files --------------------------------------------------------------------------------------------


def test_broken_symlink(dataset: Make) -> None:
    root = dataset(P25)
    target = root / "videos/clip_0001.mp4"
    target.unlink()
    target.symlink_to(root / "moved-away" / "clip_0001.mp4")
    report = check(root, P25)
    only(report, "broken-symlink")
    assert "moved-away" in report.get("broken-symlink").examples[0]


def test_view_folder_symlinked_to_nowhere(dataset: Make, tmp_path: Path) -> None:
    """Waymo conversion symlinks the pinhole_* folders into videos/; a moved source breaks them."""
    root = dataset(P1)
    shutil.rmtree(root / "videos/pinhole_front")
    (root / "videos/pinhole_front").symlink_to(tmp_path / "waymo_rds_hq" / "pinhole_front")
    report = check(root, P1)
    only(report, "broken-symlink", "missing-view")
    assert "waymo_rds_hq" in report.get("broken-symlink").examples[0]


def test_symlinked_view_folders_are_followed(dataset: Make, tmp_path: Path) -> None:
    root = dataset(P1)
    os.rename(root / "videos/pinhole_front", tmp_path / "pinhole_front")
    (root / "videos/pinhole_front").symlink_to(tmp_path / "pinhole_front")
    only(check(root, P1))


def test_working_symlink_is_fine(dataset: Make, tmp_path: Path) -> None:
    root = dataset(P25)
    real = tmp_path / "elsewhere.mp4"
    os.rename(root / "videos/clip_0001.mp4", real)
    (root / "videos/clip_0001.mp4").symlink_to(real)
    only(check(root, P25))


def test_empty_video(dataset: Make) -> None:
    root = dataset(P25)
    (root / "videos/clip_0000.mp4").write_bytes(b"")
    only(check(root, P25), "empty-file")


def test_unreadable_video(dataset: Make) -> None:
    root = dataset(P25)
    (root / "videos/clip_0000.mp4").write_bytes(b"this is not a video" * 100)
    report = check(root, P25)
    only(report, "broken-video")
    assert report.get("broken-video").examples[0].startswith("videos/clip_0000.mp4: ")


def _check_as_unprivileged(root: Path, layout: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{id: (fix, examples)}`` of validating ``root``, run by a user that file modes apply to.

    As root (file modes do not bind root) the check runs in a forked child that drops to ``nobody``;
    the dataset is copied under a world-traversable folder for it first.
    """
    if os.geteuid() != 0:
        return {f.id: (f.fix, f.examples) for f in check(root, layout).findings}
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="cosmos-tui-perm-"))
    base.chmod(0o755)
    shared = base / "ds"
    shutil.copytree(root, shared)
    for path in [shared, *shared.rglob("*")]:
        original = (root / path.relative_to(shared)).stat().st_mode & 0o777
        path.chmod(0o755 if path.is_dir() else 0o644 if original else 0)  # keep the test's mode 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, validate, send the findings back, exit without cleanup
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            found = {f.id: (f.fix, f.examples) for f in check(shared, layout).findings}
            os.write(w, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    shutil.rmtree(base)
    return {k: (v[0], tuple(v[1])) for k, v in json.loads(data).items()}


@pytest.mark.parametrize(
    "rel", ["videos/clip_0000.mp4", "metas/clip_0001.txt", "t5_xxl/pinhole_front/clip_0001.pkl"]
)
def test_unreadable_permissions_get_permission_advice(dataset: Make, rel: str) -> None:
    """Permission denied is a finding of its own: the advice is chmod, not re-encoding."""
    layout = P1 if rel.startswith("t5_xxl") else P25
    root = dataset(layout)
    (root / rel).chmod(0)
    found = _check_as_unprivileged(root, layout)
    assert set(found) - {"low-resolution"} == {"permission-denied"}, found
    fix, examples = found["permission-denied"]
    assert examples == (rel,)
    assert "chmod" in fix and "ffmpeg" not in fix and "re-encode" not in fix


# ---- frames, fps, codec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "experiment", "need"),
    [
        (P1, "text2world_singletomultiview_7b_example_waymo", 57),
        (T25, "transfer2_singleview_posttrain_depth_example", 93),
        (HD, "transfer2_auto_multiview_post_train_example", 29),
        (P25, "predict2_video2world_training_2b_cosmos_nemo_assets", 94),
        (P1, "s2mv_text2world_2b", 56),
    ],
)
def test_too_few_frames_for_the_experiment(dataset: Make, layout: str, experiment: str, need: int) -> None:
    report = check(dataset(layout), layout, experiment=experiment)
    only(report, "too-few-frames")
    assert report.min_frames == need
    assert report.get("too-few-frames").examples[0].endswith(f": {FRAMES} frames < {need}")


def test_p25_needs_one_frame_more_than_it_samples(dataset: Make) -> None:
    root = dataset(P25)
    video(root / "videos/clip_0000.mp4", frames=93)
    video(root / "videos/clip_0001.mp4", frames=94)
    report = check(root, P25, experiment="predict2_video2world_training_2b_cosmos_nemo_assets")
    assert report.get("too-few-frames").count == 1
    assert "clip_0000" in report.get("too-few-frames").examples[0]


def test_frames_override(dataset: Make) -> None:
    root = dataset(P25)
    only(check(root, P25, min_frames=FRAMES + 1), "too-few-frames")
    only(check(root, P25, min_frames=FRAMES))


def _truncated_faststart(path: Path, frames: int) -> None:
    """An mp4 whose header states ``frames`` frames but whose data holds fewer."""
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=10, options={"preset": "ultrafast", "crf": "0"})
        s.width, s.height, s.pix_fmt = 64, 64, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(frames):
            img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)  # noise: big frames
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_container_that_lies_about_its_frame_count(dataset: Make) -> None:
    root = dataset(P25)
    _truncated_faststart(root / "videos/clip_0000.mp4", frames=12)
    only(check(root, P25))  # the header alone looks fine
    report = check(root, P25, deep=True)
    assert "frame-count-mismatch" in report.ids()
    assert (
        report.get("frame-count-mismatch").examples[0].startswith("videos/clip_0000.mp4: states 12, decodes ")
    )


def test_frame_count_unknown_without_deep(dataset: Make) -> None:
    root = dataset(P25)
    path = root / "videos/clip_0000.mp4"
    with av.open(str(path), "w", format="matroska") as c:  # mkv states no frame count
        s = c.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(FRAMES):
            img = np.full((32, 32, 3), i * 20, dtype=np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    only(check(root, P25), "frame-count-unknown")
    only(check(root, P25, deep=True))  # decoding counts 8 frames: enough


def test_view_length_mismatch(dataset: Make) -> None:
    root = dataset(P1)
    video(root / "videos/pinhole_front_left/clip_0000.mp4", frames=FRAMES + 4)
    report = check(root, P1)
    only(report, "view-length-mismatch")
    assert "pinhole_front_left=12" in report.get("view-length-mismatch").examples[0]


def test_control_length_mismatch(dataset: Make) -> None:
    root = dataset(T25)
    video(root / "depth/clip_0001.mp4", frames=FRAMES + 2)
    report = check(root, T25)
    only(report, "control-length-mismatch")
    assert report.get("control-length-mismatch").examples == ("depth/clip_0001.mp4: 10 frames, clip has 8",)


def test_low_resolution_is_information(dataset: Make) -> None:
    report = check(dataset(P25), P25)
    f = report.get("low-resolution")
    assert f is not None and f.severity == "info" and f.count == 2 and report.ok
    # builtin experiments set their own resolution: no such finding
    assert check(dataset(P1), P1).get("low-resolution") is None


def test_odd_fps(dataset: Make) -> None:
    root = dataset(T25)
    video(root / "videos/clip_0000.mp4", fps=5)
    video(root / "depth/clip_0000.mp4", fps=5)  # the control at the clip's rate
    report = check(root, T25)
    only(report, "odd-fps")
    assert report.get("odd-fps").examples == ("videos/clip_0000.mp4: 5 fps (docs: 10-60)",)


def test_unusual_codec(dataset: Make) -> None:
    root = dataset(P25)
    with av.open(str(root / "videos/clip_0000.mp4"), "w", format="mp4") as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuvj420p"
        for i in range(FRAMES):
            img = np.full((32, 32, 3), i * 20, dtype=np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    report = check(root, P25)
    only(report, "unusual-codec")
    assert report.get("unusual-codec").examples == ("videos/clip_0000.mp4: mjpeg",)


# ---- what must agree between the views of a clip, and between a control and its clip ------------------


def test_view_fps_mismatch_is_a_warning_where_the_loader_reads_on(dataset: Make) -> None:
    """Predict1 reads the same frame numbers from every view whatever its rate."""
    root = dataset(P1)
    video(root / "videos/pinhole_side_left/clip_0001.mp4", fps=12)
    report = check(root, P1)
    only(report, "view-fps-mismatch")
    f = report.get("view-fps-mismatch")
    assert f.severity == "warning" and report.ok
    assert f.examples == (
        "clip_0001: pinhole_front=10 fps, pinhole_front_left=10 fps, pinhole_front_right=10 fps, "
        "pinhole_side_left=12 fps, pinhole_side_right=10 fps",
    )


def test_fps_mismatch_is_an_error_where_the_loader_raises(dataset: Make) -> None:
    """The HDMap loader raises "Video FPS does not match" and "Control FPS ... does not match"."""
    root = dataset(HD)
    video(root / "videos/ftheta_camera_rear_tele_30fov/clip_0000.mp4", fps=12)
    video(root / "control_input_hdmap_bbox/ftheta_camera_rear_tele_30fov/clip_0000.mp4", fps=12)
    video(root / "control_input_hdmap_bbox/ftheta_camera_front_tele_30fov/clip_0001.mp4", fps=15)
    report = check(root, HD)
    only(report, "view-fps-mismatch", "control-fps-mismatch")
    assert report.get("view-fps-mismatch").severity == "error" and not report.ok
    assert report.get("view-fps-mismatch").clips == ("clip_0000",)
    assert report.get("control-fps-mismatch").examples == (
        "control_input_hdmap_bbox/ftheta_camera_front_tele_30fov/clip_0001.mp4: 15 fps, clip has 10 fps",
    )
    assert report.get("control-fps-mismatch").severity == "error"


def test_view_resolution_mismatch(dataset: Make) -> None:
    root = dataset(P1)
    video(root / "videos/pinhole_front_right/clip_0000.mp4", size=(32, 48))
    report = check(root, P1)
    only(report, "view-resolution-mismatch")
    assert "pinhole_front_right=32x48" in report.get("view-resolution-mismatch").examples[0]


@pytest.mark.parametrize(
    ("layout", "control", "size", "how"),
    [
        (T25, "depth/clip_0001.mp4", (48, 32), "another aspect ratio, stretched onto the clip"),
        (T25, "seg/clip_0001.mp4", (64, 64), "scaled to the clip's size"),
        (HD, "control_input_hdmap_bbox/ftheta_camera_cross_left_120fov/clip_0001.mp4", (32, 64), "another"),
    ],
)
def test_control_resolution_mismatch(
    dataset: Make, layout: str, control: str, size: tuple[int, int], how: str
) -> None:
    root = dataset(layout)
    video(root / control, size=size)
    report = check(
        root, layout, **({"experiment": "transfer_singleview_seg_tiny"} if "seg" in control else {})
    )
    only(report, "control-resolution-mismatch")
    f = report.get("control-resolution-mismatch")
    assert (
        f.examples[0].startswith(f"{control}: {size[0]}x{size[1]}, clip has 32x32 (") and how in f.examples[0]
    )


@pytest.mark.parametrize(
    ("layout", "control"),
    [
        (T25, "seg/clip_0000.mp4"),
        (HD, "control_input_hdmap_bbox/ftheta_camera_rear_left_70fov/clip_0001.mp4"),
    ],
)
@pytest.mark.parametrize("frames", [FRAMES - 3, FRAMES + 5])
def test_control_length_mismatch_in_every_layout(
    dataset: Make, layout: str, control: str, frames: int
) -> None:
    root = dataset(layout)
    video(root / control, frames=frames)
    report = check(root, layout, min_frames=FRAMES - 3)
    only(report, "control-length-mismatch")
    assert report.get("control-length-mismatch").examples == (
        f"{control}: {frames} frames, clip has {FRAMES}",
    )


def test_control_checks_follow_the_control_the_loader_opens(dataset: Make) -> None:
    """Transfer2.5 opens depth/<name with every '.mp4' removed>.mp4 for videos/<name>.mp4."""
    root = dataset(T25)
    for folder, ext in (("videos", ".mp4"), ("depth", ".mp4"), ("seg", ".mp4"), ("captions", ".json")):
        os.rename(root / folder / f"clip_0001{ext}", root / folder / f"cam.mp4.clip_0001{ext}")
    os.rename(root / "videos/cam.mp4.clip_0001.mp4", root / "videos/cam.mp4.clip_0001.mp4.mp4")
    # the loader's names for video "cam.mp4.clip_0001.mp4.mp4": cam.clip_0001.{json,mp4}
    for folder, ext in (("depth", ".mp4"), ("seg", ".mp4"), ("captions", ".json")):
        os.rename(root / folder / f"cam.mp4.clip_0001{ext}", root / folder / f"cam.clip_0001{ext}")
    video(root / "depth/cam.clip_0001.mp4", size=(32, 64))
    report = check(root, T25)
    only(report, "mangled-name", "control-resolution-mismatch")
    assert report.get("control-resolution-mismatch").examples[0].startswith("depth/cam.clip_0001.mp4: 32x64")


# ---- names: what the loader derives from a video's file name ---------------------------------------


def _loader_names(layout: str, video_name: str) -> dict[str, str]:
    """Companion names exactly as the upstream loaders compute them (their code, copied verbatim)."""
    if layout == P1:  # dataset_multiview.py
        return {"t5": os.path.basename(video_name).replace(".mp4", ".pkl")}
    name = os.path.basename(video_name).replace(".mp4", "")  # singleview_dataset.py, dataset_video.py
    return {"caption": f"{name}.json" if layout == T25 else f"{name}.txt", "control": f"{name}.mp4"}


def _rename_clip(root: Path, layout: str, new: str, *, loader_names: bool) -> None:
    """Rename clip_0001 to video ``new`` (ends in .mp4); companions by the loader's rule or naively."""
    stem = new[: -len(".mp4")]
    names = _loader_names(layout, new)
    if layout == P1:
        for view in LAYOUTS[P1].views:
            os.rename(root / "videos" / view / "clip_0001.mp4", root / "videos" / view / new)
        t5 = names["t5"] if loader_names else f"{stem}.pkl"
        os.rename(root / T5 / "clip_0001.pkl", root / T5 / t5)
        for view in LAYOUTS[P1].views[1:]:
            os.rename(root / "t5_xxl" / view / "clip_0001.pkl", root / "t5_xxl" / view / t5)
        return
    os.rename(root / "videos/clip_0001.mp4", root / "videos" / new)
    cap_dir, cap_ext = ("captions", ".json") if layout == T25 else ("metas", ".txt")
    os.rename(
        root / cap_dir / f"clip_0001{cap_ext}",
        root / cap_dir / (names["caption"] if loader_names else f"{stem}{cap_ext}"),
    )
    if layout == T25:
        for control in ("depth", "seg"):
            os.rename(
                root / control / "clip_0001.mp4",
                root / control / (names["control"] if loader_names else f"{stem}.mp4"),
            )


NAME_PARTS = st.lists(
    st.sampled_from(["a", "b7", "_", "-", ".", ".mp4", "mp4", ".MP4", " "]), min_size=1, max_size=6
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=NAME_PARTS, layout=st.sampled_from([P1, T25, P25]))
def test_companions_named_as_the_loader_derives_them_are_found(
    dataset: Make, parts: list[str], layout: str
) -> None:
    """Any video name: files named by the loader's own expression pair up; '.mp4' inside is a warning."""
    stem = "x" + "".join(parts)
    root = dataset(layout)
    try:
        _rename_clip(root, layout, f"{stem}.mp4", loader_names=True)
        report = check(root, layout)
        renamed = ".mp4" in stem
        only(report, *(["mangled-name"] if renamed else []))
        if renamed:
            f = report.get("mangled-name")
            assert f.clips == (stem,) and f.severity == "warning" and report.ok
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("layout", [P1, T25, P25])
def test_companions_named_after_the_stem_are_not_what_the_loader_opens(dataset: Make, layout: str) -> None:
    """``x.mp4.y.mp4`` beside ``x.mp4.y.json``: the loader looks for ``x.y.json`` (or ``x.pkl.y.pkl``)."""
    root = dataset(layout)
    _rename_clip(root, layout, "x.mp4.y.mp4", loader_names=False)
    report = check(root, layout)
    missing = {P1: "missing-embedding", T25: "missing-control", P25: "stand-in-caption"}[layout]
    assert {"mangled-name", missing, "orphan-file"} <= report.ids()
    assert not report.ok
    expected = {P1: "t5_xxl/pinhole_front/x.pkl.y.pkl", T25: "depth/x.y.mp4", P25: "metas/x.y.txt"}[layout]
    assert expected in report.get(missing).examples[0]
    assert expected in report.get("mangled-name").examples[0]
    if layout == T25:  # the caption falls back to "a video": an error of its own
        assert "captions/x.y.json" in report.get("stand-in-caption").examples[0]


def test_predict1_opens_every_entry_of_the_first_view_folder(dataset: Make) -> None:
    """``os.listdir(videos/pinhole_front)``: a .DS_Store, a note or a folder there stops the loader."""
    root = dataset(P1)
    front, side = root / "videos/pinhole_front", root / "videos/pinhole_side_left"
    for folder in (front, side):
        (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        (folder / "notes.txt").write_text("to do")
        (folder / "old").mkdir()
    report = check(root, P1)
    only(report, "listed-non-video", "not-mp4")
    assert report.get("listed-non-video").items == (
        "videos/pinhole_front/.DS_Store",
        "videos/pinhole_front/notes.txt",
        "videos/pinhole_front/old/ (a folder)",
    )
    assert report.get("not-mp4").items == ("videos/pinhole_side_left/notes.txt",)  # never opened


def test_predict1_opens_hidden_mp4_names_of_the_first_view_only(dataset: Make) -> None:
    root = dataset(P1)
    (root / "videos/pinhole_side_left/._clip_0000.mp4").write_bytes(bytes(4096))  # never listed
    only(check(root, P1))
    (root / "videos/pinhole_front/._clip_0000.mp4").write_bytes(bytes(4096))  # listed and opened
    report = check(root, P1)
    assert not report.ok and report.get("broken-video").clips == ("._clip_0000",)


@pytest.mark.parametrize("layout", [T25, P25])
def test_hidden_mp4_is_a_clip_where_the_loader_lists_every_mp4(dataset: Make, layout: str) -> None:
    """``f.endswith(".mp4")`` takes ``._clip_0000.mp4`` (macOS resource data) as a clip."""
    root = dataset(layout)
    (root / "videos/._clip_0000.mp4").write_bytes(b"\x00\x05\x16\x07" + bytes(4092))
    report = check(root, layout)
    assert report.clips == 3 and not report.ok
    assert report.get("broken-video").clips == ("._clip_0000",)


def test_hidden_files_are_ignored_where_the_loader_does_not_list_videos(dataset: Make) -> None:
    """The HDMap loader builds video names from caption stems; it never opens ._x.mp4."""
    root = dataset(HD)
    (root / "videos/ftheta_camera_front_wide_120fov/._clip_0000.mp4").write_bytes(bytes(4096))
    only(check(root, HD))


def test_hdmap_names_are_plain_stems(dataset: Make) -> None:
    """The HDMap loader opens <caption stem>.mp4, so x.mp4.y.mp4 pairs with x.mp4.y.json."""
    root = dataset(HD)
    for path in sorted(root.rglob("clip_0001.*")):
        os.rename(path, path.with_name(path.name.replace("clip_0001", "x.mp4.y")))
    only(check(root, HD))


# ---- captions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "caption", "title", "examples"),
    [
        (
            P25,
            "metas/clip_0001.txt",
            "upstream will train 1 clip on an empty caption ('')",
            ("clip_0001: no metas/clip_0001.txt (no *.json in captions/)",),
        ),
        (T25, "captions/clip_0001.json", "upstream will train 1 clip on the caption 'a video'", None),
    ],
    ids=["predict25-empty-caption", "transfer25-a-video"],
)
def test_a_missing_caption_trains_on_a_stand_in(
    dataset: Make, layout: str, caption: str, title: str, examples: tuple[str, ...] | None
) -> None:
    root = dataset(layout)
    (root / caption).unlink()
    report = check(root, layout)
    only(report, "stand-in-caption")
    f = report.get("stand-in-caption")
    assert f.severity == "error" and not report.ok
    assert f.title == title
    if examples is not None:
        assert f.examples == examples


def test_metas_txt_is_read_where_there_is_no_captions_folder(dataset: Make) -> None:
    root = dataset(T25)
    shutil.rmtree(root / "captions")
    (root / "metas").mkdir()
    for clip in ("clip_0000", "clip_0001"):
        (root / f"metas/{clip}.txt").write_text("a caption\n")
    only(check(root, T25))


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ("", "only whitespace"),
        ("{not json", "not JSON"),
        ('{"description": "x"}', "no non-empty caption / text / prompt key"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_caption(dataset: Make, content: str, detail: str) -> None:
    root = dataset(T25)
    (root / "captions/clip_0000.json").write_text(content)
    report = check(root, T25)
    expected = "empty-file" if content == "" else "bad-caption"
    # json.load fails on the first two: the loader then trains the clip on "a video"
    only(report, expected, *(["stand-in-caption"] if content in ("", "{not json") else []))
    if expected == "bad-caption":
        assert detail in report.get("bad-caption").examples[0]


def test_hdmap_caption_needs_the_caption_key(dataset: Make) -> None:
    root = dataset(HD)
    path = root / "captions/ftheta_camera_front_wide_120fov/clip_0000.json"
    path.write_text(json.dumps({"prompt": "x"}))
    only(check(root, HD), "bad-caption")


@pytest.mark.parametrize(
    ("layout", "rel", "content"),
    [
        (P25, "metas/clip_0000.txt", b"\x00" * 64),
        (P25, "metas/clip_0000.txt", b"a car drives \x1b[31mleft\x1b[0m\n"),
        (T25, "captions/clip_0000.json", b'{"caption": "\\u0000\\u0000\\u0000"}'),
        (T25, "captions/clip_0000.json", b'{"text": "ok", "caption": "bell\\u0007"}'),  # caption wins
        (HD, "captions/ftheta_camera_front_wide_120fov/clip_0000.json", b'{"caption": "\\ud800 lone"}'),
        (P25, "captions/clip_0000.json", b'{"qwen": {"long": "\\u0001 read", "short": "fine"}}'),
    ],
    ids=["nul-filled", "escape-codes", "json-nul", "json-bell", "lone-surrogate", "nested-schema"],
)
def test_caption_with_control_characters(dataset: Make, layout: str, rel: str, content: bytes) -> None:
    root = dataset(layout)
    if rel.startswith("captions/") and layout == P25:  # JSON for every clip, as the loader then reads
        shutil.rmtree(root / "metas")
        (root / "captions").mkdir()
        (root / "captions/clip_0001.json").write_text('{"qwen": {"long": "a caption"}}')
    (root / rel).write_bytes(content)
    report = check(root, layout)
    only(report, "caption-control-chars")
    assert report.get("caption-control-chars").examples[0].startswith(f"{rel}: ")
    assert not report.ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=80).filter(str.strip),
    control=st.one_of(st.none(), st.characters(whitelist_categories=("Cc",), blacklist_characters="\t\n\r")),
    at=st.integers(0, 80),
)
def test_any_control_character_in_a_caption_is_found(
    p25_root: Path, text: str, control: str | None, at: int
) -> None:
    """Text of any script passes; one control character anywhere (other than tab and newlines) does not."""
    if control is not None:
        text = text[:at] + control + text[at:]
    (p25_root / "metas/clip_0000.txt").write_text(text, encoding="utf-8")
    report = check(p25_root, P25)
    only(report, *(["caption-control-chars"] if control is not None else []))


@pytest.fixture
def p25_root(dataset: Make) -> Path:
    """One copy of the Predict2.5 dataset for all examples of a hypothesis test."""
    return dataset(P25)


def test_caption_text_with_tabs_newlines_and_any_script_is_fine(dataset: Make) -> None:
    root = dataset(T25)
    caption = "Ein Auto fährt\tnach links.\r\n車が左へ走る。 🚗\n"
    (root / "captions/clip_0000.json").write_text(json.dumps({"caption": caption}))
    only(check(root, T25))


@pytest.mark.parametrize("content", [b"caf\xe9 au lait", b"\xff\xfe" + "utf-16".encode("utf-16-le")])
def test_caption_that_is_not_utf8(dataset: Make, content: bytes) -> None:
    root = dataset(P25)
    (root / "metas/clip_0001.txt").write_bytes(content)
    report = check(root, P25)
    only(report, "caption-not-utf8", "stand-in-caption")  # read_text() fails: an empty caption
    f = report.get("caption-not-utf8")
    assert f.examples[0].startswith("metas/clip_0001.txt: not UTF-8 (byte 0x")
    assert "iconv" in f.fix and "ffmpeg" not in f.fix


@pytest.mark.parametrize("content", [" \n\t ", "\u3000\u2003\n"])
def test_whitespace_only_caption(dataset: Make, content: str) -> None:
    root = dataset(P25)
    (root / "metas/clip_0001.txt").write_text(content)
    only(check(root, P25), "bad-caption")


# ---- embeddings ---------------------------------------------------------------------------------------

T5 = "t5_xxl/pinhole_front"


@pytest.mark.parametrize(
    ("source", "target", "finding", "examples", "fixable"),
    [
        (f"{T5}/clip_0000.pkl", None, "missing-embedding", None, None),
        ("t5_xxl/pinhole_side_left/clip_0000.pkl", None, None, None, None),  # a view the loader does not read
        (
            "cache/prefix_pinhole_side_left.pkl",
            None,
            "missing-prefix",
            ("cache/prefix_pinhole_side_left.pkl",),
            None,
        ),
        (
            "cache/prefix_pinhole_front.pkl",
            "cache/prefix_t5_embeddings_pinhole_front.pkl",
            "wrong-prefix-name",
            None,
            True,
        ),
        (
            f"{T5}/clip_0001.pkl",
            f"{T5}/clip_0001.pickle",
            "wrong-pickle-ext",
            (f"{T5}/clip_0001.pickle",),
            None,
        ),
    ],
    ids=[
        "missing-embedding",
        "unread-view-is-fine",
        "missing-prefix",
        "prefix-named-as-in-the-docs",
        "pickle-ext",
    ],
)
def test_an_embedding_file_removed_or_renamed(
    dataset: Make,
    source: str,
    target: str | None,
    finding: str | None,
    examples: tuple[str, ...] | None,
    fixable: bool | None,
) -> None:
    """``source`` removed (``target`` None) or renamed to ``target`` gives ``finding`` alone."""
    root = dataset(P1)
    if target is None:
        (root / source).unlink()
    else:
        os.rename(root / source, root / target)
    report = check(root, P1)
    only(report, *([finding] if finding else []))
    if examples is not None:
        assert report.get(finding).examples == examples
    if fixable is not None:
        assert report.get(finding).fixable is fixable


def test_get_t5_embeddings_from_waymo_output(dataset: Make) -> None:
    """That script writes float16 lists as .pickle, and prefix_t5_embeddings_<view>.pickle."""
    root = dataset(P1)
    for p in list((root / "t5_xxl").rglob("*.pkl")):
        dump(p.with_suffix(".pickle"), [emb(12, dtype=np.float16)])
        p.unlink()
    for p in list((root / "cache").glob("prefix_*.pkl")):
        view = p.stem[len("prefix_") :]
        dump(root / "cache" / f"prefix_t5_embeddings_{view}.pickle", emb(7, dtype=np.float16))
        p.unlink()
    report = check(root, P1)
    only(report, "wrong-pickle-ext", "wrong-prefix-name")
    assert report.get("wrong-prefix-name").count == 5


def test_malicious_pickle_is_caught_and_never_executed(dataset: Make, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    root = dataset(P1)
    dump(root / T5 / "clip_0000.pkl", [Evil()])
    dump(root / "cache/prefix_pinhole_front.pkl", Evil())
    report = check(root, P1)
    only(report, "unsafe-pickle")
    f = report.get("unsafe-pickle")
    assert f.count == 2 and "system" in f.examples[0]
    assert not marker.exists()
    # --fix leaves it alone as well
    from cosmos_tui.core.datasets.fix import apply_fixes, plan_fixes

    apply_fixes(plan_fixes(root, P1))
    assert not marker.exists()


def test_unreadable_pickle(dataset: Make) -> None:
    root = dataset(P1)
    path = root / T5 / "clip_0000.pkl"
    path.write_bytes(path.read_bytes()[:50])
    only(check(root, P1), "unreadable-pickle")


def test_pickle_declaring_a_huge_object_is_unreadable_not_a_crash(dataset: Make) -> None:
    """A damaged BINBYTES8 length asks the unpickler for 2**62 bytes; that is a finding, not a MemoryError."""
    root = dataset(P1)
    path = root / T5 / "clip_0000.pkl"
    path.write_bytes(b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"abc")
    report = check(root, P1)
    only(report, "unreadable-pickle")
    found = next(f for f in report.findings if f.id == "unreadable-pickle")
    assert "larger than memory" in found.examples[0]


@pytest.mark.parametrize(
    ("damage", "raised"),
    [
        (b"\x80\x04\x95" + (2**63).to_bytes(8, "little"), "OverflowError"),  # FRAME past sys.maxsize
        (b"\x80\x04", "EOFError"),  # cut after the protocol
        (b"\x80\x04\x8c\x03\xff\xfe\xfd.", "UnicodeDecodeError"),  # a string that is not UTF-8
    ],
)
def test_any_damage_the_unpickler_trips_on_is_a_finding(dataset: Make, damage: bytes, raised: str) -> None:
    """Damaged opcodes raise more than UnpicklingError (found by the fuzzer: an OverflowError)."""
    root = dataset(P1)
    (root / T5 / "clip_0000.pkl").write_bytes(damage)
    report = check(root, P1)
    only(report, "unreadable-pickle")
    found = next(f for f in report.findings if f.id == "unreadable-pickle")
    assert f"damaged pickle: {raised}" in found.examples[0]


def test_empty_pickle(dataset: Make) -> None:
    root = dataset(P1)
    (root / T5 / "clip_0000.pkl").write_bytes(b"")
    only(check(root, P1), "empty-file")


@pytest.mark.parametrize(
    ("where", "content", "finding", "detail"),
    [
        ("clip", emb(), "embedding-wrong-container", "array (10, 1024), loader expects [array]"),
        ("prefix", [emb()], "embedding-wrong-container", "[array (10, 1024)], loader expects a bare array"),
        ("clip", {"emb": 1}, "embedding-not-array", "holds a dict"),
        ("clip", [], "embedding-not-array", "holds a list of 0 item(s)"),
        ("clip", {"a": emb()}, "embedding-not-array", "holds a dict"),
        ("clip", [emb()[None]], "embedding-batch-dim", "shape (1, 10, 1024)"),
        ("prefix", emb()[None], "embedding-batch-dim", "shape (1, 10, 1024)"),
        ("clip", [emb(10, 768)], "embedding-bad-shape", "shape (10, 768), expected (L, 1024)"),
        ("clip", [np.zeros(1024, np.float32)], "embedding-bad-shape", "shape (1024,)"),
        ("clip", [emb(600)], "embedding-too-long", "600 tokens > 512"),
        ("prefix", emb(dtype=np.float64), "embedding-bad-dtype", "float64"),
    ],
)
def test_embedding_contents(dataset: Make, where: str, content: object, finding: str, detail: str) -> None:
    root = dataset(P1)
    path = root / (f"{T5}/clip_0001.pkl" if where == "clip" else "cache/prefix_pinhole_front_right.pkl")
    dump(path, content)
    report = check(root, P1)
    only(report, finding)
    assert detail in report.get(finding).examples[0]
    assert report.get(finding).severity == KINDS[finding].severity


@pytest.mark.parametrize(
    "content",
    [
        [emb(), emb(3)],  # the loader takes pickle.load(f)[0]; the rest is never read
        (emb(),),
        [emb(), "anything"],
        {0: emb()},
        emb()[None],  # a bare (1, L, 1024) array: [0] is the (L, 1024) embedding
        np.stack([emb(), emb()]),
    ],
    ids=["list-of-two", "tuple", "list-with-junk", "dict-key-0", "bare-batch-dim", "bare-stack"],
)
def test_clip_embeddings_the_loader_reads_are_accepted(dataset: Make, content: object) -> None:
    """What ``pickle.load(f)[0]`` turns into an (L, 1024) array is what the loader trains on."""
    root = dataset(P1)
    dump(root / T5 / "clip_0001.pkl", content)
    report = check(root, P1)
    only(report)


@pytest.fixture
def p1_root(dataset: Make) -> Path:
    """One copy of the Predict1 dataset for all examples of a hypothesis test (each rewrites its files)."""
    return dataset(P1)


def _with_bad_values(array: np.ndarray, data) -> tuple[np.ndarray, int, int]:
    """``array`` with NaN and Inf drawn into some positions; returns it and the counts."""
    flat = array.reshape(-1)
    picks = data.draw(
        st.lists(
            st.tuples(st.integers(0, flat.size - 1), st.sampled_from(["nan", "inf", "-inf"])), min_size=1
        )
    )
    for i, v in picks:
        flat[i] = float(v)
    return array, int(np.isnan(array).sum()), int(np.isinf(array).sum())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    where=st.sampled_from(["clip", "prefix"]),
    dtype=st.sampled_from(["<f4", ">f4", "<f2", ">f2"]),
    protocol=st.sampled_from([2, 4, 5]),
    length=st.integers(1, 40),
)
def test_nan_inf_and_byte_order_anywhere_are_found(
    p1_root: Path, data, where: str, dtype: str, protocol: int, length: int
) -> None:
    """Any non-finite value, in any embedding file, dtype, byte order and pickle protocol.

    numpy byteswaps a non-native array to native when it unpickles one written with protocol <= 4
    (``ndarray.__setstate__``), so the loader only meets big-endian data in protocol-5 pickles
    (``_frombuffer`` keeps the dtype); the finding follows that.
    """
    root = p1_root
    dump(root / T5 / "clip_0001.pkl", [emb()])  # undo the last example
    dump(root / "cache/prefix_pinhole_side_left.pkl", emb())
    rng = np.random.default_rng(length)
    array = rng.standard_normal((length, 1024)).astype(dtype)
    bad = data.draw(st.booleans())
    nan = inf = 0
    if bad:
        array, nan, inf = _with_bad_values(array, data)
    path = root / (f"{T5}/clip_0001.pkl" if where == "clip" else "cache/prefix_pinhole_side_left.pkl")
    dump(path, [array] if where == "clip" else array, protocol=protocol)
    report = check(root, P1)
    expected = {"embedding-not-finite"} if bad else set()
    if dtype.startswith(">") and protocol == 5:
        expected.add("embedding-byte-order")
    only(report, *expected)
    if bad:
        assert (
            f"{nan} NaN, {inf} Inf of {array.size} values" in report.get("embedding-not-finite").examples[0]
        )


def _upstream_loader_reads(path: Path, where: str) -> bool:
    """Run the Predict1 loader's own lines on a T5 file (our own test data, so plain pickle).

    From cosmos_predict1/diffusion/training/datasets/dataset_multiview.py (``__init__`` for a prefix,
    ``__getitem__`` for view ``pinhole_front`` with ``load_mv_emb=False``), then the ``torch.cat``
    across views with one more (512, 1024) view.
    """
    import torch

    try:
        with open(path, "rb") as f:
            t5_embedding = pickle.load(f)[0] if where == "clip" else pickle.load(f)
        t5_embedding = torch.from_numpy(t5_embedding)
        t5_mask = torch.ones(t5_embedding.shape[0], dtype=torch.int64)
        if t5_embedding.shape[0] < 512:
            t5_embedding = torch.cat([t5_embedding, torch.zeros(512 - t5_embedding.shape[0], 1024)], dim=0)
            t5_mask = torch.cat([t5_mask, torch.zeros(512 - t5_mask.shape[0])], dim=0)
        else:
            t5_embedding = t5_embedding[:512]
            t5_mask = t5_mask[:512]
        torch.cat([t5_embedding, torch.zeros(512, 1024)], dim=0)
    except Exception:
        return False
    return True


ARRAYS = st.builds(
    lambda shape, dtype: np.ones(shape, dtype=dtype),
    st.sampled_from([(5, 1024), (1, 5, 1024), (2, 5, 1024), (0, 1024), (600, 1024), (5, 768), (1024,), ()]),
    st.sampled_from(["<f4", ">f4", "<f2", ">f2", "<f8", "<i4", "|b1"]),
)
CONTAINERS = {
    "bare": lambda a: a,
    "[a]": lambda a: [a],
    "[a, a]": lambda a: [a, np.zeros(3)],
    "(a,)": lambda a: (a,),
    "{0: a}": lambda a: {0: a},
    "[[a]]": lambda a: [[a]],
    "[]": lambda a: [],
    "{'e': a}": lambda a: {"e": a},
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    array=ARRAYS,
    container=st.sampled_from(sorted(CONTAINERS)),
    protocol=st.sampled_from([2, 4, 5]),
    nan=st.booleans(),
    where=st.sampled_from(["clip", "prefix"]),
)
def test_embedding_verdict_matches_the_upstream_loader(
    p1_root: Path, array: np.ndarray, container: str, protocol: int, nan: bool, where: str
) -> None:
    """Whatever the loader's lines reject is an error; whatever they read cleanly is accepted.

    Clean means what the loader reads is a finite float32/float16 (L, 1024) array with L >= 1; the
    validator is stricter on purpose than the loader for the rest (float64 or int arrays, L = 0,
    NaN/Inf all load but train wrongly).
    """
    if nan and array.dtype.kind == "f" and array.size:
        array.reshape(-1)[array.size // 2] = np.nan
    dump(p1_root / T5 / "clip_0001.pkl", [emb()])  # undo the last example
    dump(p1_root / "cache/prefix_pinhole_side_left.pkl", emb())
    path = p1_root / (f"{T5}/clip_0001.pkl" if where == "clip" else "cache/prefix_pinhole_side_left.pkl")
    dump(path, CONTAINERS[container](array), protocol=protocol)
    report = check(p1_root, P1)
    with open(path, "rb") as f:
        obj = pickle.load(f)
    if not _upstream_loader_reads(path, where):
        assert not report.ok, (container, array.shape, array.dtype, report.ids())
        return
    read = np.asarray(obj[0] if where == "clip" else obj)
    clean = (
        read.dtype.name in ("float32", "float16")
        and read.ndim == 2
        and read.shape[0] >= 1
        and read.shape[1] == 1024
        and bool(np.isfinite(read).all())
    )
    if clean:
        assert report.ok, (container, array.shape, array.dtype, [(f.id, f.examples) for f in report.findings])


def test_big_endian_embedding_is_byteswapped_by_fix(dataset: Make) -> None:
    from cosmos_tui.core.datasets.fix import apply_fixes, plan_fixes
    from cosmos_tui.core.datasets.pickles import load_arrays

    root = dataset(P1)
    path = root / T5 / "clip_0001.pkl"
    array = np.random.default_rng(0).standard_normal((7, 1024)).astype(">f4")
    dump(path, [array], protocol=5)
    original = path.read_bytes()
    report = check(root, P1)
    only(report, "embedding-byte-order")
    assert report.get("embedding-byte-order").fixable
    [action] = plan_fixes(root, P1)
    assert action.findings == ("embedding-byte-order",)
    apply_fixes([action])
    fixed = load_arrays(path)[0]
    assert fixed.dtype.isnative and np.array_equal(fixed, array)
    assert (root / T5 / "clip_0001.pkl.orig").read_bytes() == original  # kept beside it
    only(check(root, P1))


def test_fix_does_not_touch_an_embedding_with_nan(dataset: Make) -> None:
    from cosmos_tui.core.datasets.fix import plan_fixes

    root = dataset(P1)
    array = emb()[None]
    array[0, 3, 5] = np.nan
    dump(root / T5 / "clip_0001.pkl", [array])  # batch dim would be fixable, the NaN is not
    only(check(root, P1), "embedding-batch-dim", "embedding-not-finite")
    assert plan_fixes(root, P1) == []


def test_every_finding_kind_has_a_test() -> None:
    here = Path(__file__).parent
    source = "".join(p.read_text() for pat in ("test_data_*.py", "test_cosmos3_*.py") for p in here.glob(pat))
    untested = [fid for fid in KINDS if f'"{fid}"' not in source]
    assert not untested


def test_workers_do_not_change_the_report(dataset: Make) -> None:
    root = dataset(P1)
    (root / "videos/pinhole_side_right/clip_0001.mp4").write_bytes(b"")
    dump(root / T5 / "clip_0000.pkl", [emb()[None]])
    a = validate(root, P1, experiment=EXPERIMENT[P1], workers=1)
    b = validate(root, P1, experiment=EXPERIMENT[P1], workers=4)
    assert a.findings == b.findings and a.videos == b.videos


def test_progress_reports_every_clip(dataset: Make) -> None:
    calls: list[tuple[int, int]] = []
    validate(dataset(P1), P1, experiment=EXPERIMENT[P1], progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)


def test_plain_pickle_of_our_synth_data_matches(dataset: Make) -> None:
    """The restricted unpickler reads what plain pickle reads, for honest files."""
    from cosmos_tui.core.datasets.pickles import load_arrays

    path = dataset(P1) / T5 / "clip_0000.pkl"
    with open(path, "rb") as f:
        plain = pickle.load(f)
    assert np.array_equal(load_arrays(path)[0], plain[0])


def test_tally_keeps_every_clip_and_caps_the_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is bounded per finding by MAX_ITEMS occurrences; the clip names stay complete."""
    from cosmos_tui.core.datasets import findings

    monkeypatch.setattr(findings, "MAX_ITEMS", 4)
    tally = findings.Tally()
    for clip in range(6):
        for view in range(3):
            tally.add("too-few-frames", f"videos/v{view}/c{clip}.mp4: short", subject=f"c{clip}")
    [f] = tally.findings()
    assert f.count == 18 and f.clips == tuple(f"c{i}" for i in range(6)) and len(f.items) == 4
    assert f.examples == ("videos/v0/c0.mp4: short", "videos/v0/c1.mp4: short")  # the kept ones


def test_an_os_error_other_than_permission_is_an_unreadable_file(tmp_path: Path) -> None:
    from cosmos_tui.core.datasets.walk import check_file as _check_file

    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    out: list[tuple[str, str]] = []
    assert not _check_file(tmp_path / "a.mp4", "videos/a.mp4", out)
    assert [fid for fid, _ in out] == ["unreadable-file"]
