"""`cosmos-tui demo` on a terminal: after the person leaves the TUI (q), a summary of the demo run
and an exit code that says how it went (the TUI itself is replaced; the rest runs as a user's)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli import demo as cli_demo
from cosmos_tui.cli.app import app
from cosmos_tui.core import demo as core_demo

RUN = "20260101-000000-s2mv-text2world-tiny-0001"
PRESET = {"experiment": {"name": "s2mv_text2world_tiny", "overrides": ["trainer.max_iter=10"]}}


def _job(tmp_path: Path, *iterations: int) -> Path:
    job = tmp_path / "job"
    for it in iterations:
        for part in ("model", "optim", "scheduler", "trainer"):
            (job / "checkpoints" / f"iter_{it:09d}" / part).mkdir(parents=True)
            (job / "checkpoints" / f"iter_{it:09d}" / part / ".metadata").write_bytes(b"x")
    job.mkdir(exist_ok=True)
    return job


@pytest.fixture
def tui(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A terminal, a demo launch that returns the run ``RUN`` and a TUI that returns at once (q)."""
    opened: list[str] = []
    monkeypatch.setattr(cli_demo, "_interactive", lambda: True)
    monkeypatch.setattr(core_demo, "start_demo", lambda *a, **k: core_demo.get_run(RUN))
    import cosmos_tui.tui.app as tui_app

    monkeypatch.setattr(tui_app, "run_app", lambda initial_run_id=None: opened.append(initial_run_id))
    return opened


def _demo():
    return CliRunner().invoke(app, ["demo"])


def test_finished_run_summary_and_exit_0(tmp_path: Path, tui: list[str]) -> None:
    job = _job(tmp_path, 5, 10)
    add_ended_run(RUN, preset=PRESET, job_dir=str(job), start_iteration=0, last_iteration=10)
    result = _demo()
    assert tui == [RUN]
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"run_id       {RUN}" in lines
    assert "status       finished (exit code 0)" in lines
    assert "iterations   0→10 of 10" in lines
    assert "checkpoints  iter_000000005, iter_000000010" in lines
    assert f"job_dir      {job}" in lines
    assert "goes on without the UI" not in result.output


def test_failed_run_exits_1_and_says_why(tmp_path: Path, tui: list[str]) -> None:
    add_ended_run(
        RUN, "failed", exit_code=1, preset=PRESET, job_dir=str(_job(tmp_path)), reason="rank 1 died: OOM"
    )
    result = _demo()
    assert result.exit_code == 1
    assert "status       failed (exit code 1)" in result.stdout
    assert "checkpoints  none" in result.stdout
    assert "demo failed: rank 1 died: OOM" in result.stderr and f"runs logs {RUN}" in result.stderr


def test_stopped_run_exits_0(tmp_path: Path, tui: list[str]) -> None:
    add_ended_run(RUN, "stopped", preset=PRESET, job_dir=str(_job(tmp_path, 5)), last_iteration=6)
    result = _demo()
    assert result.exit_code == 0, result.output
    assert "status       stopped (exit code 0)" in result.stdout


def test_a_run_still_going_says_how_to_reattach_and_stop(
    tmp_path: Path, tui: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = add_ended_run(RUN, preset=PRESET, job_dir=str(_job(tmp_path, 5)), last_iteration=7)
    running = dataclasses.replace(ended, status="running", exit_code=None)
    for module in (cli_demo, core_demo):  # the reconciled record of a run whose processes live
        monkeypatch.setattr(module, "get_run", lambda _id: running)
    result = _demo()
    assert result.exit_code == 0, result.output
    assert "status       running\n" in result.stdout and "checkpoints  iter_000000005" in result.stdout
    assert "goes on without the UI" in result.stderr
    assert (
        f"cosmos-tui runs logs -f {RUN}" in result.stderr and f"cosmos-tui runs stop {RUN}" in result.stderr
    )


def test_a_run_lost_with_the_ui_exits_1(tmp_path: Path, tui: list[str]) -> None:
    add_ended_run(RUN, "lost", exit_code=None, preset=PRESET, job_dir=str(_job(tmp_path)))
    result = _demo()
    assert result.exit_code == 1
    assert "status       lost\n" in result.stdout
