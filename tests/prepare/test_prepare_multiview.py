"""Multiview layouts through the job's hooks: a view grouping (``GroupViews``, which views.py will
provide) and a per-window step (here one that writes HDMap controls) make a valid HDMap set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prepare_helpers import FRAMES, SIZE, clip

from cosmos_tui.core.datasets import paint
from cosmos_tui.core.datasets.layouts import HDMAP_CAMERAS, Layout
from cosmos_tui.core.datasets.prepare.job import PreparedWindow, PrepareOptions, prepare
from cosmos_tui.core.errors import UsageError

LAYOUT = "transfer25-multiview-hdmap"


def by_folder(paths: list[Path], layout: Layout) -> tuple[dict[str, dict[str, Path]], list[tuple[Path, str]]]:
    """``<clip>/<camera>.mp4``: the folder is the clip, the stem the view."""
    clips: dict[str, dict[str, Path]] = {}
    dropped = []
    for p in paths:
        if p.stem in layout.views:
            clips.setdefault(p.parent.name, {})[p.stem] = p
        else:
            dropped.append((p, f"{p.stem} is not a camera of {layout.id}"))
    return clips, dropped


def copy_as_control(w: PreparedWindow) -> list[Path]:
    """A stand-in HDMap control: each view's window itself, under the control folder."""
    written = []
    for view, win in w.views.items():
        path = w.out / "control_input_hdmap_bbox" / f"ftheta_{view}" / f"{w.name}.mp4"
        paint.put(path, win.path.read_bytes(), w.out)
        written.append(path)
    return written


copy_as_control.provides = ("control_input_hdmap_bbox",)  # type: ignore[attr-defined]


def list_windows(out: Path, windows: list[dict]) -> None:
    """A once-per-job step: what it is given, written where a test can read it."""
    paint.put(out / "windows.json", json.dumps(sorted(w["name"] for w in windows)), out)


def test_hdmap_from_grouped_views(tmp_path: Path):
    src = tmp_path / "src"
    for cam in HDMAP_CAMERAS:
        clip(src / "sceneA" / f"{cam}.mp4", 25 if cam != "camera_rear_tele_30fov" else 15, seed=1)
        clip(src / "sceneB" / f"{cam}.mp4", 12)
    (src / "sceneB" / HDMAP_CAMERAS[0]).with_suffix(".mp4").unlink()  # one camera missing
    clip(src / "sceneA" / "dashcam.mp4", 12)
    caps = tmp_path / "caps.jsonl"
    caps.write_text(json.dumps({"path": "sceneA", "caption": "Seven cameras on a street."}) + "\n")
    out = tmp_path / "out"
    opts = PrepareOptions(
        LAYOUT, frames=FRAMES, size=SIZE, captions_file=caps, jobs=1,
        extra_steps=(copy_as_control,), finish_steps=(list_windows,), group_views=by_folder,
    )  # fmt: skip
    result = prepare(src, out, opts)
    assert result.report is not None and result.report.ok, [
        (f.id, f.examples) for f in result.report.findings
    ]
    assert result.clips == 1  # window 0 in every camera; window 1 ends early in the rear tele
    dropped = dict(result.dropped)
    assert dropped["sceneA/dashcam.mp4"] == f"dashcam is not a camera of {LAYOUT}"
    assert dropped["sceneB"].startswith("missing view(s): camera_front_wide_120fov")
    assert dropped["sceneA window 1"] == "view(s) camera_rear_tele_30fov end before it"
    for cam in HDMAP_CAMERAS:
        assert (out / "videos" / f"ftheta_{cam}" / "sceneA_000.mp4").is_file()
        assert not (out / "videos" / f"ftheta_{cam}" / "sceneA_001.mp4").exists()
    assert json.loads((out / "windows.json").read_text()) == ["sceneA_000"]
    cap = out / "captions" / "ftheta_camera_front_wide_120fov" / "sceneA_000.json"
    assert json.loads(cap.read_text()) == {"caption": "Seven cameras on a street."}


def test_multiview_needs_its_hooks(tmp_path: Path):
    src = tmp_path / "src"
    clip(src / "a" / f"{HDMAP_CAMERAS[0]}.mp4", 12)
    with pytest.raises(UsageError, match="grouped per camera"):
        prepare(src, tmp_path / "o", PrepareOptions(LAYOUT, frames=FRAMES))
    with pytest.raises(UsageError, match="control_input_hdmap_bbox/ control videos"):
        prepare(src, tmp_path / "o", PrepareOptions(LAYOUT, frames=FRAMES, group_views=by_folder))
    with pytest.raises(UsageError, match="T5 text embeddings"):
        prepare(src, tmp_path / "o", PrepareOptions("predict1-waymo", frames=FRAMES, group_views=by_folder))
