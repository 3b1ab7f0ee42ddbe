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
    only(check(root, P25), "no-clips")


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
    only(report, "orphan-file", "missing-caption")
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
    only(report, "unreadable-file")
    assert report.get("unreadable-file").examples[0].startswith("videos/clip_0000.mp4: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_permissions(dataset: Make) -> None:
    root = dataset(P25)
    (root / "videos/clip_0000.mp4").chmod(0)
    only(check(root, P25), "unreadable-file")


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


# ---- captions -----------------------------------------------------------------------------------------


def test_missing_caption_is_an_error_where_the_loader_needs_one(dataset: Make) -> None:
    root = dataset(P25)
    (root / "metas/clip_0001.txt").unlink()
    report = check(root, P25)
    only(report, "missing-caption")
    assert report.get("missing-caption").severity == "error" and not report.ok


def test_missing_caption_is_a_warning_where_the_loader_falls_back(dataset: Make) -> None:
    root = dataset(T25)
    (root / "captions/clip_0001.json").unlink()
    report = check(root, T25)
    only(report, "missing-caption")
    f = report.get("missing-caption")
    assert f.severity == "warning" and report.ok and '"a video"' in f.examples[0]


def test_metas_txt_is_an_accepted_caption_source(dataset: Make) -> None:
    root = dataset(T25)
    os.remove(root / "captions/clip_0001.json")
    (root / "metas").mkdir()
    (root / "metas/clip_0001.txt").write_text("a caption\n")
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
    only(report, expected)
    if expected == "bad-caption":
        assert detail in report.get("bad-caption").examples[0]


def test_hdmap_caption_needs_the_caption_key(dataset: Make) -> None:
    root = dataset(HD)
    path = root / "captions/ftheta_camera_front_wide_120fov/clip_0000.json"
    path.write_text(json.dumps({"prompt": "x"}))
    only(check(root, HD), "bad-caption")


# ---- embeddings ---------------------------------------------------------------------------------------

T5 = "t5_xxl/pinhole_front"


def test_missing_embedding(dataset: Make) -> None:
    root = dataset(P1)
    (root / T5 / "clip_0000.pkl").unlink()
    only(check(root, P1), "missing-embedding")


def test_missing_embedding_in_a_view_the_loader_does_not_read_is_fine(dataset: Make) -> None:
    root = dataset(P1)
    (root / "t5_xxl/pinhole_side_left/clip_0000.pkl").unlink()
    only(check(root, P1))


def test_missing_prefix(dataset: Make) -> None:
    root = dataset(P1)
    (root / "cache/prefix_pinhole_side_left.pkl").unlink()
    report = check(root, P1)
    only(report, "missing-prefix")
    assert report.get("missing-prefix").examples == ("cache/prefix_pinhole_side_left.pkl",)


def test_prefix_named_as_in_the_docs(dataset: Make) -> None:
    root = dataset(P1)
    os.rename(root / "cache/prefix_pinhole_front.pkl", root / "cache/prefix_t5_embeddings_pinhole_front.pkl")
    report = check(root, P1)
    only(report, "wrong-prefix-name")
    assert report.get("wrong-prefix-name").fixable


def test_pickle_extension(dataset: Make) -> None:
    root = dataset(P1)
    os.rename(root / T5 / "clip_0001.pkl", root / T5 / "clip_0001.pickle")
    report = check(root, P1)
    only(report, "wrong-pickle-ext")
    assert report.get("wrong-pickle-ext").examples == (f"{T5}/clip_0001.pickle",)


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
        ("clip", [emb(), emb()], "embedding-not-array", "holds a list of 2 item(s)"),
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


def test_every_finding_kind_has_a_test() -> None:
    source = "".join(p.read_text() for p in Path(__file__).parent.glob("test_data_*.py"))
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
