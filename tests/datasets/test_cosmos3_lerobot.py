"""LeRobot v3.0 (Cosmos 3 action recipes): synth, validate, hostile input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cosmos_tui.core.datasets.layouts import detect_layout
from cosmos_tui.core.datasets.synth import synthesize
from cosmos_tui.core.datasets.validate import validate

LAYOUT = "lerobot-v3"
LIBERO = "action_policy_libero_nano"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("lr") / "set", LAYOUT, clips=2, frames=20)


@pytest.fixture
def root(clean: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "set"
    shutil.copytree(clean, dst)
    return dst


def _check(root: Path, experiment: str | None = LIBERO):
    return validate(root, LAYOUT, experiment=experiment)


def _info(root: Path) -> dict:
    return json.loads((root / "meta/info.json").read_text())


def test_synthesised_set_validates_clean(clean: Path) -> None:
    report = _check(clean)
    assert report.ok and report.findings == (), report.findings
    assert (report.clips, report.videos) == (2, 2)
    assert detect_layout(clean) == LAYOUT
    assert pq.read_table(clean / "meta/tasks.parquet").column_names == ["task", "task_index"]


def test_version_fps_and_camera(root: Path) -> None:
    info = _info(root)
    (root / "meta/info.json").write_text(json.dumps({**info, "codebase_version": "v2.1"}))
    assert "lerobot-version" in _check(root).ids()
    (root / "meta/info.json").write_text(json.dumps({**info, "fps": "ten"}))
    assert "lerobot-bad-info" in _check(root).ids()
    features = dict(info["features"])
    del features["observation.images.wrist_image"]
    (root / "meta/info.json").write_text(json.dumps({**info, "features": features}))
    report = _check(root)
    assert report.get("lerobot-missing-camera") is not None
    assert "lerobot-missing-camera" not in _check(root, None).ids()  # only LIBERO names its cameras


def test_info_json_hostile(root: Path) -> None:
    info = root / "meta/info.json"
    info.unlink()
    os.symlink("/dev/zero", info)
    assert "not-a-regular-file" in _check(root).ids()
    info.unlink()
    os.symlink("info.json", info)
    assert "symlink-loop" in _check(root).ids()
    info.unlink()
    info.write_bytes(b"\xff\x00not json")
    assert "lerobot-bad-info" in _check(root).ids()
    info.unlink()
    assert "lerobot-missing-file" in _check(root).ids()


def test_episode_lengths_tasks_and_parquet(root: Path) -> None:
    table = pq.read_table(root / EPISODES)
    lengths = table.column("length").to_pylist()
    pq.write_table(table.set_column(1, "length", pa.array([lengths[0] + 3, lengths[1]])), root / EPISODES)
    report = _check(root)
    assert report.get("lerobot-inconsistent").clips == ("episode 0",)
    (root / "meta/tasks.parquet").write_bytes(b"PAR1garbage")
    assert "lerobot-bad-parquet" in _check(root).ids()


def test_short_episodes_and_droid_window(root: Path) -> None:
    report = _check(root, "action_policy_droid_nano")  # 20 frames < 33
    assert report.get("lerobot-short-episode").clips == ("episode 0", "episode 1")
    assert "lerobot-no-samples" in report.ids() and not report.ok


def test_videos_truncated_missing_or_declared_wrong(root: Path) -> None:
    video = root / "videos/observation.images.image/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:400])
    assert "broken-video" in _check(root).ids()
    video.unlink()
    assert "lerobot-missing-file" in _check(root).ids()
    info = _info(root)
    info["fps"] = 30
    (root / "meta/info.json").write_text(json.dumps(info))
    assert "lerobot-video-mismatch" in _check(root).ids()


def test_libero_all_reads_four_suites_under_the_parent(clean: Path, tmp_path: Path) -> None:
    parent = tmp_path / "LIBERO_LeRobot_v3"
    for suite in ("libero_spatial", "libero_object", "libero_goal"):
        shutil.copytree(clean, parent / suite)
    report = _check(parent, "action_policy_libero_all_nano")
    assert report.get("lerobot-missing-file").items == ("libero_10/ (a LIBERO suite the recipe reads)",)
    shutil.copytree(clean, parent / "libero_10")
    (parent / "libero_goal/meta/info.json").write_text("{}")
    report = _check(parent, "action_policy_libero_all_nano")
    assert report.clips == 6 and all(
        i.startswith("libero_goal/") for i in report.get("lerobot-version").items
    )


def test_a_task_the_data_uses_must_be_in_tasks_parquet_with_its_text(root: Path) -> None:
    tasks = pq.read_table(root / "meta/tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0, 1]
    pq.write_table(tasks.slice(0, 1), root / "meta/tasks.parquet")  # task 1 gone
    report = _check(root)
    assert report.get("lerobot-inconsistent").items == ("data: task_index 1 is not in meta/tasks.parquet",)
    pq.write_table(tasks.drop_columns(["task"]), root / "meta/tasks.parquet")
    report = _check(root)
    assert report.get("lerobot-bad-parquet").items == (
        "meta/tasks.parquet: no task text (column or index 'task')",
    )
    assert "lerobot-inconsistent" not in report.ids()
