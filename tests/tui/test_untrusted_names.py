"""Names from disk or a user are never parsed as markup in the TUI (issue 19, item 7): a dataset
path holding ``[/]`` used to crash the app, one holding ``[bold]`` lost it in the copyable command;
a file name with a newline or an escape sequence shows as its escapes."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from helpers import wait_for
from support.waymo import synth_waymo

from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.wizard_data import DataStep

pytestmark = pytest.mark.timeout(120)


async def _data_step(app, pilot):
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen))
    wizard = app.screen
    await wait_for(pilot, lambda: wizard.query_one("#model-table").row_count > 0)
    await pilot.press(*"s2mv tiny")
    await pilot.press("ctrl+right", "ctrl+right")  # Hugging Face (skipped) -> Data
    assert wizard.step == 2
    return wizard, wizard.query_one(DataStep)


async def test_a_dataset_path_with_markup_shows_as_itself(make_app, tmp_path: Path) -> None:
    root = tmp_path / "a[/]b" / "[bold]x[/bold]" / "waymo"
    synth_waymo(root, clips=2, frames=12)
    # a clip whose name would print a fake line and clear the screen
    bad = root / "videos" / "pinhole_front" / "evil\n[green]valid\x1b[2J.mp4"
    bad.write_bytes(b"not a video")
    app = make_app(gpus=0)
    async with app.run_test(size=(160, 50)) as pilot:
        wizard, data = await _data_step(app, pilot)
        wizard.query_one("#data-root").value = str(root)
        await pilot.click("#data-validate")
        await wait_for(pilot, lambda: data.report is not None, timeout=60)
        await pilot.pause(0.1)
        summary = str(wizard.query_one("#data-summary").render())
        # the copyable command is the path itself, quoted for a shell: paste it and it validates
        command = next(line for line in summary.splitlines() if "cosmos-tui data validate" in line)
        argv = shlex.split(command.removeprefix("$ "))
        assert argv[3] == str(root), command
        assert "[bold]x[/bold]" in command and "a[/]b" in command
        table = wizard.query_one("#findings-table")
        cells = [str(c) for row in range(table.row_count) for c in table.get_row_at(row)]
        shown = " ".join(cells)
        assert "\x1b" not in shown and "\n" not in shown
        assert any("evil\\n[green]valid" in c for c in cells), cells
        assert app.is_running


async def test_an_error_naming_a_markup_path_does_not_crash(make_app, tmp_path: Path) -> None:
    missing = tmp_path / "gone[/]" / "[bold]here"
    app = make_app(gpus=0)
    async with app.run_test(size=(160, 50)) as pilot:
        wizard, data = await _data_step(app, pilot)
        wizard.query_one("#data-root").value = str(missing)
        await pilot.click("#data-validate")
        await wait_for(pilot, lambda: "[bold]here" in str(wizard.query_one("#data-summary").render()))
        assert app.is_running and data.report is None


async def test_enter_in_the_folder_box_detects_the_layout(make_app, tmp_path: Path) -> None:
    """Enter in Data -> Folder guesses the layout (it used to crash the app with an AttributeError),
    and the step's first field has the focus, so typing goes where the person looks."""
    root = tmp_path / "waymo"
    synth_waymo(root, clips=2, frames=12)
    app = make_app(gpus=0)
    async with app.run_test(size=(120, 36)) as pilot:
        wizard, data = await _data_step(app, pilot)
        await wait_for(pilot, lambda: app.focused is wizard.query_one("#data-root"))
        await pilot.press(*str(root), "enter")
        await wait_for(pilot, lambda: wizard.query_one("#data-layout").value == "predict1-waymo")
        assert app.is_running and data.data_root == str(root)
