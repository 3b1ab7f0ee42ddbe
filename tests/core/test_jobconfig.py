"""The one reader of a job's config.yaml, on an upstream-shaped file (``!!python`` tags, which
``yaml.safe_load`` refuses), a damaged one and hostile ones; and the one override lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from support.upstream_config import upstream_config

from cosmos_tui.core import jobconfig, preflight
from cosmos_tui.core.monitor.runmonitor import read_max_iter
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset

UPSTREAM_CONFIG = upstream_config(max_iter=5000, save_iter=500, keep_last_n=3)


def _job(tmp_path: Path, text: str) -> Path:
    (tmp_path / "config.yaml").write_text(text)
    return tmp_path


def test_upstream_config_is_read_where_safe_load_gives_up(tmp_path: Path) -> None:
    job = _job(tmp_path, UPSTREAM_CONFIG)
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(UPSTREAM_CONFIG)  # what the dashboard and the monitor used to call
    found = jobconfig.settings(job)
    assert (found.max_iter, found.save_iter, found.keep_last_n) == (5000, 500, 3)
    assert found.dataset_dir == "datasets/hdvila" and found.from_config
    assert read_max_iter(job) == 5000  # the monitor's progress and ETA


def test_the_dashboard_and_preflight_read_the_same_settings(tmp_path: Path) -> None:
    from cosmos_tui.tui.backend import _job_settings

    job = _job(tmp_path, UPSTREAM_CONFIG)
    preset = apply_sets(load_preset(resolve_preset("builtin-demo")), ["checkpoint.save_iter=9"])
    found = _job_settings(job, apply_sets(preset, ["trainer.max_iter=7"]))
    # The launch's overrides win (the config beside the checkpoints may be an earlier run's); what
    # they do not set comes from the composed config.
    assert (found.max_iter, found.save_iter, found.keep_last_n, found.from_config) == (7, 9, 3, True)
    assert _job_settings(tmp_path / "nothing-here", None).max_iter is None  # a snapshot that did not validate
    assert preflight.job_settings(preset, job).save_iter == 9
    assert preflight.job_settings(preset, job).max_iter == 10  # the preset's, not the old config's 5000
    assert preflight.job_settings(preset, tmp_path / "nothing-here").save_iter == 9


@pytest.mark.parametrize(
    "text",
    ["trainer: {max_iter: [unclosed", "", "- a list\n- not a mapping\n", "trainer: 5\n", "\xff\xfe"],
    ids=["half-written", "empty", "list", "scalar-section", "not-utf8"],
)
def test_a_damaged_config_falls_back_to_the_overrides(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.yaml").write_bytes(text.encode("latin-1"))
    found = jobconfig.settings(tmp_path, ["trainer.max_iter=12"])
    assert found.max_iter == 12 and found.save_iter is None


def test_hostile_config_files_are_refused_without_reading_them_whole(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").symlink_to("/dev/zero")
    assert jobconfig.load(tmp_path) is None
    os.remove(tmp_path / "config.yaml")
    (tmp_path / "config.yaml").mkdir()
    assert jobconfig.load(tmp_path) is None
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / "config.yaml").write_text("a: &a [x]\n" + "".join(f"b{i}: &b{i} [*a, *a]\n" for i in range(3)))
    assert jobconfig.lookup(jobconfig.load(bomb), "b0") == [["x"], ["x"]]
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "config.yaml").write_text("[" * 100_000)
    assert jobconfig.load(tmp_path / "deep") is None  # recursion, not a crash


def test_nothing_named_in_the_file_is_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    assert jobconfig.load(_job(tmp_path, text)) == {"x": [f"touch {marker}"]}
    assert not marker.exists()


def test_the_last_override_wins_with_or_without_plus() -> None:
    items = ["trainer.max_iter=5", "+trainer.max_iter=6", "trainer.max_iterx=1", "novalue"]
    assert override_value(items, "trainer.max_iter") == "6"
    assert override_value(items, "novalue") is None
    assert override_value([], "a") is None
    assert [as_int(v) for v in ("12", " 3 ", "x", None, True, 4)] == [12, 3, None, None, None, 4]
