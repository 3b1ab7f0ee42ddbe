"""Preflight's engine warnings and disk forecast: the real average size of a resumed job's
checkpoints, the builtin engine's own parameter count for a new job, a note for upstream ones."""

from __future__ import annotations

import os
from pathlib import Path

from cosmos_tui.core import preflight
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset


def _preset(name: str, *sets: str):
    return apply_sets(load_preset(resolve_preset(name)), list(sets))


def _sparse_step(ckdir: Path, it: int, part_bytes: int) -> None:
    for part in ("model", "optim", "scheduler", "trainer"):
        folder = ckdir / f"iter_{it:09d}" / part
        folder.mkdir(parents=True)
        with open(folder / "__0_0.distcp", "wb") as f:
            f.truncate(part_bytes)  # sparse: a large apparent size that takes no disk
        (folder / ".metadata").write_bytes(b"x")
    (ckdir / "latest_checkpoint.txt").write_text(f"iter_{it:09d}\n")


def test_a_resumed_job_is_forecast_from_its_real_checkpoints(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (job / "config.yaml").write_text("trainer:\n  max_iter: 1000\ncheckpoint:\n  save_iter: 100\n")
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    _sparse_step(job / "checkpoints", 100, free // 4)  # each checkpoint: about the whole free space
    demo = _preset("builtin-demo")
    unset = [
        o
        for o in demo.experiment.overrides
        if not o.startswith(("trainer.max_iter=", "checkpoint.save_iter="))
    ]
    preset = demo.model_copy(update={"experiment": demo.experiment.model_copy(update={"overrides": unset})})
    check = preflight.check_disk_forecast(preset, job)  # the job's config says how far it runs
    assert check.level == "fail", check
    assert "The disk will fill: 9 more checkpoint(s)" in check.message
    assert "average of 1 saved checkpoint(s)" in check.message
    # Keeping only the last two bounds the need: still more than the disk has.
    check = preflight.check_disk_forecast(apply_sets(preset, ["checkpoint.keep_last_n=2"]), job)
    assert check.level == "fail" and "2 more checkpoint(s)" in check.message
    # This launch's own max_iter wins over the earlier run's config: 300 is two saves away.
    check = preflight.check_disk_forecast(apply_sets(preset, ["trainer.max_iter=300"]), job)
    assert "2 more checkpoint(s)" in check.message, check


def test_a_new_builtin_job_is_estimated_from_the_engines_parameter_count(tmp_path: Path) -> None:
    preset = _preset("builtin-demo", "trainer.max_iter=50", "checkpoint.save_iter=10")
    check = preflight.check_disk_forecast(preset, tmp_path / "new-job")
    assert check.level == "ok", check
    assert "5 more checkpoint(s)" in check.message and "estimated from 713,088 parameters" in check.message
    per_ckpt = preflight.checkpoint_bytes_from_params(713_088, 1_426_176)
    assert per_ckpt == 4 * 1_426_176 + 8 * 713_088 + (64 << 10)


def test_upstream_jobs_skip_the_estimate_with_a_note_and_carry_the_adapters_warnings(tmp_path: Path) -> None:
    preset = _preset(
        "transfer25-singleview-edge",
        "engine.repo=/nonexistent/cosmos-transfer2.5",
        "launch.nproc_per_node=5",
        "trainer.max_iter=100",
        "checkpoint.save_iter=10",
    )
    check = preflight.check_disk_forecast(preset, tmp_path / "job")
    assert check.level == "ok" and "skipped" in check.message and "cosmos-transfer2.5" in check.message
    warnings = preflight.check_engine_warnings(preset)
    assert warnings and warnings[0].level == "warn"
    assert "model_parallel.context_parallel_size=" in warnings[0].message
    names = [c.name for c in preflight.run_checks(preset, job_dir=tmp_path / "job")]
    assert "engine" in names and "forecast" in names


def test_unknown_numbers_skip_the_forecast(tmp_path: Path) -> None:
    preset = _preset("builtin-demo")
    preset.experiment.overrides = [o for o in preset.experiment.overrides if "_iter=" not in o]
    check = preflight.check_disk_forecast(preset, tmp_path / "job")  # no config.yaml, no overrides
    assert check.level == "ok" and "not known before launch" in check.message
    assert "not known before launch" in preflight.check_disk_forecast(preset, None).message
