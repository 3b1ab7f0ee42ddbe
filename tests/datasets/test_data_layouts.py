"""Layout specs: ids, frame needs per experiment, detection, and agreement with the builtin engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cosmos_tui.core.datasets.layouts import LAYOUTS, detect_layout, get_layout, min_frames_for
from cosmos_tui.core.errors import UsageError

Make = Callable[[str], Path]


def test_the_shared_layout_ids() -> None:
    assert set(LAYOUTS) == {
        "predict1-waymo",
        "transfer25-singleview",
        "transfer25-multiview-hdmap",
        "predict25-video2world",
    }
    assert len(get_layout("transfer25-multiview-hdmap").views) == 7
    assert get_layout("predict1-waymo").view_dirs()[0] == "pinhole_front"


@pytest.mark.parametrize(
    ("layout", "experiment", "frames"),
    [
        ("predict1-waymo", "text2world_singletomultiview_7b_example_waymo", 57),
        ("predict1-waymo", "video2world_singletomultiview_7b_example_waymo", 57),
        ("transfer25-singleview", "transfer2_singleview_posttrain_seg_example", 93),
        ("transfer25-multiview-hdmap", "transfer2_auto_multiview_post_train_example", 29),
        ("predict25-video2world", "predict2_video2world_training_2b_cosmos_nemo_assets", 94),
        ("predict1-waymo", None, 57),
        ("predict25-video2world", None, 94),
    ],
)
def test_frames_per_experiment(layout: str, experiment: str | None, frames: int) -> None:
    assert min_frames_for(get_layout(layout), experiment) == frames


def test_frames_override_and_unknown_experiment() -> None:
    spec = get_layout("predict1-waymo")
    assert min_frames_for(spec, "anything", 12) == 12
    with pytest.raises(UsageError, match="--frames"):
        min_frames_for(spec, "transfer2_singleview_posttrain_edge_example")
    with pytest.raises(UsageError):
        min_frames_for(spec, None, 0)


def test_builtin_frame_needs_match_the_engine() -> None:
    """The engine's experiments set dataloader_train.dataset.num_frames; ours must agree."""
    experiments = pytest.importorskip("cosmos_engine.experiments").EXPERIMENTS
    family_layout = {
        "s2mv_": "predict1-waymo",
        "transfer_singleview_": "transfer25-singleview",
        "transfer_multiview_hdmap_": "transfer25-multiview-hdmap",
    }
    for name, node in experiments.items():
        layout = next(v for k, v in family_layout.items() if name.startswith(k))
        engine_frames = node["dataloader_train"]["dataset"]["num_frames"]
        assert min_frames_for(get_layout(layout), name) == engine_frames, name


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_detect_layout_of_synthesized_data(dataset: Make, layout: str) -> None:
    root = dataset(layout)
    expected = layout
    assert detect_layout(root) == expected


def test_detect_layout_of_nothing(tmp_path: Path) -> None:
    assert detect_layout(tmp_path) is None
    (tmp_path / "videos").mkdir()
    assert detect_layout(tmp_path) is None
