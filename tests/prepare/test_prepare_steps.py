"""`data prepare` with its optional steps, from the command line: Transfer2.5 control videos (edge
computed here with cv2.Canny, depth from a command the person names), Predict1 multiview from a
view rule with T5 embeddings from a local encoder (a tiny random T5, 1024 wide as the loader
reads), and the usage errors of steps a layout cannot take. Every set ends validated."""

from __future__ import annotations

import json
import pickle
import shlex
from pathlib import Path

import av
import pytest
from extras_support import tiny_t5, tool_command
from prepare_helpers import clip
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.datasets.layouts import P1_VIEWS

runner = CliRunner()


def _frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_transfer_controls_edge_here_and_depth_from_a_command(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for name in ("a", "b"):
        clip(src / f"{name}.mp4", 12, seed=ord(name))
        (src / f"{name}.txt").write_text(f"clip {name}")
    depth = shlex.join(tool_command("copy"))
    argv = ["data", "prepare", str(src), str(out), "--layout", "transfer25-singleview"]
    argv += [
        "--experiment",
        "transfer2_singleview_posttrain_depth_example",
        "--frames",
        "8",
        "--size",
        "64x96",
    ]
    argv += ["--control", "edge=low", "--control", f"depth={depth}", "--jobs", "1", "--json"]
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] and data["clips"] == 2
    for name in ("a_000", "b_000"):
        for folder in ("videos", "edge", "depth"):
            assert _frames(out / folder / f"{name}.mp4") == 8, (folder, name)
    # the job records its steps' settings: another edge strength on the same OUT is refused
    again = runner.invoke(app, [*argv[:-7], "--control", "edge=high", "--control", f"depth={depth}"])
    assert again.exit_code == 2 and "other settings" in again.output, again.output
    assert "strength='high'" in again.output or "--fresh" in again.output


def test_the_text_output_says_who_reads_each_control(tmp_path: Path) -> None:
    """Edge controls are computed by Transfer2.5 training itself (files only for inference);
    depth is read from its folder: the person is told which, so nobody waits on edges for training."""
    src, out = tmp_path / "src", tmp_path / "out"
    clip(src / "a.mp4", 12)
    (src / "a.txt").write_text("clip a")
    argv = ["data", "prepare", str(src), str(out), "--layout", "transfer25-singleview", "--frames", "8"]
    argv += ["--experiment", "transfer2_singleview_posttrain_depth_example", "--size", "64x96", "--jobs", "1"]
    argv += ["--control", "edge", "--control", f"depth={shlex.join(tool_command('copy'))}"]
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "note: edge controls are computed on the fly by Transfer2.5 training, which never reads" in text
    assert "note: depth controls are read by Transfer2.5 training (depth/<clip>.mp4)." in text


