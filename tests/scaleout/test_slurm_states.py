"""How Slurm's job states become run-record states and reasons (no cluster needed: records on
disk and JobState values as scontrol/sacct report them)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import RunRecord
from cosmos_tui.core.slurm.client import JobState
from cosmos_tui.core.slurm.jobs import EXIT_FILE, apply_state, reconcile_slurm

pytestmark = pytest.mark.timeout(30)


def _record(**changes: object) -> RunRecord:
    run_id = f"20260101-000000-slurm-{len(registry.run_ids()):04x}"
    record = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset={"launch": {"target": "slurm", "slurm": {"time": "01:00:00"}}},
        status="starting",
        created_at=time.time(),
        target="slurm",
        slurm_job_id="41",
        job_id="41",
    )
    return registry.create(record.replace(**changes))


@pytest.mark.parametrize(
    ("state", "stop", "status", "words"),
    [
        ("COMPLETED", False, "finished", "exited 0 on every node"),
        ("COMPLETED", True, "stopped", "stopped on request"),
        ("FAILED", True, "stopped", "stopped on request"),
        ("CANCELLED", False, "stopped", "cancelled outside cosmos-tui"),
        ("TIMEOUT", False, "failed", "time limit (01:00:00); the engine was signalled 300 s before"),
        ("NODE_FAIL", False, "failed", "a node failed (gpu[01-02])"),
        ("OUT_OF_MEMORY", False, "failed", "out of host memory"),
        ("PREEMPTED", False, "failed", "preempted"),
    ],
)
def test_ended_states(state: str, stop: bool, status: str, words: str) -> None:
    record = _record(stop_requested=stop, status="stopping" if stop else "running")
    code = 0 if state == "COMPLETED" else 1
    done = apply_state(record, JobState("41", state, code, 0, None, 100.0, 160.0, "gpu[01-02]"))
    assert done.status == status and words in (done.reason or "")
    assert done.exit_code == code and done.slurm_state == state and done.ended_at == 160.0


def test_pending_and_running_states() -> None:
    record = _record()
    pending = apply_state(record, JobState("41", "PENDING", reason="Resources"))
    assert pending.status == "starting" and pending.reason == "pending in Slurm (Resources)"
    running = apply_state(pending, JobState("41", "RUNNING", start=123.0))
    assert running.status == "running" and running.reason is None and running.started_at == 123.0
    stopping = apply_state(running.replace(stop_requested=True), JobState("41", "COMPLETING"))
    assert stopping.status == "stopping" and stopping.started_at == 123.0


def test_a_failed_job_says_why_from_its_log() -> None:
    record = _record(status="running")
    record.console_log.write_text(
        "[rank0]: RuntimeError: shapes do not match\n"
        "Root Cause (first observed failure):\n[0]:\n"
        "  rank      : 0 (local_rank: 0)\n  exitcode  : 1 (pid: 9)\n"
    )
    failed = apply_state(record, JobState("41", "FAILED", 1, 0, "NonZeroExitCode"))
    assert failed.status == "failed" and "rank 0 failed with exit code 1 (RuntimeError: shapes" in (
        failed.reason or ""
    )
    record.console_log.write_text(
        "torch.distributed.elastic.multiprocessing.api.SignalException: Process 7 got signal: 15\n"
    )
    termed = apply_state(record, JobState("41", "FAILED", 1, 0))
    assert (
        termed.status == "failed"
        and "sent SIGTERM" in (termed.reason or "")
        and "runs resume" in termed.reason
    )


def test_records_without_slurm_or_a_job_id(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands at all
    record = _record(status="running")
    assert reconcile_slurm(record) == record  # cannot ask Slurm: left as it is
    fresh = _record(slurm_job_id=None)
    assert reconcile_slurm(fresh).status == "starting"  # still being submitted
    old = _record(slurm_job_id=None, created_at=time.time() - 3600)
    lost = reconcile_slurm(old)
    assert lost.status == "lost" and "before sbatch returned a job id" in (lost.reason or "")


def test_exit_file_is_read_when_slurm_forgot_the_job(slurm_forgets: None) -> None:
    record = _record(status="running")
    (record.run_dir / EXIT_FILE).write_text("0\n")
    assert reconcile_slurm(record).status == "finished"
    gone = _record(status="running")
    gone.console_log.write_text("Iteration 7: Hit counter: 1/1 | Loss: 0.1 | Time: 0.1s\n")
    lost = reconcile_slurm(gone)
    assert (
        lost.status == "lost"
        and "no longer knows job 41" in (lost.reason or "")
        and "Iteration 7" in lost.reason
    )


@pytest.fixture
def slurm_forgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FakeSlurmTools (a test double): scontrol and sacct that know no job, as a real controller
    answers for a job ended before MinJobAge on a cluster without accounting."""
    bin_dir = tmp_path / "fake_slurm_bin"
    bin_dir.mkdir()
    for name, text, code in (
        ("scontrol", "slurm_load_jobs error: Invalid job id specified", 1),
        ("sacct", "", 0),
    ):
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\necho '{text}' >&2\nexit {code}\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
