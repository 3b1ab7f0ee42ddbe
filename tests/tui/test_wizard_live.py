"""The whole new-run wizard on a synthetic dataset and the tiny builtin model: a real torchrun
launch (2 CPU ranks) and its dashboard updating from the live run."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import wait_for

from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.wizard_data import DataStep
from cosmos_tui.tui.screens.wizard_model import ModelStep
from cosmos_tui.tui.screens.wizard_setup import SetupStep
from cosmos_tui.tui.widgets.log_view import LogView


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_wizard_launches_a_real_run_and_the_dashboard_follows_it(make_app, tmp_path: Path) -> None:
    app = make_app(gpus=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen))
        wizard = app.screen
        await wait_for(pilot, lambda: wizard.query_one("#model-table").row_count > 0)
        await pilot.press(*"s2mv tiny")
        await wait_for(pilot, lambda: wizard.query_one(ModelStep).selected.id == "builtin-s2mv-tiny")
        await pilot.press("ctrl+right")  # -> Hugging Face: skipped for a builtin model
        assert wizard.step == 1 and "no Hugging Face weights" in str(wizard.query_one("#hub-state").render())
        await pilot.press("ctrl+right")  # -> Data
        assert wizard.step == 2
        await pilot.press("ctrl+right")  # refused: nothing validated yet
        assert wizard.step == 2
        data = wizard.query_one(DataStep)
        assert data.layout_id == "predict1-waymo"  # preselected from the model
        wizard.query_one("#data-root").value = str(tmp_path / "waymo")
        await pilot.click("#data-synth")
        await wait_for(pilot, lambda: data.report is not None, timeout=60)
        assert data.report.ok and data.report.clips == 4, data.report.findings
        await pilot.press("ctrl+right")  # -> Setup
        setup = wizard.query_one(SetupStep)
        assert wizard.step == 3 and setup.preset is not None
        nproc = wizard.query_one("#setup-nproc")
        nproc.value = "0"  # a bad value: the form says why and Next refuses
        await pilot.pause(0.1)
        assert setup.preset is None and "nproc_per_node" in setup.error
        await pilot.press("ctrl+right")
        assert wizard.step == 3
        nproc.value = "2"
        wizard.query_one(
            "#setup-overrides"
        ).value = "trainer.max_iter=8 checkpoint.save_iter=4 trainer.logging_iter=1"
        await pilot.pause(0.1)
        preview = str(wizard.query_one("#command-preview").render())
        assert "torchrun" in preview and "--nproc_per_node=2" in preview and "trainer.max_iter=8" in preview
        await pilot.press("ctrl+right")  # -> Launch: preflight
        assert wizard.step == 4
        go = wizard.query_one("#launch-go")
        await wait_for(pilot, lambda: not go.disabled, timeout=60)
        await pilot.click("#launch-go")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), timeout=60)
        dash = app.screen
        await wait_for(
            pilot, lambda: dash.view is not None and (dash.view.row.iteration or 0) >= 2, timeout=150
        )
        await wait_for(pilot, lambda: dash.view.row.status == "finished", timeout=150)
        view = dash.view
        # Not "a later iteration than first seen": on a busy machine the tiny run can finish between
        # two refreshes. The loss curve below shows every step reached the dashboard.
        assert view.row.iteration == 8 and view.row.max_iter == 8
        assert len(view.losses) >= 8
        await wait_for(pilot, lambda: any(c.is_latest and c.complete for c in dash.view.checkpoints))
        assert {c.iteration for c in dash.view.checkpoints} >= {4, 8}
        assert dash.query_one(LogView).line_count > 0
