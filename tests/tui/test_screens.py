"""Pilot tests of the runs screen, the dashboard, the help and the dialogs, on a fixed runs folder."""

from __future__ import annotations

import pytest
from helpers import wait_for
from tui_world import RUN_FAILED, RUN_OK

from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.dialogs import TextDialog
from cosmos_tui.tui.screens.help import HelpScreen
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.widgets.checkpoints_table import CheckpointsTable
from cosmos_tui.tui.widgets.gpu_panel import GpuPanel
from cosmos_tui.tui.widgets.log_view import LogView
from cosmos_tui.tui.widgets.loss_chart import LossChart
from cosmos_tui.tui.widgets.runs_table import RunsTable


async def test_no_runs_shows_a_deliberate_empty_state(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded)
        assert app.screen.query_one("#runs-empty").display
        assert not app.screen.query_one(RunsTable).display
        assert "No runs yet" in str(app.screen.query_one("#runs-empty").render())


async def test_runs_list_says_loading_until_the_first_read(make_app, fixed_runs) -> None:
    """The first read reconciles every record (seconds on a long history): until it is in, the
    list says it is loading, never "No runs yet"."""
    import threading

    app = make_app()
    release = threading.Event()
    read = app.backend.list_runs

    def slow_list_runs():
        release.wait(10)
        return read()

    app.backend.list_runs = slow_list_runs
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.pause(0.3)
        empty = app.screen.query_one("#runs-empty")
        assert empty.display and "Loading runs" in str(empty.render())
        assert "No runs yet" not in str(empty.render())
        release.set()
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert table.display and not empty.display


