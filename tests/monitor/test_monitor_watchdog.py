"""The watchdog's stall rule, loss flags, exit wording, and notifications through a real command."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.metrics import IterSample
from cosmos_tui.core.monitor.notify import Notifier, NotifyConfig
from cosmos_tui.core.monitor.progress import ProgressTracker
from cosmos_tui.core.monitor.watchdog import MonitorEvent, Watchdog, WatchdogConfig, describe_exit


def _speed(it: int, spi: float, loss: float = 0.1) -> IterSample:
    return IterSample(it, loss, spi, "speed")


def _assess(wd: Watchdog, tracker: ProgressTracker, now: float, **kw):
    return wd.assess(
        now=now,
        wall=1000.0 + now,
        started_at=0.0,
        progress=tracker.snapshot(),
        last_progress_at=tracker.last_progress_at,
        saving=kw.pop("saving", False),
        **kw,
    )


def test_stall_after_k_times_the_report_interval_not_while_saving() -> None:
    tracker = ProgressTracker(max_iter=1000)
    wd = Watchdog(WatchdogConfig(stall_factor=3, min_stall_s=1), run="r1")
    # iter_speed lines every 10 iterations at 2 s/iteration: one report every 20 s.
    for k, t in enumerate([20.0, 40.0, 60.0], start=1):
        tracker.add([_speed(10 * k, 2.0)], t)
    assert tracker.snapshot().expected_report_interval_s == 20.0
    health, events = _assess(wd, tracker, 100.0)
    assert health.state == "running" and health.stall_threshold_s == 60.0 and not events
    health, events = _assess(wd, tracker, 150.0, saving=True, last_save_at=150.0)
    assert health.state == "saving" and not events
    health, events = _assess(wd, tracker, 200.0, last_save_at=150.0)  # 50 s since the save: fine
    assert health.state == "running"
    health, events = _assess(wd, tracker, 211.0, last_save_at=150.0)
    assert health.state == "stalled" and [e.kind for e in events] == ["stalled"]
    assert events[0].run == "r1" and events[0].iteration == 30
    _, again = _assess(wd, tracker, 300.0, last_save_at=150.0)
    assert again == []  # fired once
    tracker.add([_speed(40, 2.0)], 301.0)
    health, events = _assess(wd, tracker, 301.0)
    assert health.state == "running" and [e.kind for e in events] == ["recovered"]


def test_startup_has_no_stall_unless_configured() -> None:
    tracker = ProgressTracker()
    health, _ = _assess(Watchdog(), tracker, 10_000.0)
    assert health.state == "starting"
    health, events = _assess(Watchdog(WatchdogConfig(startup_stall_s=600)), tracker, 601.0)
    assert health.state == "stalled" and events[0].kind == "stalled"


def test_nan_losses_unstable_lines_disk_and_exit() -> None:
    tracker = ProgressTracker()
    tracker.add([_speed(10, 1.0), _speed(20, 1.0, float("nan"))], 1.0)
    wd = Watchdog(WatchdogConfig(low_disk_bytes=1 << 30))
    unstable = ("Unstable loss nan at iteration 20 with is_image_batch: False",)
    health, events = _assess(wd, tracker, 2.0, unstable_lines=unstable, disk_free_bytes=1 << 20)
    assert [e.kind for e in events] == ["unstable_loss", "unstable_loss", "low_disk"]
    assert any("NaN/Inf loss at iteration 20" in f for f in health.flags)
    _, events = _assess(wd, tracker, 3.0, unstable_lines=unstable, disk_free_bytes=1 << 20)
    assert events == []
    health, events = _assess(wd, tracker, 4.0, exit_code=-9)
    assert health.state == "crashed" and "out-of-memory" in (health.exit_message or "")
    assert [e.kind for e in events] == ["crashed"]
    assert _assess(wd, tracker, 5.0, exit_code=-9)[1] == []


def test_exit_wording() -> None:
    assert describe_exit(0) == "finished (exit 0)"
    assert "SIGKILL" in describe_exit(-9) and "SIGKILL" in describe_exit(137)
    assert describe_exit(-15) == "killed by SIGTERM (exit -15)"
    assert describe_exit(1) == "failed with exit code 1"


def test_bell_and_webhook_command_get_the_event(tmp_path: Path) -> None:
    sink = tmp_path / "event.json"
    script = f"import sys, pathlib; pathlib.Path({str(sink)!r}).write_text(sys.stdin.read())"
    stream = io.StringIO()
    notifier = Notifier(NotifyConfig.build(bell=True, command=[sys.executable, "-c", script]), stream=stream)
    notifier.notify(
        [MonitorEvent("recovered", "ignored kind", "r1"), MonitorEvent("crashed", "run died", "r1", 5.0, 7)]
    )
    notifier.join(30)
    assert stream.getvalue() == "\a"
    assert json.loads(sink.read_text()) == {
        "kind": "crashed",
        "message": "run died",
        "run": "r1",
        "at": 5.0,
        "iteration": 7,
    }
    assert [d.returncode for d in notifier.deliveries] == [0]


def test_webhook_failures_are_recorded_and_shell_strings_refused(tmp_path: Path) -> None:
    notifier = Notifier(NotifyConfig.build(command=[str(tmp_path / "missing-program")]))
    notifier.notify([MonitorEvent("finished", "done")])
    notifier.join(30)
    assert notifier.deliveries[0].returncode is None and notifier.deliveries[0].error
    with pytest.raises(UserError, match="list of arguments"):
        NotifyConfig.build(command="curl -d @- https://example.invalid")
