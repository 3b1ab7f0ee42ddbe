"""The wizard's Launch step never resumes a job silently: when the job folder holds checkpoints
it offers "Resume from iteration K" and "Start fresh as NAME-2", and Launch starts exactly the
prepared launch it previewed (Pilot, the real preparation and the builtin engine's dry run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from checkpoints.ckpt_writers import write_dcp_checkpoint
from helpers import wait_for
from support.waymo import synth_waymo
from textual.app import App, ComposeResult

from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset
from cosmos_tui.tui.screens.wizard_launch import LaunchStep


class _LaunchOnly(App):
    def compose(self) -> ComposeResult:
        yield LaunchStep(id="launch")


def _job_with_checkpoint(iteration: int) -> Path:
    """A job folder holding one real (DCP) checkpoint at ``iteration``: preflight's quick check
    reads it, so a hollow folder of empty files would read as truncated."""
    job = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / "s2mv_text2world" / "mine"
    write_dcp_checkpoint(job / "checkpoints", iteration)
    return job


@pytest.mark.timeout(120)
async def test_an_existing_job_is_a_choice_and_launch_uses_what_was_prepared(tmp_path: Path) -> None:
    waymo = synth_waymo(tmp_path / "waymo")
    job = _job_with_checkpoint(5)
    preset = apply_sets(
        load_preset(resolve_preset("builtin-demo")),
        [f"data.root={waymo}", "job.name=mine", "wandb.mode=disabled"],
    )
    app = _LaunchOnly()
    async with app.run_test(size=(120, 40)) as pilot:
        step = app.query_one(LaunchStep)
        step.enter(preset)
        await wait_for(pilot, lambda: step.prepared is not None, timeout=60)
        go, choice = app.query_one("#launch-go"), app.query_one("#launch-choice")
        assert go.disabled and choice.display, "a job with checkpoints must not be launchable as is"
        assert "iteration 5" in str(app.query_one("#launch-resume").label)
        assert "mine-2" in str(app.query_one("#launch-fresh").label)

        app.query_one("#launch-fresh").press()
        await wait_for(pilot, lambda: step.prepared is not None and step.existing == "fresh", timeout=60)
        await wait_for(pilot, lambda: not go.disabled, timeout=10)
        assert step.prepared.job_dir == job.with_name("mine-2") and step.prepared.resume_point is None
        assert not choice.display

        step.existing = "ask"
        step.enter(apply_sets(preset, ["trainer.max_iter=8"]))
        await wait_for(pilot, lambda: step.prepared is not None, timeout=60)
        app.query_one("#launch-resume").press()
        await wait_for(pilot, lambda: step.prepared is not None and step.existing == "resume", timeout=60)
        await wait_for(pilot, lambda: not go.disabled, timeout=10)
        assert step.prepared.job_dir == job and step.prepared.resume_point.iteration == 5
    assert not job.with_name("mine-2").exists(), "preparing writes nothing"


@pytest.mark.timeout(120)
async def test_a_job_at_max_iter_offers_no_resume(tmp_path: Path) -> None:
    """Resuming a job whose checkpoint is at trainer.max_iter would train nothing (the CLI refuses
    it): the wizard offers only the fresh start, and the check says how to train on."""
    waymo = synth_waymo(tmp_path / "waymo")
    _job_with_checkpoint(48)
    preset = apply_sets(
        load_preset(resolve_preset("builtin-demo")),
        [f"data.root={waymo}", "job.name=mine", "wandb.mode=disabled", "trainer.max_iter=10"],
    )
    app = _LaunchOnly()
    async with app.run_test(size=(120, 40)) as pilot:
        step = app.query_one(LaunchStep)
        step.enter(preset)
        await wait_for(pilot, lambda: step.prepared is not None, timeout=60)
        assert app.query_one("#launch-choice").display and app.query_one("#launch-fresh").display
        assert not app.query_one("#launch-resume").display
        [job] = [c for c in step.prepared.checks if c.name == "job"]
        assert "trains nothing" in job.message and "trainer.max_iter=96" in job.message
