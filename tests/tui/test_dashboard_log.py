"""The dashboard's log panel on real console.log files (Pilot): following survives a resize, `/`
searches the whole file (not only the lines the panel holds), n/N move between matches and load
their context from the file, E jumps to the first error, and wrapping and the short prefix toggle.
No mocks: the runs are written through the real registry and read through the real backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import wait_for
from tui_world import RUN_FAILED, RUN_OK, write_run

from cosmos_tui.core.runs import registry
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.widgets.log_view import MATCH_STYLE, LogView


def _loguru(i: int, message: str, level: str = "INFO") -> str:
    stamp = f"01-01 12:{i // 60 % 60:02d}:{i % 60:02d}"
    return f"[rank1]:[{stamp}|{level}|cosmos_engine/trainer.py:212:train] {message}"


def _console(run_id: str) -> Path:
    return registry.run_dir_for(run_id) / "console.log"


def _long_run(lines: list[str]) -> Path:
    """A finished run whose console.log is ``lines``."""
    write_run(RUN_OK, status="finished", iters=5, max_iter=5, exit_code=0)
    path = _console(RUN_OK)
    path.write_text("".join(f"{ln}\n" for ln in lines))
    return path


async def _open(pilot, app) -> tuple[DashboardScreen, LogView]:
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.polls > 0)
    log = app.screen.query_one(LogView)
    await wait_for(pilot, lambda: log.line_count > 0)
    return app.screen, log


def _notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("size", [(100, 24), (100, 50), (60, 30)])
async def test_the_log_keeps_following_after_a_resize(make_app, size) -> None:
    path = _long_run([f"step {i}" for i in range(300)])
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 36)) as pilot:
        _, log = await _open(pilot, app)
        await wait_for(pilot, lambda: log.lines[-1] == "step 299")
        await pilot.resize_terminal(*size)
        await pilot.pause(0.2)
        with open(path, "a") as f:
            f.write("a line after the resize\n")
        await wait_for(pilot, lambda: log.lines[-1] == "a line after the resize")
        await pilot.pause(0.2)
        assert log.follow
        assert log.scroll_y == log.max_scroll_y > 0  # the new line is on screen
        await pilot.resize_terminal(100, 36)  # and back
        await pilot.pause(0.2)
        assert log.scroll_y == log.max_scroll_y


async def test_scrolling_up_pauses_following_and_end_resumes_it(make_app) -> None:
    _long_run([f"step {i}" for i in range(300)])
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 30)) as pilot:
        _, log = await _open(pilot, app)
        log.focus()
        await pilot.press("pageup")
        assert not log.follow and log.scroll_y < log.max_scroll_y
        await pilot.pause(0.1)
        assert "paused · f follow" in str(log.border_subtitle)
        await pilot.press("end")
        assert log.follow and log.scroll_y == log.max_scroll_y
        await pilot.pause(0.1)
        assert "paused" not in str(log.border_subtitle)


@pytest.mark.timeout(120)
async def test_slash_searches_the_whole_file_and_n_moves_between_matches(make_app) -> None:
    lines = [_loguru(i, f"Iteration {i}: Hit counter: 10/10 | Loss: 0.5 | Time: 0.4s") for i in range(8000)]
    lines[100] = _loguru(100, "checkpoint needle saved (early, long out of the buffer)")
    lines[7900] = _loguru(7900, "checkpoint NEEDLE saved (late, in the buffer)")
    _long_run(lines)
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 36)) as pilot:
        dash, log = await _open(pilot, app)
        assert not any("needle" in ln.text for ln in log.buffer)  # the panel holds only the tail...
        await pilot.press("slash")
        query = "needle saved"
        await pilot.press(*query.replace(" ", ""))  # letters that are hotkeys too: s, e, d, n, ...
        await pilot.press("backspace")
        box = dash.query_one("#log-search")
        assert box.value == "needlesave" and isinstance(app.screen, DashboardScreen) and not _notes(app)
        box.value = ""
        await pilot.press(*query, "enter")
        # ... but the search reads the whole file: two matches (ignoring case), the first shown with
        # its context read from the file
        await wait_for(pilot, lambda: dash._search is not None and log.current_text is not None)
        assert dash._search.count == 2
        assert "needle saved (early" in log.current_text and log.context is not None
        assert not log.follow and "match 1/2" in str(log.border_subtitle)
        assert not box.display and app.focused is log  # later keys are keys, not typing
        # the match is on screen, drawn highlighted
        row = log._current_rows.start
        assert log.scroll_y <= row < log.scroll_y + log.size.height
        strip = log._render_line_strip(row, log.rich_style)
        assert any(seg.style and seg.style.bgcolor == MATCH_STYLE.bgcolor for seg in strip)
        await pilot.press("n")  # the second match is buffered: the live buffer, scrolled to it
        await wait_for(pilot, lambda: log.context is None)
        assert "NEEDLE saved (late" in log.current_text and "match 2/2" in str(log.border_subtitle)
        row = log._current_rows.start
        assert log.scroll_y <= row < log.scroll_y + log.size.height
        await pilot.press("n")  # wraps around to the first
        await wait_for(pilot, lambda: log.context is not None)
        assert "needle saved (early" in log.current_text
        await pilot.press("N")
        await wait_for(pilot, lambda: log.context is None)
        assert "NEEDLE saved (late" in log.current_text
        await pilot.press("f")  # back to the live tail
        assert log.follow and log.scroll_y == log.max_scroll_y
        await pilot.press("slash")  # the box again, holding the query to edit
        assert box.display and box.value == query and app.focused is box
        await pilot.press("escape")  # the first escape closes the search ...
        assert isinstance(app.screen, DashboardScreen) and not box.display and dash._search is None
        await pilot.press("escape")  # ... the next leaves the dashboard
        assert not isinstance(app.screen, DashboardScreen)


async def test_a_search_without_a_match_says_so(make_app) -> None:
    _long_run([f"step {i}" for i in range(50)])
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 30)) as pilot:
        dash, log = await _open(pilot, app)
        await pilot.press("slash", *"nowhere", "enter")
        await wait_for(pilot, lambda: dash._search is not None)
        assert dash._search.count == 0 and "no match" in str(log.border_subtitle)
        await pilot.press("n")
        assert any("No line holds" in n for n in _notes(app))


async def test_E_jumps_to_the_first_error_even_outside_the_buffer(make_app, fixed_runs) -> None:
    app = make_app(initial_run_id=RUN_FAILED)
    async with app.run_test(size=(100, 30)) as pilot:
        _, log = await _open(pilot, app)
        await pilot.press("E")
        await wait_for(pilot, lambda: log.current_text is not None)
        assert "CUDA out of memory while saving" in log.current_text and log.context is None

    path = _console(RUN_FAILED)
    with open(path, "a") as f:  # the error is followed by many more lines: no longer buffered
        f.writelines(f"after {i}\n" for i in range(3000))
    app = make_app(initial_run_id=RUN_FAILED)
    async with app.run_test(size=(100, 30)) as pilot:
        _, log = await _open(pilot, app)
        await pilot.press("E")
        await wait_for(pilot, lambda: log.current_text is not None)
        assert "CUDA out of memory while saving" in log.current_text and log.context is not None


async def test_E_without_an_error_says_so(make_app) -> None:
    _long_run([f"step {i}" for i in range(50)])
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot, app)
        await pilot.press("E")
        await wait_for(pilot, lambda: any("No error in the log" in n for n in _notes(app)))


async def test_wrap_and_the_short_prefix_show_the_loss_in_a_narrow_panel(make_app) -> None:
    loss_line = _loguru(7, "Iteration 7: Hit counter: 7/10 | Loss: 0.6543 | Time: 0.420s")
    long_line = "x" * 250
    _long_run([loss_line, long_line])
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(80, 30)) as pilot:
        _, log = await _open(pilot, app)
        await wait_for(pilot, lambda: log.line_count == 2)
        width = log.scrollable_content_region.width
        assert "Loss: 0.6543" not in log.lines[0][:width]  # the prefix pushes it off the panel
        await pilot.press("c")
        short = log.lines[0]
        assert short.startswith("12:00:07 I r1 trainer:212 Iteration 7")
        assert "Loss: 0.6543" in short[:width]

        def rows(width: int) -> int:
            return -(-len(short) // width) + -(-250 // width)

        await pilot.press("z")  # wrap: long lines take rows of the panel's width
        assert log.line_count == rows(width) and log.line_count > 2
        assert all(len(row) <= width for row in log.lines)
        await pilot.resize_terminal(160, 30)  # wider: wrapped again to the new width
        await pilot.pause(0.2)
        width = log.scrollable_content_region.width
        assert log.line_count == rows(width)
        await pilot.press("z", "c")
        assert log.lines == [loss_line, long_line]


async def test_the_buffer_rolls_over_without_losing_the_current_match() -> None:
    from textual.app import App

    from cosmos_tui.core.monitor.logline import parse_line

    class One(App):
        def compose(self):
            yield LogView(capacity=10, id="log")

    app = One()
    async with app.run_test(size=(60, 8)) as pilot:
        log = app.query_one(LogView)
        log.add_lines([parse_line(f"line {i}") for i in range(8)], end_offset=80)
        log.set_search("line 5")
        assert log.jump_to(5) and log.current_text == "line 5" and not log.follow
        log.add_lines([parse_line(f"line {i}") for i in range(8, 13)])  # 3 old lines leave
        assert log.lines == [f"line {i}" for i in range(3, 13)] and log.first_seq == 3
        assert log.current_text == "line 5" and log.lines[log._current_rows.start] == "line 5"
        log.add_lines([parse_line(f"line {i}") for i in range(13, 19)])  # the match leaves too
        assert log.current_text is None and not log._current_rows
        assert not log.jump_to(5)  # no longer buffered: the dashboard reads its context instead
        await pilot.pause()


async def test_hostile_log_lines_reach_the_panel_as_visible_escapes(make_app) -> None:
    """ESC c (a terminal reset), an 8-bit CSI, a bell, bidi overrides and isolates in an engine's
    console.log are drawn as their escapes, never sent to the terminal (issue 23, item 4)."""
    raw = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    hostile = ["loss 0.5 \x1bc", "bell\x07 \x9b2J", "name \u202egnp.exe", "iso \u2066x\u2069", "lone \x1b"]
    _long_run(hostile)
    app = make_app(initial_run_id=RUN_OK)
    async with app.run_test(size=(120, 36)) as pilot:
        _, log = await _open(pilot, app)
        await wait_for(pilot, lambda: log.line_count >= len(hostile))
        assert not any(raw.search(line) for line in log.lines), log.lines
        assert [ln for ln in log.lines if ln.startswith(("loss", "name"))] == [
            "loss 0.5 \\x1bc",
            "name \\u202egnp.exe",
        ]
        await pilot.pause()
        drawn = ["".join(seg.text for seg in log.render_line(y)) for y in range(log.size.height)]
        assert not any(raw.search(row) for row in drawn), drawn
        assert any("\\x9b2J" in row for row in drawn)
