"""Pilot tests of the runs list's filter, sort, job column, delete (through core's remove_run,
asked first with Cancel focused) and rerun (through core, asked first)."""

from __future__ import annotations

from pathlib import Path

from helpers import wait_for
from tui_world import RUN_FAILED, RUN_OK

from cosmos_tui.core.runs import registry
from cosmos_tui.tui.screens.dialogs import ChoiceDialog, ConfirmDialog
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.state import RunRow
from cosmos_tui.tui.widgets.runs_table import RunsTable, select_rows


async def _runs(app, pilot) -> RunsTable:
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded)
    table = app.screen.query_one(RunsTable)
    await wait_for(pilot, lambda: table.row_count == 2)
    return table


def _ids(table: RunsTable) -> list[str]:
    return [r.id for r in table.rows_shown]


def test_select_rows_filters_every_word_and_sorts() -> None:
    rows = (
        RunRow("b", "finished", experiment="text2world", job="jb", iteration=40, started=2.0),
        RunRow("a", "failed", experiment="video2world", job="ja", iteration=12, started=1.0),
        RunRow("c", "running", experiment="text2world", job="jc", iteration=None, started=3.0),
    )
    assert [r.id for r in select_rows(rows)] == ["c", "b", "a"]
    assert [r.id for r in select_rows(rows, "TEXT2 fin")] == ["b"]
    assert [r.id for r in select_rows(rows, "ja")] == ["a"]  # the job name
    assert [r.id for r in select_rows(rows, sort="status")] == ["c", "a", "b"]
    assert [r.id for r in select_rows(rows, sort="iteration")] == ["b", "a", "c"]


async def test_filter_sort_and_the_job_column(make_app, fixed_runs) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _runs(app, pilot)
        assert "job" in [str(c.label) for c in table.columns.values()]
        jobs = {r.id: r.job for r in table.rows_shown}
        assert jobs == {
            RUN_OK: Path(fixed_runs[1].job_dir).name,
            RUN_FAILED: Path(fixed_runs[0].job_dir).name,
        }
        await pilot.press("slash", *"video")
        await wait_for(pilot, lambda: _ids(table) == [RUN_FAILED])
        assert "1 of 2 runs" in app.screen.sub_title
        await pilot.press(*"zq")  # typed into the filter: q does not quit from there
        assert app.is_running and app.screen.query_text == "videozq"
        empty = app.screen.query_one("#runs-empty")
        await wait_for(pilot, lambda: empty.display and "No run matches" in str(empty.render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: _ids(table) == [RUN_OK, RUN_FAILED])
        await pilot.press("s")  # by status: failed before finished
        assert _ids(table) == [RUN_FAILED, RUN_OK] and "by status" in app.screen.sub_title
        await pilot.press("s")  # by iteration: 40 before 12
        assert _ids(table) == [RUN_OK, RUN_FAILED]
        await pilot.press("s")
        assert app.screen.sort == "started"


async def test_delete_asks_with_cancel_focused_then_deletes_the_record_only(make_app, fixed_runs) -> None:
    failed = fixed_runs[0]
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _runs(app, pilot)
        await pilot.press("down", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        assert dialog.focused is not None and dialog.focused.id == "no"
        assert str(failed.run_dir) in dialog.details and "keep" in dialog.details
        assert dialog.command == f"cosmos-tui runs rm {RUN_FAILED} --yes"
        await pilot.press("enter")  # Cancel: nothing deleted
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert failed.run_dir.exists()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "y Delete · n / esc Cancel\nenter: the focused button" in str(
            app.screen.query_one(".hint").render()
        )
        assert "\\n" not in app.screen.question and "\n(D deletes" in app.screen.question
        await pilot.press("n")  # n cancels, as the hint says
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert failed.run_dir.exists()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.screen.focused.id == "no"
        await pilot.press("y")  # y confirms explicitly, though Cancel has the focus
        await wait_for(pilot, lambda: table.row_count == 1)
        assert not failed.run_dir.exists() and Path(failed.job_dir).exists()  # outputs only when asked
        assert RUN_FAILED not in registry.run_ids()


async def test_delete_with_outputs_shows_and_removes_the_checkpoints(make_app, fixed_runs) -> None:
    ok = fixed_runs[1]
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        table = await _runs(app, pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "--outputs --yes" in app.screen.command
        assert str(ok.job_dir) in app.screen.details
        await pilot.click("#yes")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert not ok.run_dir.exists() and not (Path(ok.job_dir) / "checkpoints").exists()


async def test_rerun_asks_then_goes_through_the_backend(make_app, fixed_runs) -> None:
    app = make_app()
    calls: list[tuple[str, str]] = []

    def fake_rerun(run_id: str, existing: str = "ask") -> str:
        calls.append((run_id, existing))
        return RUN_FAILED

    app.backend.rerun = fake_rerun  # a real rerun launches torchrun (covered in tests/runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await _runs(app, pilot)
        await pilot.press("R")  # RUN_OK's job holds 4 checkpoints: continue or fresh
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.pause()
        assert app.screen.highlighted is None  # the highlight starts on Cancel
        assert f"cosmos-tui runs rerun {RUN_OK} --fresh" in app.screen.commands
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert calls == []
        for key in ("n", "escape"):  # n and Escape cancel too
            await pilot.press("R")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
            await pilot.press(key)
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert calls == []
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("up")  # Cancel -> Fresh job
        assert app.screen.highlighted == "fresh"
        await pilot.press("enter")
        await wait_for(pilot, lambda: calls == [(RUN_OK, "fresh")])
