"""The dashboard's export and prune go through core in a worker (Pilot, real DCP checkpoints written
by torch.distributed.checkpoint): prune shows its plan and deletes only after a yes, never the
latest, a pinned or an in-progress checkpoint, and nothing the person was not shown; export
writes upstream's inference files and asks before replacing them. No subprocess is started."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from checkpoints.ckpt_writers import write_dcp_checkpoint
from helpers import wait_for
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList
from tui_world import NOW, RUN_OK, fake_gpus, write_run

from cosmos_tui.core.checkpoints.pins import read_pins, set_pinned
from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.dialogs import ChoiceDialog, ConfirmDialog, PathDialog
from cosmos_tui.tui.widgets.checkpoints_table import CheckpointsTable


@pytest.fixture(autouse=True)
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard must not shell out to ``python -m cosmos_tui`` for these actions."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the dashboard started a subprocess: {args!r}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def _run_with_checkpoints(iterations: tuple[int, ...], *, latest: int) -> Path:
    """A finished run whose job holds real DCP checkpoints; the pointer names ``latest``."""
    record = write_run(RUN_OK, status="finished", iters=40, max_iter=60, exit_code=0, started=NOW - 1200)
    ckdir = Path(record.job_dir) / "checkpoints"
    for it in iterations:
        write_dcp_checkpoint(ckdir, it, latest=False)
    (ckdir / "latest_checkpoint.txt").write_text(f"iter_{latest:09d}\n")
    return ckdir


def _steps(ckdir: Path) -> list[int]:
    return sorted(int(p.name.removeprefix("iter_")) for p in ckdir.glob("iter_*"))


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _dashboard(pilot, app) -> DashboardScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
    return app.screen


async def _press_on_dashboard(
    make_app, key: str, seen: Callable[[str], bool], timeout: float = 10.0
) -> tuple[Screen, list[str]]:
    """Open run RUN_OK's dashboard, press ``key`` (and Enter in the export's folder question) and
    wait for a notification that ``seen`` accepts; the screen shown then and every notification so
    far."""
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 30)) as pilot:
        await _dashboard(pilot, app)
        await pilot.press(key)
        if key == "e":
            await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
            await pilot.press("enter")
        await wait_for(pilot, lambda: any(seen(n) for n in _notes(app)), timeout=timeout)
        return app.screen, _notes(app)


@pytest.mark.timeout(120)
async def test_prune_shows_the_plan_and_deletes_only_what_was_confirmed(make_app) -> None:
    ckdir = _run_with_checkpoints((10, 20, 30, 40, 50, 60), latest=30)  # the pointer lags (a resume)
    write_dcp_checkpoint(ckdir, 70, parts=("model",), latest=False)  # being written right now
    set_pinned(ckdir, 10, True)
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 40)) as pilot:
        await _dashboard(pilot, app)

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        plan = app.screen.details
        for it in (20, 40):
            assert any(ln.startswith("delete") and f" {it} " in ln for ln in plan.splitlines()), plan
        kept = ((10, "pinned"), (30, "latest"), (50, "last 2"), (60, "last 2"), (70, "being written"))
        for it, why in kept:
            assert any(ln.startswith("keep") and f" {it} " in ln and why in ln for ln in plan.splitlines())
        assert "--keep-last 2" in app.screen.command
        await pilot.press("escape")  # cancelled: nothing is deleted
        await pilot.pause(0.3)
        assert _steps(ckdir) == [10, 20, 30, 40, 50, 60, 70]

        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        # While the dialog is open the run goes on: 80 is saved (the pointer moves, so 50 and 60
        # fall out of the last 2) and the person pins 20 elsewhere.
        write_dcp_checkpoint(ckdir, 80, latest=True)
        set_pinned(ckdir, 20, True)
        await pilot.press("y")
        await wait_for(pilot, lambda: any("Deleted" in n for n in _notes(app)))
        # Only 40 was both shown as a delete and still one for the policy now.
        assert _steps(ckdir) == [10, 20, 30, 50, 60, 70, 80]
        assert any("Deleted 1 checkpoint(s)" in n for n in _notes(app))
        dash = app.screen
        # the ended run's table is read again: the deleted one is gone
        await wait_for(pilot, lambda: 40 not in [c.iteration for c in dash.view.checkpoints])
        assert [c.iteration for c in dash.view.checkpoints] == [10, 20, 30, 50, 60, 70, 80]


async def test_prune_with_nothing_to_delete_asks_nothing(make_app, tmp_path, monkeypatch) -> None:
    ckdir = _run_with_checkpoints((10, 20), latest=20)
    (tmp_path / RUN_OK).mkdir()  # a folder named like the run where the TUI was started: not it
    monkeypatch.chdir(tmp_path)
    screen, _ = await _press_on_dashboard(make_app, "p", lambda n: "Nothing to prune" in n)
    assert isinstance(screen, DashboardScreen)
    assert _steps(ckdir) == [10, 20]


async def test_prune_refuses_when_the_pointer_cannot_be_read(make_app) -> None:
    ckdir = _run_with_checkpoints((10, 20, 30, 40), latest=40)
    (ckdir / "latest_checkpoint.txt").write_bytes(b"\xff\xfe not a step name")
    screen, _ = await _press_on_dashboard(make_app, "p", lambda n: "nothing was deleted" in n)
    assert isinstance(screen, DashboardScreen)
    assert _steps(ckdir) == [10, 20, 30, 40]


@pytest.mark.timeout(120)
async def test_export_writes_the_inference_files_and_asks_before_replacing(make_app) -> None:
    import torch

    ckdir = _run_with_checkpoints((10, 20), latest=20)
    out = ckdir.parent / "export"
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 40)) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("e")  # it asks where, JOB/export filled in
        await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
        assert app.screen.query_one(Input).value == str(out)
        assert app.screen.command.endswith(f"--out {out}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("Exported iteration 20" in n for n in _notes(app)), timeout=60)
        names = sorted(p.name for p in out.iterdir())
        assert names == ["model.pt", "model_ema_bf16.pt", "model_ema_fp32.pt"]
        ema = torch.load(out / "model_ema_bf16.pt", weights_only=True)
        assert ema["net.blocks.0.weight"].dtype == torch.bfloat16
        before = (out / "model.pt").stat().st_mtime_ns

        await pilot.press("e", "enter")  # the files are there now: a question, not a silent overwrite
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "already holds" in app.screen.details and app.screen.command.endswith("--yes")
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert (out / "model.pt").stat().st_mtime_ns == before

        await pilot.press("e", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert app.focused is not None and app.focused.id == "no"  # Enter out of habit cancels
        await pilot.press("y")
        await wait_for(pilot, lambda: (out / "model.pt").stat().st_mtime_ns != before, timeout=60)


async def test_export_without_a_complete_checkpoint_says_so(make_app) -> None:
    record = write_run(RUN_OK, status="finished", iters=5, max_iter=5, exit_code=0)
    write_dcp_checkpoint(Path(record.job_dir) / "checkpoints", 5, parts=("model",), latest=False)
    await _press_on_dashboard(make_app, "e", lambda n: "No complete checkpoint" in n)
    assert not (Path(record.job_dir) / "export").exists()


@pytest.mark.timeout(60)
def test_a_second_export_into_the_same_folder_is_refused_while_one_runs(monkeypatch) -> None:
    import threading

    from cosmos_tui.core.checkpoints import export as ckpt_export
    from cosmos_tui.core.errors import UserError
    from cosmos_tui.tui.backend import Backend

    _run_with_checkpoints((10,), latest=10)
    started, release = threading.Event(), threading.Event()
    real = ckpt_export.export_checkpoint

    def slow_export_double(*args, **kwargs):  # a test double: the real export, held at its start
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(ckpt_export, "export_checkpoint", slow_export_double)
    backend = Backend(clock=lambda: NOW, gpu_sampler=GpuSampler(fake_gpus(1)), disk_free=lambda path: 10**12)
    first: list[str] = []
    worker = threading.Thread(target=lambda: first.append(backend.export(RUN_OK)))
    worker.start()
    assert started.wait(30)
    with pytest.raises(UserError, match="already running"):
        backend.export(RUN_OK, overwrite=True)
    release.set()
    worker.join(30)
    assert first and "Exported iteration 10" in first[0]
    assert "Exported iteration 10" in backend.export(RUN_OK, overwrite=True)  # free again afterwards


async def test_export_into_a_folder_that_cannot_be_made_is_one_sentence(make_app) -> None:
    ckdir = _run_with_checkpoints((10,), latest=10)
    (ckdir.parent / "export").write_text("a file where the export folder goes")
    screen, notes = await _press_on_dashboard(
        make_app, "e", lambda n: n.startswith("cannot export"), timeout=30
    )
    assert not any("Traceback" in n for n in notes)
    assert isinstance(screen, DashboardScreen)


async def _choose(pilot, app, label_start: str) -> None:
    """In the checkpoint's action list, pick the action whose label starts with ``label_start``."""
    await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
    options = app.screen.query_one(OptionList)
    index = next(
        i
        for i in range(options.option_count)
        if str(options.get_option_at_index(i).prompt).startswith(label_start)
    )
    options.highlighted = index
    await pilot.press("enter")


