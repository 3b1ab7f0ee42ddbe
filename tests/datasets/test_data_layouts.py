"""Layout specs: ids, frame needs per experiment, detection, and agreement with the builtin engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cosmos_tui.core.datasets.layouts import LAYOUTS, detect_layout, get_layout, min_frames_for
from cosmos_tui.core.errors import UsageError

Make = Callable[[str], Path]


def test_the_shared_layout_ids() -> None:
    assert list(LAYOUTS) == [  # in the order `data layouts` lists them
        "predict1-waymo",
        "transfer25-singleview",
        "transfer25-multiview-hdmap",
        "predict25-video2world",
        "cosmos3-vision-jsonl",
        "lerobot-v3",
    ]
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
        # num_frames 93 (45 for 14B GR00T) + 1: dataset_video.py's randint(0, total - num_frames)
        ("predict25-video2world", "predict2_lora_training_2b_cosmos_nemo_assets_txt", 94),
        ("predict25-video2world", "predict2_lora_training_2b_cosmos_nemo_assets_json", 94),
        ("predict25-video2world", "predict2_video2world_training_2b_groot_gr1_480", 94),
        ("predict25-video2world", "predict2_video2world_training_14b_groot_gr1_480", 46),
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
    """The engine's experiments set dataloader_train.dataset.num_frames and video_size; ours must agree."""
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
        engine_size = tuple(node["dataloader_train"]["dataset"]["video_size"])
        assert get_layout(layout).resolution_for(name) == engine_size, name  # what data prepare writes


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_detect_layout_of_synthesized_data(dataset: Make, layout: str) -> None:
    root = dataset(layout)
    expected = layout
    assert detect_layout(root) == expected


def test_detect_layout_of_nothing(tmp_path: Path) -> None:
    assert detect_layout(tmp_path) is None
    (tmp_path / "videos").mkdir()
    assert detect_layout(tmp_path) is None


def test_every_catalog_experiment_trains_on_its_layout() -> None:
    """Each experiment a catalog model names has its frame need in the model's layout."""
    from cosmos_tui.core.catalog import load_catalog

    missing = [
        (m.id, e)
        for m in load_catalog()
        for e in m.experiments
        if get_layout(m.dataset_layout).frames_for(e) is None
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("experiment", "size"),
    [
        (None, (704, 1280)),
        ("predict2_video2world_training_2b_cosmos_nemo_assets", (704, 1280)),
        ("predict2_lora_training_2b_cosmos_nemo_assets_json", (704, 1280)),
        ("predict2_video2world_training_2b_groot_gr1_480", (432, 768)),  # groot.py video_size
        ("predict2_video2world_training_14b_groot_gr1_480", (432, 768)),
    ],
)
def test_predict25_resolution_per_experiment(experiment: str | None, size: tuple[int, int]) -> None:
    assert get_layout("predict25-video2world").resolution_for(experiment) == size


def test_groot_clips_are_checked_at_the_groot_resolution(tmp_path: Path) -> None:
    """A 480x800 clip is below nemo's 704x1280 and above GR00T's 432x768."""
    from cosmos_tui.core.datasets.synth import synthesize
    from cosmos_tui.core.datasets.validate import validate

    root = synthesize(tmp_path / "ds", "predict25-video2world", clips=1, frames=4, size=(480, 800), workers=1)
    nemo = validate(
        root,
        "predict25-video2world",
        experiment="predict2_video2world_training_2b_cosmos_nemo_assets",
        min_frames=4,
    )
    groot = validate(
        root,
        "predict25-video2world",
        experiment="predict2_video2world_training_2b_groot_gr1_480",
        min_frames=4,
    )
    assert "low-resolution" in nemo.ids() and groot.ids() == set()


def test_cli_validates_the_lora_json_preset_experiment(tmp_path: Path) -> None:
    """The shipped preset predict25-lora-nemo-json names this experiment; the layout must know it."""
    import json

    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app
    from cosmos_tui.core.datasets.synth import synthesize

    root = synthesize(tmp_path / "ds", "predict25-video2world", clips=1, frames=95, size=(16, 16), workers=1)
    (root / "captions").mkdir()
    (root / "captions/clip_0000.json").write_text(json.dumps({"qwen": {"long": "A caption."}}))
    exp = "predict2_lora_training_2b_cosmos_nemo_assets_json"
    res = CliRunner().invoke(app, ["data", "validate", str(root), "-e", exp, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["min_frames"] == 94 and report["ok"]