async def test_runs_list_then_dashboard_shows_progress_checkpoints_and_log(make_app, fixed_runs) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert [r.id for r in table.rows_shown] == [RUN_OK, RUN_FAILED]  # newest first
        failed = table.rows_shown[1]
        assert (
            failed.status == "failed" and failed.crashed and failed.iteration == 12 and failed.max_iter == 40
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        dash = app.screen
        assert dash.run_id == RUN_OK
        view = dash.view
        assert (view.row.iteration, view.row.max_iter, view.row.status) == (40, 40, "finished")
        assert len(view.losses) == 40 and view.sec_per_iter == 0.42
        assert dash.query_one(CheckpointsTable).row_count == 4
        assert [c.is_latest for c in view.checkpoints] == [False, False, False, True]
        log = dash.query_one(LogView)
        await wait_for(pilot, lambda: log.line_count >= 40)
        assert "Iteration 40: Hit counter" in log.lines[-1]
        await wait_for(pilot, lambda: dash.query_one(GpuPanel).snapshot.devices)
        assert view.health == "finished" and view.disk_message is None  # no forecast for an ended run
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_log_level_filter_and_search(make_app, fixed_runs) -> None:
    app = make_app(initial_run_id=RUN_FAILED)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        log = app.screen.query_one(LogView)
        await wait_for(pilot, lambda: log.line_count >= 15)
        total = log.line_count
        for _ in range(3):  # all -> INFO -> WARNING -> ERROR
            await pilot.press("l")
        assert log.min_level == "ERROR"
        assert log.line_count == 3  # the loguru ERROR line, the traceback head and the exception line
        assert all(("ERROR" in ln) or ("Error" in ln) or ("Traceback" in ln) for ln in log.lines)
        await pilot.press("l")  # back to every line
        assert log.line_count == total
        await pilot.press("slash")
        await pilot.press(*"Iteration 7:", "enter")  # a search of the whole file: it finds, not filters
        await wait_for(pilot, lambda: log.current_text is not None)
        assert "Iteration 7:" in log.current_text and log.line_count == total
        assert app.screen.view.row.crashed
        assert any("rank 1 exited" in f for f in app.screen.view.flags)


async def test_compare_loss_curves_of_selected_runs(make_app, fixed_runs) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        await pilot.press("space", "down", "space", "c")
        chart = app.screen.query_one("#compare-chart", LossChart)
        await wait_for(pilot, lambda: len(chart.series) == 2)
        assert set(chart.series) == {RUN_OK, RUN_FAILED}
        assert len(chart.series[RUN_FAILED]) == 12


async def test_dashboard_without_gpu_says_so(make_app, fixed_runs) -> None:
    app = make_app(gpus=0, initial_run_id=RUN_OK)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        panel = app.screen.query_one(GpuPanel)
        await wait_for(pilot, lambda: "no NVIDIA driver found" in (panel.snapshot.reason or ""))
        assert not panel.snapshot.available
        assert "No GPU" in str(panel.render()) and "libnvidia-ml.so is missing" in str(panel.render())


async def test_actions_show_their_cli_command(make_app, fixed_runs) -> None:
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        await pilot.press("y")
        assert isinstance(app.screen, TextDialog)
        assert f"cosmos-tui runs stop {RUN_OK}" in app.screen.text
        assert f"cosmos-tui ckpt export {RUN_OK}" in app.screen.text
        await pilot.press("escape")
        dash = app.screen
        await pilot.press("p")  # prune: the hint line shows the command
        hint = str(dash.query_one("#cli-hint").render())
        assert f"cosmos-tui ckpt prune {RUN_OK}" in hint


@pytest.mark.parametrize(("run_id", "status"), [(RUN_OK, "finished"), (RUN_FAILED, "failed")])
async def test_live_only_actions_are_refused_on_an_ended_run(make_app, fixed_runs, run_id, status) -> None:
    """Stop and save now on a finished or failed run: not offered in the footer, and the key says
    why in one sentence; save now never leaves a SAVE_NOW file (the next run would act on it).
    Resume of a run that did all its iterations says how to extend it instead."""
    from pathlib import Path

    app = make_app(initial_run_id=run_id)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        dash = app.screen
        await pilot.pause(0.1)
        shown = {b.binding.key for b in dash.active_bindings.values() if b.enabled and b.binding.show}
        assert not {"s", "w"} & shown, shown
        assert ("R" in shown) == (status == "failed")
        await pilot.press("w")
        await pilot.press("s")
        await pilot.press("R")
        notes = [str(n.message) for n in app._notifications]
        assert f"The run has ended ({status}); only a running run can save a checkpoint." in notes
        assert f"The run has ended ({status}); there is nothing to stop." in notes
        assert isinstance(app.screen, DashboardScreen)  # no stop dialog
        if status == "finished":
            assert any(f"runs resume {RUN_OK} --set trainer.max_iter=80" in n for n in notes)
        await pilot.pause(0.3)
        assert not (Path(dash.view.job_dir) / "SAVE_NOW").exists()


@pytest.mark.timeout(60)
async def test_save_now_and_stop_are_offered_on_a_live_run(make_app) -> None:
    """A live run (a real process stands in for its supervisor): s and w in the footer, w writes
    the control file, R says to stop first."""
    import subprocess
    import sys
    from pathlib import Path

    import psutil
    from tui_world import write_run

    from cosmos_tui.core.runs import registry
    from cosmos_tui.core.runs.record import ProcRef

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref = ProcRef(proc.pid, psutil.Process(proc.pid).create_time(), "supervisor")
        record = write_run(RUN_OK, status="running", iters=10, max_iter=40, exit_code=None)
        registry.update(record.run_dir, lambda r: r.replace(supervisor=ref))
        app = make_app(initial_run_id=RUN_OK)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
            dash = app.screen
            assert dash.view.row.active
            shown = {b.binding.key for b in dash.active_bindings.values() if b.enabled and b.binding.show}
            assert {"s", "w"} <= shown and "R" not in shown
            await pilot.press("w")
            await wait_for(pilot, (Path(record.job_dir) / "SAVE_NOW").exists)
            await pilot.press("R")
            assert any("stop it first" in str(n.message) for n in app._notifications)
    finally:
        proc.kill()
        proc.wait()


async def test_help_and_command_palette(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"New run", "Runs", "Help"} <= set(titles)


async def test_the_tokens_chart_is_labelled_and_shown_only_where_both_charts_fit(
    make_app, fixed_runs
) -> None:
    """An engine that reports tokens/s gets a second, labelled chart in the loss box when the box
    holds both; a shorter terminal keeps the loss chart whole (never squeezed to 'no loss
    reported yet' under a wrapped legend) and `m` reaches tokens/s."""
    import json
    from pathlib import Path

    ok = next(r for r in fixed_runs if r.id == RUN_OK)
    assert ok.metrics_end is None  # the whole file is this run's: lines may grow
    metrics = Path(ok.job_dir) / "metrics.jsonl"
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    with_tokens = [{**m, "tokens_per_s": 9000.0 + m["iteration"]} for m in lines]
    metrics.write_text("".join(json.dumps(m) + "\n" for m in with_tokens))
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 50)) as pilot:  # tall: both charts, the second one labelled
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
        dash = app.screen
        tokens = dash.query_one("#tokens-chart", LossChart)
        await wait_for(pilot, lambda: tokens.display and tokens.series)
        await pilot.pause(0.2)
        loss = dash.query_one("#loss-chart", LossChart)
        assert loss.content_size.height >= 5 and tokens.content_size.height >= 5
        assert "no loss reported yet" not in loss.render().plain
        assert "it 40" in loss.render().plain
        assert tokens.render().plain.splitlines()[0] == "tokens/s"  # never a chart without a title
    for size in ((120, 36), (80, 24)):  # short: the loss chart whole, tokens/s behind `m`
        app = make_app(initial_run_id=RUN_OK)
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda a=app: isinstance(a.screen, DashboardScreen) and a.screen.polls > 0)
            await pilot.pause(0.3)
            dash = app.screen
            loss = dash.query_one("#loss-chart", LossChart)
            assert not dash.query_one("#tokens-chart", LossChart).display, size
            lines = loss.render().plain.splitlines()
            assert len(lines) == loss.content_size.height and "it 40" in lines[-1], (size, lines)
            assert "no loss reported yet" not in loss.render().plain
            while dash.metric != "tokens_per_s":
                await pilot.press("m")
            assert str(dash.query_one("#loss-box").border_title) == "tokens/s"