@pytest.mark.timeout(120)
async def test_checkpoints_newest_first_and_enter_opens_their_actions(make_app) -> None:
    import torch

    ckdir = _run_with_checkpoints(tuple(range(10, 130, 10)), latest=120)  # more than the panel shows
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = await _dashboard(pilot, app)
        table = dash.query_one(CheckpointsTable)
        await wait_for(pilot, lambda: table.row_count == 12)
        keys = [int(table.coordinate_to_cell_key((r, 0)).row_key.value) for r in range(table.row_count)]
        assert keys == list(range(120, 0, -10))  # the newest on top
        assert table.selected_iteration == 120
        table.focus()
        await pilot.press("ctrl+end")  # it scrolls to the oldest
        assert table.selected_iteration == 10 and table.scroll_y > 0
        await pilot.press("ctrl+home", "down", "down")
        assert table.selected_iteration == 100

        await pilot.press("enter")
        await _choose(pilot, app, "Verify")
        await wait_for(pilot, lambda: any("Iteration 100: ok" in n for n in _notes(app)))

        await pilot.press("enter")
        await _choose(pilot, app, "Pin")
        await wait_for(pilot, lambda: read_pins(ckdir) == {100})
        await wait_for(pilot, lambda: next(c for c in dash.view.checkpoints if c.iteration == 100).pinned)
        assert table.selected_iteration == 100  # the rebuilt table kept the cursor on its row
        await pilot.press("enter")
        await _choose(pilot, app, "Unpin")
        await wait_for(pilot, lambda: read_pins(ckdir) == set())

        await pilot.press("enter")
        await _choose(pilot, app, "Copy")
        path = str(ckdir / "iter_000000100")
        await wait_for(pilot, lambda: app.clipboard == path)
        assert f"Copied the path: {path}" in _notes(app)

        await pilot.press("enter")
        await _choose(pilot, app, "Export")  # this one, to a folder of the person's choosing
        await wait_for(pilot, lambda: isinstance(app.screen, PathDialog))
        assert "iteration 100" in app.screen.question and "--iter 100" in app.screen.command
        box = app.screen.query_one(Input)
        box.value = "export-100"  # relative: inside the job folder
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("Exported iteration 100" in n for n in _notes(app)), timeout=60)
        assert (ckdir.parent / "export-100" / "model.pt").is_file()
        assert not (ckdir.parent / "export").exists()
        assert torch.load(ckdir.parent / "export-100" / "model.pt", weights_only=True)


async def test_confirm_dialogs_wrap_their_text_and_start_on_cancel(make_app) -> None:
    ckdir = _run_with_checkpoints((10, 20, 30, 40), latest=40)
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(80, 24)) as pilot:
        await _dashboard(pilot, app)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        await pilot.pause(0.1)
        assert app.focused is dialog.query_one("#no", Button)  # the safe button, not Delete
        title = dialog.query_one(".dialog-title")
        body = dialog.query_one(".dialog")
        assert title.region.right <= body.region.right and title.region.height >= 2  # wrapped, not cut
        await pilot.press("enter")  # Enter out of habit: cancels
        await pilot.pause(0.3)
        assert _steps(ckdir) == [10, 20, 30, 40] and not isinstance(app.screen, ConfirmDialog)
