"""The Queue screen and queued entries in the runs list (Pilot): entries waiting in the real
queue on disk show with their place and what they wait for; shift+up reorders, x cancels, p
pauses and resumes, o overlays a sweep's curves; each goes through core's queue."""

from __future__ import annotations

from helpers import wait_for

from cosmos_tui.core.presets import load_preset, resolve_preset
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.tui.screens.queue import QueueScreen
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.widgets.runs_table import RunsTable


def _queue(name: str, **kw) -> str:
    preset = load_preset(resolve_preset("builtin-demo")).to_dict()
    entry = QueueEntry(
        **store.base_fields(), preset=preset, preset_ref="builtin-demo", sets=(f"job.name={name}",), **kw
    )
    return store.add(entry).id


async def test_queued_entries_show_in_the_runs_list_and_the_queue_screen_acts_on_them(make_app) -> None:
    store.set_paused(True)
    # GPU requests: the app's GPUs are NVML fakes, the dispatcher (a real process) sees none, so
    # nothing can start while the test resumes the queue
    a = _queue("qa", gpus="0,1")
    b = _queue("qb", gpus="any:1", sweep="sw-1", label="optimizer.lr=1e-4")
    c = _queue("qc", gpus="any:1")
    app = make_app(gpus=2)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded)
        rows = {r.id: r for r in app.screen.rows}
        assert [rows[e].status for e in (a, b, c)] == ["queued"] * 3
        assert rows[a].badges[:2] == ("#1", "0,1") and rows[a].job == "qa"
        assert "queue paused" in rows[a].badges[2]
        table = app.screen.query_one(RunsTable)
        table.move_cursor(row=table.get_row_index(b))
        await pilot.press("enter")  # a queued row opens the Queue screen, not a dashboard
        await wait_for(pilot, lambda: isinstance(app.screen, QueueScreen) and app.screen.loaded)
        screen = app.screen
        assert [q.id for q in screen.items] == [a, b, c]
        table = screen.query_one("#queue-table")
        table.move_cursor(row=2)
        await pilot.press("shift+up")
        await wait_for(pilot, lambda: [q.id for q in screen.items] == [a, c, b])
        table.move_cursor(row=table.get_row_index(a))
        await pilot.press("x")
        await wait_for(pilot, lambda: store.read(a).state == "cancelled")
        await wait_for(pilot, lambda: [q.id for q in screen.items] == [c, b])
        table.move_cursor(row=table.get_row_index(b))
        await pilot.press("o")  # its sweep: no point has a loss yet, the chart says so
        assert screen.query_one("#sweep-chart").display
        await pilot.press("o")
        assert not screen.query_one("#sweep-chart").display
        assert "paused" in str(screen.query_one("#queue-state").render())
        await pilot.press("p")
        await wait_for(pilot, lambda: not store.paused())
        await pilot.press("p")
        await wait_for(pilot, lambda: store.paused())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
    await wait_for_dispatcher_gone()
    assert [store.read(e).state for e in (b, c)] == ["queued", "queued"]


async def wait_for_dispatcher_gone(timeout: float = 20.0) -> None:
    """The dispatcher the resume started sees the pause and exits."""
    import asyncio

    from cosmos_tui.core.queue.dispatch import running_dispatcher

    for _ in range(int(timeout / 0.2)):
        if running_dispatcher() is None:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the dispatcher did not exit after the pause")
