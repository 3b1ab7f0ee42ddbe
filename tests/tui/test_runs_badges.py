"""The runs screen's badges are the watchdog's (core's ``run_badges`` / ``flag_badge``): the TUI
holds no copy of which flag means SLOW or LOW-DISK, so it and ``runs list`` cannot drift apart."""

from __future__ import annotations

import pytest
from tui_world import RUN_FAILED, write_run

from cosmos_tui.core.monitor import watchdog
from cosmos_tui.tui.backend import Backend

LOW = 2 << 30  # under the watchdog's 10 GiB


def test_a_failed_run_on_a_low_disk_shows_the_watchdogs_badges() -> None:
    write_run(RUN_FAILED, status="failed", iters=20, max_iter=100, exit_code=1)
    row = Backend(clock=lambda: 0.0, disk_free=lambda path: LOW).run_view(RUN_FAILED).row
    assert row.badges == ("LOW-DISK", "CRASH")
    killed = "20260101-110000-s2mv-text2world-tiny-e5f6"
    write_run(killed, status="failed", iters=20, max_iter=100, exit_code=-9)
    assert Backend(clock=lambda: 0.0, disk_free=lambda path: LOW).run_view(killed).row.badges == (
        "LOW-DISK",
        "OOM-KILL",
    )


def test_the_tui_asks_the_watchdog_which_badge_a_flag_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the watchdog's mapping changed, the TUI's row changes with it (a copy would not)."""
    monkeypatch.setattr(watchdog, "flag_badge", lambda flag: "DISK?" if flag.startswith("low disk") else "?")
    write_run(RUN_FAILED, status="failed", iters=20, max_iter=100, exit_code=1)
    row = Backend(clock=lambda: 0.0, disk_free=lambda path: LOW).run_view(RUN_FAILED).row
    assert row.badges == ("DISK?", "CRASH")


def test_run_badges_order_and_kill() -> None:
    flags = ("NaN/Inf loss at iteration 3", "low disk: 2 GiB free", "slow: 9 s/iter", "CPU fallback: x")
    assert watchdog.run_badges(flags, stalled=True) == ("STALL", "NaN", "LOW-DISK", "SLOW")
    assert watchdog.run_badges((), exit_code=137, failed=True) == ("OOM-KILL",)
    assert watchdog.run_badges((), exit_code=1, failed=True) == ("CRASH",)
    assert watchdog.run_badges((), exit_code=-9) == ("OOM-KILL",)
