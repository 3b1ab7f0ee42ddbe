"""The samples screen on sample folders the engine's writer leaves (real PNGs and mp4s): the grid
lines up base and iterations in order, play opens the chosen column's mp4 through the real argv
builder (the launcher is a recorder: no player starts), the empty state names the command, and
the dashboard's and the job screen's `S` open it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import wait_for
from rich.text import Text
from support.sample_sets import PROMPTS, write_sample_record, write_sample_set
from textual.widgets import OptionList, Static
from tui_world import RUN_OK

from cosmos_tui.core.player import Opened, open_file
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.samples import SamplesScreen

RED, GREEN, BLUE = (1.0, -1.0, -1.0), (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0)
XDG = "/usr/bin/xdg-open"


def job_of(run_id: str) -> Path:
    return Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / "s2mv_text2world" / run_id


class RecordingOpener:
    """Test double for the player: the real :func:`open_file` with a launcher that records the
    argv instead of starting it, on a machine that has ``xdg-open``."""

    def __init__(self) -> None:
        self.started: list[tuple[str, ...]] = []

    def __call__(self, path: Path) -> Opened:
        return open_file(path, launch=lambda argv: self.started.append(tuple(argv)), which=lambda n: XDG)


def titles(screen: SamplesScreen) -> list[str]:
    return [str(t.render()) for t in screen.query(".sample-title").results(Static)]


async def open_samples(pilot, ref: str, opener=None) -> SamplesScreen:
    screen = SamplesScreen(ref, opener=opener or RecordingOpener())
    await pilot.app.push_screen(screen)
    await wait_for(pilot, lambda: screen.samples is not None)
    await pilot.pause()
    return screen


async def test_the_grid_shows_base_then_iterations_and_play_opens_the_chosen_mp4(
    make_app, fixed_runs
) -> None:
    job = job_of(RUN_OK)
    for iteration, colour in ((40, BLUE), (None, RED), (10, GREEN)):
        write_sample_set(job, iteration, colour, seeds=(0, 1))
    opener = RecordingOpener()
    async with make_app().run_test(size=(140, 40)) as pilot:
        screen = await open_samples(pilot, RUN_OK, opener)
        assert titles(screen) == ["base", "iter 10", "iter 40"]
        assert screen.query_one("#samples-keys", OptionList).option_count == 4
        assert type(screen.query(".sample-image").first()).__name__ == "HalfcellImage"
        assert screen.key == (PROMPTS[0], 0)
        await pilot.press("right", "right", "p")
        mp4 = job / "samples" / "iter_000000040" / "000_seed0.mp4"
        assert opener.started == [(XDG, str(mp4.resolve()))]
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.key == (PROMPTS[0], 1))
        await pilot.press("left", "p")
        assert opener.started[-1] == (
            XDG,
            str((job / "samples" / "iter_000000010" / "001_seed1.mp4").resolve()),
        )
        assert "Opened" in str(screen.query_one("#samples-status", Static).render())


async def test_without_a_player_the_path_and_the_command_are_shown(make_app, fixed_runs) -> None:
    write_sample_set(job_of(RUN_OK), None, RED)
    started: list = []

    def nowhere(path: Path) -> Opened:
        return open_file(path, launch=started.append, which=lambda n: None)

    async with make_app().run_test(size=(80, 30)) as pilot:
        screen = await open_samples(pilot, RUN_OK, nowhere)
        await pilot.press("p")
        widget = screen.query_one("#samples-status", Static)
        status = str(widget.render())
        assert started == [] and "No xdg-open" in status and "000_seed0.mp4" in status
        await pilot.pause()
        # The whole sentence is on screen at 80 columns (it wraps; one row used to hide the path).
        assert widget.size.height * widget.size.width >= len(status) > widget.size.width


async def test_a_job_without_samples_says_how_to_draw_them(make_app, fixed_runs) -> None:
    async with make_app().run_test(size=(120, 36)) as pilot:
        screen = await open_samples(pilot, RUN_OK)
        empty = str(screen.query_one("#samples-empty", Static).render())
        assert empty == f"No samples yet: `cosmos-tui samples new {RUN_OK} --iter latest --base`"
        assert titles(screen) == []
        await pilot.press("p")
        assert "Nothing to play" in str(screen.query_one("#samples-status", Static).render())


@pytest.mark.parametrize("via", ["dashboard", "job"])
async def test_s_opens_the_samples_of_the_runs_job(make_app, fixed_runs, via: str) -> None:
    write_sample_set(job_of(RUN_OK), 20, GREEN)
    async with make_app(initial_run_id=RUN_OK).run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
        if via == "job":
            await pilot.press("escape", "j")
            await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "JobScreen")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SamplesScreen))
        await wait_for(pilot, lambda: pilot.app.screen.samples is not None)
        await pilot.pause()
        assert titles(pilot.app.screen) == ["iter 20"]


async def test_n_on_a_job_without_checkpoints_says_why_nothing_started(make_app, fixed_runs) -> None:
    from tui_world import RUN_FAILED

    async with make_app().run_test(size=(120, 36)) as pilot:
        screen = await open_samples(pilot, RUN_FAILED)
        await pilot.press("n")
        status = screen.query_one("#samples-status", Static)
        await wait_for(pilot, lambda: "no complete checkpoint yet" in str(status.render()))
        assert samples_started() == []


def samples_started() -> list[str]:
    from cosmos_tui.core.sampling.jobs import list_sample_jobs

    return [j.id for j in list_sample_jobs()]


async def test_a_prompt_is_shown_as_text_never_as_markup_or_escapes(make_app, fixed_runs) -> None:
    hostile = "[bold red]boom[/] \x1b]52;c;ZXZpbA==\x07 [link=file:///etc/passwd]x[/link]"
    write_sample_set(job_of(RUN_OK), None, RED, prompts=(hostile,))
    async with make_app().run_test(size=(140, 40)) as pilot:
        screen = await open_samples(pilot, RUN_OK)
        prompt = screen.query_one("#samples-keys", OptionList).get_option_at_index(0).prompt
        assert isinstance(prompt, Text)  # a str prompt would be parsed as markup
        shown = prompt.plain
        assert "[bold red]boom[/]" in shown and "\x1b" not in shown and "\\x1b" in shown


async def test_a_running_samples_job_is_shown_and_n_does_not_start_a_second(make_app, fixed_runs) -> None:
    write_sample_record(job_of(RUN_OK), "20260101-120500-job-beef")
    async with make_app().run_test(size=(120, 36)) as pilot:
        screen = await open_samples(pilot, RUN_OK)
        assert "drawing iter_000000004 (20260101-120500-job-beef, 0/1 done)" in str(
            screen.query_one("#samples-running", Static).render()
        )
        await pilot.press("n")
        assert "cosmos-tui samples stop 20260101-120500-job-beef" in str(
            screen.query_one("#samples-status", Static).render()
        )
        assert samples_started() == ["20260101-120500-job-beef"]