def test_a_failing_control_command_drops_the_window_with_its_reason(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    clip(src / "a.mp4", 12)
    (src / "a.txt").write_text("clip a")
    argv = ["data", "prepare", str(src), str(out), "--layout", "transfer25-singleview", "--frames", "8"]
    argv += ["--size", "64x96", "--experiment", "transfer2_singleview_posttrain_depth_example"]
    res = runner.invoke(app, [*argv, "--control", f"depth={shlex.join(tool_command('fail'))}", "--jobs", "1"])
    assert res.exit_code == 1, res.output
    assert "dropped" in res.output and "depth command exited with code" in res.output
    assert not list((out / "videos").glob("*.mp4"))  # the window went with its control


def test_predict1_from_a_view_rule_with_t5_embeddings(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    for view in P1_VIEWS:
        clip(src / view / "drive1.mp4", 10, seed=len(view))
    (src / "captions.csv").write_text("path,caption\ndrive1,a car driving forward\n")
    model = tiny_t5(tmp_path / "t5", d_model=1024)
    argv = ["data", "prepare", str(src), str(out), "--layout", "predict1-waymo", "--frames", "8"]
    argv += ["--size", "64x96", "--views-rule", "{view}/{clip}.mp4", "--captions", str(src / "captions.csv")]
    res = runner.invoke(app, [*argv, "--t5-model", str(model), "--t5-device", "cpu", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    for view in P1_VIEWS:
        assert _frames(out / "videos" / view / "drive1_000.mp4") == 8
        with open(out / "t5_xxl" / view / "drive1_000.pkl", "rb") as f:
            (emb,) = pickle.load(f)  # our own file, just written
        assert emb.dtype.name == "float32" and emb.shape[1] == 1024 and emb.shape[0] == 5  # 4 words + </s>
        assert (out / "cache" / f"prefix_{view}.pkl").is_file()
    assert "valid" in res.output


@pytest.mark.parametrize(
    ("layout", "extra", "message"),
    [
        ("predict1-waymo", [], "--views-rule"),
        ("predict1-waymo", ["--views-rule", "{view}/{clip}.mp4"], "--t5-model"),
        ("predict25-video2world", ["--views-rule", "{clip}_{view}.mp4"], "single-view"),
        ("predict25-video2world", ["--control", "edge"], "takes no edge control"),
        ("predict25-video2world", ["--t5-model", "x"], "drop --t5-model"),
        ("transfer25-singleview", ["--control", "edge=loud"], "Unknown edge strength"),
        ("transfer25-singleview", ["--control", "depth"], "needs a command"),
        ("transfer25-singleview", ["--control", "depth=upstream"], "pass --repo"),
        ("transfer25-singleview", ["--control", "vis=upstream", "--repo", "."], "no script for vis"),
        ("transfer25-singleview", ["--control", "edge", "--control", "edge=low"], "given twice"),
    ],
)
def test_steps_a_layout_cannot_take_are_usage_errors(
    tmp_path: Path, layout: str, extra: list[str], message: str
) -> None:
    src = tmp_path / "src"
    clip(src / "a.mp4", 10)
    res = runner.invoke(app, ["data", "prepare", str(src), str(tmp_path / "out"), "--layout", layout, *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_hdmap_rig_from_a_camera_rule_with_a_per_camera_renderer(tmp_path: Path) -> None:
    """The HDMap rig: seven cameras grouped by a rule, each camera's control from the person's
    renderer (here the stand-in tool, which re-encodes the camera's window), validated."""
    from cosmos_tui.core.datasets.layouts import HDMAP_CAMERAS

    src, out = tmp_path / "src", tmp_path / "out"
    for cam in HDMAP_CAMERAS:
        clip(src / "scene1" / f"{cam}.mp4", 10, seed=len(cam))
    (src / "caps.csv").write_text("path,caption\nscene1,seven cameras on a street\n")
    render = shlex.join(tool_command("copy"))  # the stand-in renders from the camera's window
    no_output = runner.invoke(
        app,
        [
            "data",
            "prepare",
            str(src),
            str(out),
            "--layout",
            "transfer25-multiview-hdmap",
            "--views-rule",
            "{clip}/{view}.mp4",
            "--control",
            "hdmap=render {view}",
        ],
    )
    assert no_output.exit_code == 2 and "lacks {output}" in no_output.output and not out.exists()
    argv = ["data", "prepare", str(src), str(out), "--layout", "transfer25-multiview-hdmap", "--frames", "8"]
    argv += ["--size", "64x96", "--views-rule", "{clip}/{view}.mp4", "--captions", str(src / "caps.csv")]
    res = runner.invoke(app, [*argv, "--control", f"hdmap={render}", "--jobs", "1"])
    assert res.exit_code == 0, res.output
    for cam in HDMAP_CAMERAS:
        assert _frames(out / "control_input_hdmap_bbox" / f"ftheta_{cam}" / "scene1_000.mp4") == 8
        assert _frames(out / "videos" / f"ftheta_{cam}" / "scene1_000.mp4") == 8
    assert "valid" in res.output


def test_placeholders_fill_in_one_pass() -> None:
    """A value holding another placeholder's text (a clip named '{output}') is never replaced again."""
    from cosmos_tui.core.datasets.prepare.controls import fill_template

    argv = fill_template(
        ["tool", "{input}", "--cam={view}", "{output}"],
        {"input": "/x/{output}.mp4", "output": "/o.mp4", "view": "front"},
    )
    assert argv == ["tool", "/x/{output}.mp4", "--cam=front", "/o.mp4"]


def test_a_missing_library_is_said_before_any_clip_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without OpenCV (or transformers) the command stops at once with how to install it, exit 2,
    nothing written: not one dropped window per clip."""
    import sys as _sys

    src = tmp_path / "src"
    clip(src / "a.mp4", 10)
    (src / "a.txt").write_text("a")
    monkeypatch.setitem(_sys.modules, "cv2", None)  # import cv2 -> ImportError
    argv = ["data", "prepare", str(src), str(tmp_path / "out"), "--layout", "transfer25-singleview"]
    res = runner.invoke(app, [*argv, "--control", "edge"])
    assert res.exit_code == 2 and "install cosmos-tui[prepare]" in res.output, res.output
    assert not (tmp_path / "out").exists()
