"""data prepare writes each single-view layout as its loader reads it, and data validate agrees."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from prepare_helpers import FRAMES, SIZE, clip

from cosmos_tui.core.datasets.prepare.job import PrepareOptions, prepare
from cosmos_tui.core.datasets.vision_jsonl import JSONL
from cosmos_tui.core.errors import UsageError

EXPECTED_CLIPS = 4 + 3 + 2 + 1


def _opts(layout: str, captions: Path | None, **kw) -> PrepareOptions:
    return PrepareOptions(layout, frames=FRAMES, size=SIZE, captions_file=captions, jobs=2, **kw)


def _reasons(result) -> dict[str, str]:
    return {rel: reason.split(":")[0] for rel, reason in result.dropped}


@pytest.mark.parametrize(
    ("layout", "fmt", "caption_glob"),
    [
        ("predict25-video2world", "auto", "metas/*.txt"),
        ("predict25-video2world", "json", "captions/*.json"),
        ("transfer25-singleview", "auto", "captions/*.json"),
    ],
)
def test_folder_layouts_validate(
    raw_src: Path, captions_jsonl: Path, tmp_path: Path, layout, fmt, caption_glob
):
    out = tmp_path / "out"
    result = prepare(raw_src, out, _opts(layout, captions_jsonl, caption_format=fmt))
    assert result.report is not None and result.report.ok, [f.id for f in result.report.findings]
    assert result.clips == EXPECTED_CLIPS
    assert _reasons(result) == {
        "short.mp4": "too short",
        "square.mp4": "wrong aspect",
        "corrupt.mp4": "unreadable",
        "nocap.mp4": "no caption",
    }
    assert result.skipped == [("._long.mp4", result.skipped[0][1])]
    videos = sorted((out / "videos").glob("*.mp4"))
    assert len(videos) == EXPECTED_CLIPS == len(list(out.glob(caption_glob)))
    assert {p.stem for p in videos} >= {"long_000", "long_003", "cut_000", "cut_002", "sub__fast_001"}
    assert "odd-dir__a-clip-with-dots_000" in {p.stem for p in videos}  # space, newline, '..' made safe
    with av.open(str(out / "videos" / "sub__fast_000.mp4")) as c:
        s = c.streams.video[0]
        frames = sum(1 for _ in c.decode(s))
        assert (frames, s.codec_context.height, s.codec_context.width) == (FRAMES, *SIZE)
        assert float(s.average_rate) == 30.0  # the source's frame rate
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
    if caption_glob == "metas/*.txt":
        assert (out / "metas" / "long_002.txt").read_text() == "A long drive down a striped road.\n"
    elif layout == "predict25-video2world":
        obj = json.loads((out / "captions" / "odd-dir__a-clip-with-dots_000.json").read_text())
        assert obj == {"cosmos-tui": {"long": "An odd name.", "short": "Odd.", "medium": "An odd name."}}
    else:
        obj = json.loads((out / "captions" / "sub__fast_000.json").read_text())
        assert obj == {"caption": "A fast clip, at 30 fps."}


def test_scene_cut_windows_never_cross_it(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    prepare(raw_src, out, _opts("transfer25-singleview", None), validate_result=False)
    marker = json.loads((out / ".cosmos-tui-prepare" / "done" / "cut.json").read_text())
    assert [w["start"] for w in marker["windows"]] == [0, 12, 22]  # the cut is at frame 12
    no_cuts = prepare(
        raw_src,
        tmp_path / "o2",
        _opts("transfer25-singleview", None, scene_threshold=None),
        validate_result=False,
    )
    marker = json.loads((tmp_path / "o2" / ".cosmos-tui-prepare" / "done" / "cut.json").read_text())
    assert [w["start"] for w in marker["windows"]] == [0, 10, 20]  # 37 frames: three whole windows
    assert no_cuts.clips > 0


def test_csv_captions_and_pad(raw_src: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = prepare(raw_src, out, _opts("transfer25-singleview", raw_src / "caps.csv", fit="pad"))
    assert result.report is not None and result.report.ok
    reasons = _reasons(result)
    assert "square.mp4" not in reasons  # padded, not dropped
    assert reasons["odd dir/a clip\nwith ..dots.mp4"] == "no caption"  # the CSV does not name it
    assert (
        json.loads((out / "captions" / "sub__fast_000.json").read_text())["caption"]
        == "A fast clip, at 30 fps."
    )
    assert (out / "videos" / "square_000.mp4").is_file()


def test_cosmos3_vision_jsonl(tmp_path: Path):
    src = tmp_path / "src"
    clip(src / "a.mp4", 61, size=(48, 64), fps=24)
    clip(src / "b.mp4", 130, size=(48, 64), fps=24)
    clip(src / "c.mp4", 40, size=(48, 64), fps=24)
    caps = tmp_path / "c.jsonl"
    caps.write_text(
        json.dumps({"path": "a.mp4", "caption": "Plain text."})
        + "\n"
        + json.dumps({"path": "b.mp4", "caption": {"temporal_caption": "Structured.", "subjects": []}})
        + "\n"
        + json.dumps({"path": "c.mp4", "caption": "Too short."})
        + "\n"
    )
    out = tmp_path / "out"
    result = prepare(src, out, PrepareOptions("cosmos3-vision-jsonl", captions_file=caps, jobs=2))
    assert result.report is not None and result.report.ok, [
        (f.id, f.examples) for f in result.report.findings
    ]
    assert result.frames == 61 and result.size is None and result.clips == 3
    assert _reasons(result) == {"c.mp4": "too short"}
    records = [json.loads(line) for line in (out / JSONL).read_text().splitlines()]
    assert [r["uuid"] for r in records] == ["a_000", "b_000", "b_001"]
    a = records[0]
    assert a["vision_path"] == "videos/a_000.mp4" and (out / "train" / a["vision_path"]).is_file()
    assert (a["width"], a["height"], a["nb_frames"], a["framerate"]) == (64, 48, 61, 24)
    w = a["t2w_windows"][0]
    assert (w["start_frame"], w["end_frame"], w["caption"]) == (0, 60, "Plain text.")
    assert w["caption_json"]["temporal_caption"] == "Plain text."
    assert records[1]["t2w_windows"][0]["caption_json"] == {"temporal_caption": "Structured.", "subjects": []}
    with pytest.raises(UsageError, match="too few for Cosmos 3"):
        prepare(src, tmp_path / "o2", PrepareOptions("cosmos3-vision-jsonl", frames=10))


def test_predict25_experiment_frames_and_forced_json(tmp_path: Path):
    src = tmp_path / "src"
    clip(src / "a.mp4", 95, size=(36, 64))
    (src / "a.txt").write_text("A clip.")
    exp = "predict2_lora_training_2b_cosmos_nemo_assets_json"
    out = tmp_path / "out"
    result = prepare(src, out, PrepareOptions("predict25-video2world", experiment=exp, size=(36, 64), jobs=1))
    assert result.frames == 94  # num_frames + 1: the loader's randint needs one more
    assert result.report is not None and result.report.ok
    assert json.loads((out / "captions" / "a_000.json").read_text())["cosmos-tui"]["long"] == "A clip."
    with pytest.raises(UsageError, match="reads json captions"):
        prepare(
            src,
            tmp_path / "o2",
            PrepareOptions("predict25-video2world", experiment=exp, caption_format="text"),
        )


@pytest.mark.parametrize(
    ("layout", "experiment", "match"),
    [
        ("lerobot-v3", None, "recorded robot episodes"),
        ("predict1-waymo", None, "grouped per camera"),
        ("transfer25-multiview-hdmap", None, "grouped per camera"),
        ("transfer25-singleview", "transfer_singleview_depth_tiny", "depth/ control videos"),
        ("nope", None, "Unknown dataset layout"),
    ],
)
def test_layouts_not_prepared_say_why(raw_src: Path, tmp_path: Path, layout, experiment, match):
    with pytest.raises(UsageError, match=match):
        prepare(raw_src, tmp_path / "out", PrepareOptions(layout, experiment=experiment))
    assert not (tmp_path / "out").exists()


def test_portrait_phone_clip_is_turned_upright(tmp_path: Path):
    import subprocess

    import imageio_ffmpeg
    import numpy as np

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    src = tmp_path / "src"
    stored = clip(tmp_path / "stored.mp4", 12)  # 72x128, landscape as stored
    src.mkdir()
    rotated = src / "phone.mp4"  # shown upright as 128x72 (display matrix: 90 degrees)
    subprocess.run(
        [ffmpeg, "-v", "error", "-display_rotation", "90", "-i", str(stored), "-c", "copy", str(rotated)],
        check=True,
    )
    (src / "phone.txt").write_text("A phone held upright.")
    out = tmp_path / "out"
    result = prepare(src, out, PrepareOptions("predict25-video2world", frames=FRAMES, size=(96, 64), jobs=1))
    assert result.ok and result.clips == 1 and result.dropped == []  # portrait into portrait: no crop loss
    ref = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(rotated), "-frames:v", "1", "-vf", "scale=64:-2,crop=64:96",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with av.open(str(out / "videos" / "phone_000.mp4")) as c:
        ours = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert ours.shape == (96, 64, 3)
    assert (
        np.abs(ours.astype(int) - np.frombuffer(ref, np.uint8).reshape(ours.shape)).mean() < 8
    )  # as ffmpeg shows it
