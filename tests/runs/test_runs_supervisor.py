"""The supervisor and the lifecycle with real torchrun processes (running the test worker script).
A clean finish and a graceful stop are covered with the real engine in test_runs_engine.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from runs_helpers import wait_for_line
from support.runs import wait_run

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import get_run, registry, stop_run
from cosmos_tui.core.runs import procs as procs_mod
from cosmos_tui.core.runs.record import ProcRef

pytestmark = pytest.mark.timeout(90)


def test_a_failing_rank_fails_the_run_with_its_reason(launch_script) -> None:
    rec = launch_script("--steps", "50", "--step-s", "0.05", "--fail-rank", "1", "--code", "3")
    done = wait_run(rec.id, lambda r: not r.active)
    assert done.status == "failed" and done.exit_code == 1
    assert "torchrun exited 1" in done.reason
    assert "failing with code 3" in done.console_log.read_text()


def test_stop_escalates_to_sigkill_only_within_the_run(launch_script) -> None:
    rec = launch_script("--steps", "1000", "--step-s", "0.05", "--ignore-term")
    wait_run(rec.id, lambda r: len(r.procs) >= 2)
    wait_for_line(rec, "Hit counter: 2/")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        report = stop_run(rec.id, timeout=2.0)
        assert report.killed, "the ranks ignore SIGTERM, so they must have been killed"
        assert bystander.pid not in {p.pid for p in report.killed}
        assert bystander.poll() is None
        done = report.record
        assert done.status == "stopped"
        assert not any(procs_mod.alive(p) for p in done.procs)
    finally:
        bystander.kill()
        bystander.wait()


def test_kill_9_of_supervisor_and_agent_ends_lost_with_reason(launch_script) -> None:
    rec = launch_script("--steps", "1000", "--step-s", "0.05")
    running = wait_run(rec.id, lambda r: r.agent is not None and len(r.procs) >= 2)
    wait_for_line(rec, "Hit counter: 2/")
    os.kill(running.supervisor.pid, signal.SIGKILL)
    os.kill(running.agent.pid, signal.SIGKILL)
    # The orphaned ranks notice their agent is gone and exit; until then the run is not "lost".
    lost = wait_run(rec.id, lambda r: r.status == "lost", timeout=30)
    assert lost.exit_code is None
    assert "ended without recording an exit code" in lost.reason
    assert "last log lines" in lost.reason and "rank" in lost.reason


def test_pid_reuse_never_makes_stop_signal_a_stranger() -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = psutil.Process(stranger.pid).create_time()
        # A record from an earlier run whose processes had this pid but started at another time.
        ghost = ProcRef(stranger.pid, real - 1000.0, "agent")
        rid = "20260101-000000-ghost-0001"
        rec = registry.create(
            registry.RunRecord(
                id=rid,
                run_dir=registry.run_dir_for(rid),
                preset={},
                created_at=time.time() - 3600,
                status="running",
                supervisor=ProcRef(stranger.pid, real - 1000.0, "supervisor"),
                agent=ghost,
                procs=(ProcRef(stranger.pid, real - 999.0, "rank"),),
            )
        )
        assert not procs_mod.signal_if_same(ghost, signal.SIGTERM)
        with pytest.raises(UserError, match="not running"):
            stop_run(rec.id, timeout=1.0)
        assert get_run(rid).status == "lost"
        time.sleep(0.2)
        assert stranger.poll() is None, "the stranger must not have been signalled"
    finally:
        stranger.kill()
        stranger.wait()


def test_a_stop_after_the_last_iteration_records_a_finished_run(launch_script) -> None:
    """The stop arrived while the ranks shut down after "Done with training.": they die by the
    SIGTERM and torchrun exits 1, yet the run trained to its end, so it is finished (exit 0 for
    the CLI), with a reason that says so."""
    from cosmos_tui.cli.runview import exit_code_for
    from cosmos_tui.core.runs import stop_run

    rec = launch_script("--steps", "3", "--step-s", "0.05", "--linger", "30")
    wait_for_line(rec, "Done with training.")
    time.sleep(0.5)
    report = stop_run(rec.id, timeout=20)
    done = report.record
    assert done.status == "finished" and exit_code_for(done) == 0, done.reason
    assert "before the stop arrived" in (done.reason or "")
