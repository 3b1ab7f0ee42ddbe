"""Snapshot images of every screen at 80x24 and 120x36, from a fixed runs folder, a fixed clock
and the NVML test double (``FakeNvml``). The SVGs under __snapshots__ are also the README's screenshots.

Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after looking at the report.
"""

from __future__ import annotations

import math

import pytest
from helpers import wait_for
from tui_world import RUN_FAILED, RUN_OK, fake_gpus

from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.widgets.gpu_panel import GpuPanel
from cosmos_tui.tui.widgets.log_view import LogView
from cosmos_tui.tui.widgets.runs_table import RunsTable

SIZES = [(80, 24), (120, 36)]


@pytest.fixture(autouse=True)
def one_reading_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pollers read once (at mount) so the image never depends on timing."""
    for name in ("RUN_POLL_S", "GPU_POLL_S", "LOG_POLL_S"):
        monkeypatch.setattr(DashboardScreen, name, 3600.0)
    monkeypatch.setattr(RunsScreen, "POLL_S", 3600.0)
    from cosmos_tui.tui.screens.job import JobScreen

    monkeypatch.setattr(JobScreen, "POLL_S", 3600.0)
    from cosmos_tui.tui.screens.samples import SamplesScreen

    monkeypatch.setattr(SamplesScreen, "POLL_S", 3600.0)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs(snap_compare, make_app, fixed_runs, size) -> None:
    async def ready(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.query_one(RunsTable).row_count == 2)

    assert snap_compare(make_app(), terminal_size=size, run_before=ready)


def test_runs_empty(snap_compare, make_app) -> None:
    async def ready(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.loaded)
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=ready)


def test_runs_compare(snap_compare, make_app, fixed_runs) -> None:
    async def ready(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.query_one(RunsTable).row_count == 2)
        await pilot.press("space", "down", "space", "c")
        await wait_for(pilot, lambda: len(pilot.app.screen.query_one("#compare-chart").series) == 2)

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=ready)


def feed_gpu_history(panel: GpuPanel, readings: int = 60) -> None:
    """Show the panel a minute of readings from the NVML test double (utilisation and memory
    moving on a fixed curve), as the 1 Hz GPU poller would have."""
    nvml = fake_gpus(2)
    sampler = GpuSampler(nvml)
    for k in range(readings):
        for i, dev in enumerate(nvml.devices):
            dev["util"] = 55.0 + 40.0 * math.sin(k / 6 + i)
            dev["mem_used"] = int((40 + 6 * math.sin(k / 15) + 2 * i) * 2**30)
        panel.show(sampler.poll())


def _dashboard_ready(lines: int, gpus: bool = True):
    async def ready(pilot) -> None:
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.polls
        )
        await wait_for(pilot, lambda: pilot.app.screen.query_one(LogView).line_count >= lines)
        panel = pilot.app.screen.query_one(GpuPanel)
        await wait_for(pilot, lambda: panel.snapshot.devices if gpus else panel.snapshot.reason)
        if gpus:
            feed_gpu_history(panel)
        await pilot.pause(0.2)

    return ready


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard(snap_compare, make_app, fixed_runs, size) -> None:
    app = make_app(initial_run_id=RUN_OK)
    assert snap_compare(app, terminal_size=size, run_before=_dashboard_ready(40))


def test_dashboard_failed_run_without_gpu(snap_compare, make_app, fixed_runs) -> None:
    app = make_app(gpus=0, initial_run_id=RUN_FAILED)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_dashboard_ready(14, gpus=False))


def test_help(snap_compare, make_app) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), press=["question_mark"])


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_wizard_model_step(snap_compare, make_app, size) -> None:
    async def ready(pilot) -> None:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NewRunScreen))
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#model-table").row_count > 0)
        await pilot.press(*"tiny")
        table = pilot.app.screen.query_one("#model-table")
        await wait_for(pilot, lambda: table.row_count > 0 and all("tiny" in k.value for k in table.rows))
        from textual.widgets import Input

        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor made the image depend on the moment taken
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=ready)


def test_wizard_hub_step_skipped_for_builtin(snap_compare, make_app) -> None:
    async def ready(pilot) -> None:
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#model-table").row_count > 0)
        await pilot.press(*"s2mv tiny", "ctrl+right")
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_job_of_three_runs(snap_compare, make_app, size) -> None:
    from tui_world import JOB_RUNS, write_job_of_three_runs

    from cosmos_tui.tui.screens.job import JobScreen

    write_job_of_three_runs()

    async def ready(pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.query_one(RunsTable).row_count == 3)
        await pilot.press("j")
        await wait_for(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, JobScreen)
                and pilot.app.screen.view is not None
                and len(pilot.app.screen.view.series) == 3
            ),
        )
        assert [r.id for r in pilot.app.screen.view.runs] == list(JOB_RUNS)

    assert snap_compare(make_app(), terminal_size=size, run_before=ready)


def test_samples(snap_compare, make_app, fixed_runs) -> None:
    """The samples screen of a job sampled at its base weights and two checkpoints (real PNG
    contact sheets from the engine's writer, drawn as half-blocks)."""
    import os
    from pathlib import Path

    from support.sample_sets import write_sample_set

    from cosmos_tui.tui.screens.samples import SamplesScreen

    job = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / "s2mv_text2world" / RUN_OK
    for iteration, colour in ((None, (0.8, -0.6, -0.6)), (20, (-0.2, 0.5, -0.4)), (40, (-0.6, -0.2, 0.9))):
        write_sample_set(job, iteration, colour, seeds=(0, 1), frames=8)

    async def ready(pilot) -> None:
        await pilot.app.push_screen(SamplesScreen(RUN_OK, opener=lambda path: None))
        await wait_for(pilot, lambda: pilot.app.screen.samples is not None)
        await pilot.press("right")
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=ready)
