"""The supervisor watches its run with no UI open: the verdict lands in run.json and the user's
notification command hears how the run ended (real torchrun, the test worker script)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from support.runs import wait_run

pytestmark = pytest.mark.timeout(90)


def _notify_into(path: Path) -> None:
    """A user config whose notification command appends each event's JSON to ``path``."""
    script = f"import sys; open({str(path)!r}, 'a').write(sys.stdin.read() + '\\n')"
    config = Path(os.environ["COSMOS_TUI_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[notify]\ncommand = {json.dumps([sys.executable, '-c', script])}\n")


def _events(path: Path, want: int = 1, timeout: float = 15.0) -> list[dict]:
    """The events the command received, once ``want`` of them arrived (the command runs in the
    supervisor's background thread) or the timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        if len(events) >= want or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_a_finished_run_is_announced_without_a_ui(launch_script, tmp_path: Path) -> None:
    sink = tmp_path / "events.jsonl"
    _notify_into(sink)
    rec = launch_script("--steps", "6", "--step-s", "0.05")
    done = wait_run(
        rec.id, lambda r: not r.active and r.health is not None and r.health["state"] == "finished"
    )
    assert done.status == "finished"
    events = _events(sink)
    assert [e["kind"] for e in events] == ["finished"]
    assert events[0]["run"] == rec.id


def test_a_crash_is_announced_and_recorded(launch_script, tmp_path: Path) -> None:
    sink = tmp_path / "events.jsonl"
    _notify_into(sink)
    rec = launch_script("--steps", "50", "--fail-rank", "1", "--code", "3")
    done = wait_run(
        rec.id, lambda r: not r.active and r.health is not None and r.health["state"] == "crashed"
    )
    assert done.status == "failed"
    assert [e["kind"] for e in _events(sink)] == ["crashed"]


def test_a_broken_config_never_breaks_the_run(launch_script) -> None:
    config = Path(os.environ["COSMOS_TUI_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[notify]\ncommand = "curl -d @- http://x"\n')  # a shell string: refused
    rec = launch_script("--steps", "3", "--step-s", "0.05")
    done = wait_run(rec.id, lambda r: not r.active)
    assert done.status == "finished"
    assert "notifications off" in done.supervisor_log.read_text()


def test_runs_list_shows_the_watchdog_verdict(tmp_path: Path) -> None:
    from cosmos_tui.cli.runview import status_text
    from cosmos_tui.core.runs.record import RunRecord

    record = RunRecord(
        id="r",
        run_dir=tmp_path,
        preset={},
        status="running",
        health={"state": "stalled", "flags": ["NaN/Inf loss at iteration 7"], "iteration": 7},
    )
    text = status_text(record)
    assert "STALLED" in text and "NaN/Inf loss at iteration 7" in text
    assert "STALLED" not in status_text(record.replace(status="finished", exit_code=0))


def test_the_watch_records_its_verdict_while_the_run_trains(launch_script) -> None:
    """The verdict reaches run.json during the run (every WATCH_POLL_S), not only at its end (it
    used to tick once, when torchrun had exited): `runs list` can show a stall while it runs."""
    from cosmos_tui.core.runs import stop_run

    rec = launch_script("--steps", "400", "--step-s", "0.1")
    live = wait_run(rec.id, lambda r: r.active and r.health is not None, timeout=45)
    assert live.health["state"] in ("starting", "running", "stalled")
    stop_run(rec.id)


def test_runs_list_shows_a_flag_as_its_badge_and_keeps_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SLOW sentence is a paragraph: in the STATUS cell it pushed the ID out of an 80-column
    table; there it is the badge, the sentence goes to NOTE and `runs show`."""
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app
    from cosmos_tui.core.runs import registry
    from cosmos_tui.core.runs.record import RunRecord

    slow = (
        "slow: 0.6 s/iter, 2.4x the reference 0.247 s/iter on cpu with 2 ranks; usual causes: too few "
        "data loader workers (raise dataloader_train.num_workers), a tiny dataset re-decoded every epoch"
    )
    run_id = "20261203-140820-s2mv-text2world-tiny-2459"
    run_dir = registry.run_dir_for(run_id)
    run_dir.mkdir(parents=True)
    health = {"state": "ok", "flags": [slow, "low disk: 1.0 GiB free"], "iteration": 9}
    registry.write(
        RunRecord(id=run_id, run_dir=run_dir, preset={}, status="finished", exit_code=0, health=health)
    )
    monkeypatch.setenv("COLUMNS", "80")
    listed = CliRunner().invoke(app, ["runs", "list"])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if line.startswith(run_id))
    assert "SLOW LOW-DISK" in row and "usual causes" not in listed.stdout
    monkeypatch.setenv("COLUMNS", "200")
    wide = CliRunner().invoke(app, ["runs", "list"]).stdout
    assert "slow: 0.6 s/iter" in wide  # the first flag in words, in NOTE
    shown = CliRunner().invoke(app, ["runs", "show", run_id]).stdout
    assert "usual causes" in shown
