"""Preflight's dataset check and the run's failure reason: a run without data must not start
blindly, and when an engine refuses, its own sentence becomes the run's reason."""

from __future__ import annotations

from pathlib import Path

from cosmos_tui.core.preflight import check_dataset
from cosmos_tui.core.presets import Preset, apply_sets
from cosmos_tui.core.runs.outcome import describe_exit


def test_builtin_without_data_fails_preflight() -> None:
    check = check_dataset(Preset())
    assert check.level == "fail" and "data.root" in check.message and "data synth" in check.message


def test_the_experiments_default_dataset_dir_is_checked_from_the_dry_run(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (job / "config.yaml").write_text("dataloader_train:\n  dataset:\n    dataset_dir: nowhere/waymo\n")
    repo = tmp_path / "checkout"
    (repo / "cosmos_predict1").mkdir(parents=True)
    preset = apply_sets(
        Preset(),
        [
            "engine.kind=cosmos-predict1",
            f"engine.repo={repo}",
            "experiment.name=x",
            "data.layout=predict1-waymo",
        ],
    )
    check = check_dataset(preset, job)
    assert check.level == "fail"
    assert str(repo / "nowhere" / "waymo") in check.message  # relative to the checkout, not our cwd
    assert "default dataset_dir" in check.message


def test_an_engine_error_line_is_the_runs_reason() -> None:
    tail = [
        "[RANK 1] error: dataloader_train.dataset.dataset_dir is not set; pass it after the '--'.",
        "error: dataloader_train.dataset.dataset_dir is not set; pass it after the '--'.",
        "Traceback (most recent call last):",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:",
    ]
    assert describe_exit(1, tail) == (
        "torchrun exited 1: dataloader_train.dataset.dataset_dir is not set; pass it after the '--'."
    )


def test_holding_out_every_clip_fails_preflight_not_the_run(tmp_path: Path) -> None:
    from cosmos_tui.core.datasets.synth import synthesize
    from cosmos_tui.core.presets import load_preset, resolve_preset

    data = synthesize(tmp_path / "one", "predict1-waymo", clips=1, frames=4, size=(16, 16))
    shipped = load_preset(resolve_preset("builtin-tiny-cpu"))  # holds out one clip
    preset = apply_sets(shipped, [f"data.root={data}"])
    check = check_dataset(preset, tmp_path / "job")
    assert check.level == "fail" and "holds out every clip of the 1" in check.message, check.message
    more = synthesize(tmp_path / "two", "predict1-waymo", clips=2, frames=4, size=(16, 16))
    assert check_dataset(apply_sets(shipped, [f"data.root={more}"]), tmp_path / "job").level == "ok"
