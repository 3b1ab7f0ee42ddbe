"""The save-now request (``JOB/SAVE_NOW``) is written only for a live run: an ended engine never
deletes it, and the next run on the job would save at its first step. Real records and a real
process standing in for the run's supervisor."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import ProcRef, RunRecord
from cosmos_tui.core.runs.savenow import SAVE_NOW_FILE, request_save


def _record(tmp_path: Path, run_id: str, **kw) -> RunRecord:
    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    record = RunRecord(
        id=run_id,
        run_dir=registry.run_dir_for(run_id),
        preset={},
        created_at=time.time() - 600,
        job_dir=str(job),
        **kw,
    )
    registry.create(record)
    return record


@pytest.mark.timeout(60)
def test_a_live_run_gets_the_request_and_an_ended_one_never(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref = ProcRef(proc.pid, psutil.Process(proc.pid).create_time(), "supervisor")
        live = _record(tmp_path, "20260101-000000-live-aaaa", status="running", supervisor=ref)
        path = request_save(live.id)
        assert path == Path(live.job_dir) / SAVE_NOW_FILE and path.exists()
        path.unlink()
    finally:
        proc.kill()
        proc.wait()
    # Its supervisor is gone: the record reconciles to lost, and no request is written.
    with pytest.raises(UserError, match="has ended"):
        request_save(live.id)
    assert not (Path(live.job_dir) / SAVE_NOW_FILE).exists()


@pytest.mark.parametrize("status", ["failed", "finished", "stopped"])
def test_an_ended_run_is_refused_in_one_sentence(tmp_path: Path, status: str) -> None:
    record = _record(tmp_path, f"20260101-000000-{status}-bbbb", status=status, exit_code=1)
    with pytest.raises(UserError, match=rf"has ended \({status}\); only a running run can save"):
        request_save(record.id)
    assert list(Path(record.job_dir).iterdir()) == []


@pytest.mark.timeout(60)
def test_an_engine_without_a_save_request_file_is_never_sent_one(tmp_path: Path) -> None:
    """Upstream engines poll no SAVE_NOW: a file written for them would stay in the job folder."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ref = ProcRef(proc.pid, psutil.Process(proc.pid).create_time(), "supervisor")
        live = _record(
            tmp_path,
            "20260101-000000-upstream-cccc",
            status="running",
            supervisor=ref,
            engine_kind="cosmos-predict2.5",
        )
        with pytest.raises(UserError, match="takes no save-now request"):
            request_save(live.id)
        assert list(Path(live.job_dir).iterdir()) == []
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(120)
def test_a_launch_removes_a_request_an_earlier_run_left(launch_script, tmp_path: Path) -> None:
    """A SAVE_NOW left by a run that ended before saving (killed, or written by an older version)
    would make the next run on the job save at its first step: the launch, holding the job's lock,
    removes it and says so."""
    from cosmos_tui.core.runs import get_run, stop_run

    job = tmp_path / "job"
    job.mkdir()
    (job / SAVE_NOW_FILE).touch()
    record = launch_script("--steps", "400", "--step-s", "0.05")
    try:
        assert not (job / SAVE_NOW_FILE).exists()
        assert any(f"removed the {SAVE_NOW_FILE} an earlier run left" in n for n in get_run(record.id).notes)
    finally:
        stop_run(record.id)
