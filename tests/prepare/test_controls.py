"""Control videos: Canny edge computed here, depth/seg/vis from a real subprocess, checked outputs."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from extras_support import make_clip, tool_command

from cosmos_tui.core.datasets.layouts import get_layout
from cosmos_tui.core.datasets.prepare import controls
from cosmos_tui.core.datasets.probe import probe_video
from cosmos_tui.core.errors import UsageError, UserError


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def test_edge_thresholds_are_upstreams_presets() -> None:
    assert controls.EDGE_THRESHOLDS == {
        "very_low": (20, 50),
        "low": (50, 100),
        "medium": (100, 200),
        "high": (200, 300),
        "very_high": (300, 400),
    }


def test_edge_video_is_canny_of_each_frame_same_frames_size_fps(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=7, size=(48, 64), fps=12)
    out = tmp_path / "out" / "edge" / "clip.mp4"
    res = controls.edge_video(src, out, "low", root=tmp_path / "out")
    assert res.frames == 7 and (res.width, res.height) == (64, 48)
    a, b = probe_video(src, deep=True), probe_video(out, deep=True)
    assert (b.decoded_frames, b.width, b.height, b.fps) == (7, 64, 48, a.fps)
    got = _frames(out).astype(np.int16)
    want = np.stack([cv2.Canny(f, 50, 100) for f in _frames(src)]).astype(np.int16)
    assert want.any(), "the test clip must have edges"
    # lossy H.264: the edge map, in all 3 channels, is close to cv2.Canny of each decoded frame
    for c in range(3):
        assert np.abs(got[..., c] - want).mean() < 12
    assert ((got[..., 0] > 127) == (want > 127)).mean() > 0.95
    assert not list(out.parent.glob(".*tmp*")), "no temp file left"


def test_edge_strength_changes_the_map(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=3)
    lo = controls.edge_video(src, tmp_path / "lo.mp4", "very_low").path
    hi = controls.edge_video(src, tmp_path / "hi.mp4", "very_high").path
    assert (_frames(lo) > 127).sum() > (_frames(hi) > 127).sum()


def test_edge_of_an_odd_sized_clip_keeps_its_size(tmp_path: Path) -> None:
    src = tmp_path / "odd.mp4"
    with av.open(str(src), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 33, 21, "yuv444p"
        for i in range(3):
            image = np.full((21, 33, 3), 40, np.uint8)
            image[5:15, 4 + i : 20 + i] = 220
            c.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        c.mux(s.encode(None))
    res = controls.edge_video(src, tmp_path / "e.mp4")
    info = probe_video(res.path, deep=True)
    assert (info.decoded_frames, info.width, info.height) == (3, 33, 21)
    assert (_frames(res.path) > 127).any()


def test_edge_unknown_strength_and_unreadable_clip(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=2)
    with pytest.raises(UsageError, match="very_low, low, medium"):
        controls.edge_video(src, tmp_path / "e.mp4", "extreme")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(UserError, match=r"bad\.mp4"):
        controls.edge_video(bad, tmp_path / "e.mp4")
    assert not (tmp_path / "e.mp4").exists()


def test_edge_refuses_output_outside_root(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=2)
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match="outside"):
        controls.edge_video(src, tmp_path / "out" / ".." / "escape.mp4", root=tmp_path / "out")
    assert not (tmp_path / "escape.mp4").exists()


def test_missing_cv2_says_install_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = builtins.__import__

    def no_cv2(name: str, *a, **k):
        if name == "cv2":
            raise ImportError("No module named 'cv2'")
        return real(name, *a, **k)

    monkeypatch.delitem(sys.modules, "cv2")
    monkeypatch.setattr(builtins, "__import__", no_cv2)
    src = make_clip(tmp_path / "clip.mp4", frames=2)
    with pytest.raises(UsageError, match=r"cosmos-tui\[prepare\]"):
        controls.edge_video(src, tmp_path / "e.mp4")


def test_command_control_runs_tool_and_keeps_checked_output(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=5)
    out = tmp_path / "ds" / "depth" / "clip.mp4"
    res = controls.command_control("depth", tool_command("copy"), src, out, 60, root=tmp_path / "ds")
    assert res.path == out.absolute() and probe_video(out, deep=True).decoded_frames == 5
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]


def test_command_template_string_placeholders_stay_one_argv_element(tmp_path: Path) -> None:
    # a clip name with spaces, quotes and shell syntax reaches the tool as one argument, unexpanded
    name = "a b;$(touch pwned)'x.mp4"
    src = make_clip(tmp_path / name, frames=3)
    template = f"{sys.executable} {Path(tool_command()[1])} argv --in={{input}} {{output}}"
    argv_t = controls.parse_template(template)
    assert argv_t[-2] == "--in={input}"
    filled = controls.fill_template(argv_t, {"input": str(src), "output": "/o.mp4"})
    assert filled[-2] == f"--in={src}" and filled[-1] == "/o.mp4" and len(filled) == len(argv_t)
    out = tmp_path / "seg" / "x.mp4"
    controls.command_control("seg", [*tool_command("argv")], src, out, 60)
    got = next(out.parent.glob("*.argv")).read_text().splitlines()
    assert got[1] == str(src.absolute())
    assert not (tmp_path / "pwned").exists()


def test_template_must_name_input_and_output() -> None:
    with pytest.raises(UsageError, match=r"lacks \{output\}"):
        controls.parse_template("depthtool {input}")
    with pytest.raises(UsageError, match="empty"):
        controls.parse_template("")
    with pytest.raises(UsageError, match="Cannot read"):
        controls.parse_template("tool '{input} {output}")
    with pytest.raises(UsageError, match="pastes a file name into the code after '-c'"):
        controls.parse_template("sh -c 'depth {input} > {output}'")
    with pytest.raises(UsageError, match="after '-c'"):
        controls.parse_template(["python3", "-c", "import x; x.run('{input}', '{output}')"])


def test_shell_wrapper_with_names_as_arguments_runs(tmp_path: Path) -> None:
    # the way the refusal suggests: names reach the script as $1 and $2, never as code
    src = make_clip(tmp_path / "it's $(touch pwned).mp4", frames=2)
    tool = " ".join(f"'{a}'" for a in tool_command("copy")[:3])
    template = ["sh", "-c", f'{tool} "$1" "$2"', "_", "{input}", "{output}"]
    res = controls.command_control("depth", template, src, tmp_path / "depth" / "c.mp4", 60, cwd=tmp_path)
    assert res.frames == 2 and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "has 3 frames, the clip 4"),
        ("small", "is 32x24, the clip 64x48"),
        ("nothing", "wrote nothing"),
        ("fail", "exited with code 3.*CUDA out of memory"),
        ("garbage", "not a readable video"),
        ("link", "left a symlink"),
    ],
)
def test_bad_tool_output_is_refused_and_no_half_file_left(tmp_path: Path, mode: str, message: str) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=4)
    out = tmp_path / "depth" / "clip.mp4"
    with pytest.raises(UserError, match=message):
        controls.command_control("depth", tool_command(mode), src, out, 60)
    assert list(out.parent.iterdir()) == []


def test_timeout_kills_tool_and_leaves_nothing(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=2)
    out = tmp_path / "vis" / "clip.mp4"
    with pytest.raises(UserError, match="timed out after 1 s"):
        controls.command_control("vis", tool_command("sleep"), src, out, 1)
    assert list(out.parent.iterdir()) == []


def test_missing_tool_and_wrong_kind(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=2)
    with pytest.raises(UserError, match="'no-such-depth-tool' was not found"):
        controls.command_control("depth", "no-such-depth-tool {input} {output}", src, tmp_path / "d.mp4")
    with pytest.raises(UsageError, match="not a command control"):
        controls.command_control("edge", tool_command(), src, tmp_path / "d.mp4")


def test_upstream_command_uses_the_checkouts_script(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"depth_pipeline\.py is missing"):
        controls.upstream_command("depth", tmp_path, "python")
    script = tmp_path / controls.UPSTREAM_SCRIPTS["seg"][0]
    script.parent.mkdir(parents=True)
    script.write_text("")
    argv = controls.upstream_command("seg", tmp_path, "/venv/bin/python", prompt="car, road")
    assert argv[:2] == ["/venv/bin/python", str(script)]
    assert argv[argv.index("--prompt") + 1] == "car, road"
    assert argv[argv.index("--output_tensor") + 1] == "{scratch}/mask.pt"
    with pytest.raises(UsageError, match="no script for vis"):
        controls.upstream_command("vis", tmp_path, "python")


def test_control_folders_match_the_layouts_control_sets() -> None:
    layout = get_layout("transfer25-singleview")
    folders = controls.CONTROL_FOLDERS["transfer25-singleview"]
    assert {vs.folder for vs in layout.videos if vs.role == "control"} == {
        folders[k] for k in controls.TRAINING_READS
    }
    assert "never reads" in controls.control_message("edge")
    assert "read by Transfer2.5 training" in controls.control_message("depth")
    assert "control_input_hdmap_bbox/<camera>/<clip>.mp4" in controls.control_message("hdmap")
