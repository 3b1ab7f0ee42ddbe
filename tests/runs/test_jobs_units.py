"""The job lock reconciled like run records, records that degrade one by one, and a run's own
slice of a shared job folder (no torchrun: real files and real processes only)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.runmonitor import RunMonitor
from cosmos_tui.core.runs import joblock, list_runs, registry
from cosmos_tui.core.runs.jobs import resume_lineage
from cosmos_tui.core.runs.ownership import end_fields, metrics_bytes, monitor_scope, read_range
from cosmos_tui.core.runs.record import RunRecord


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _lock(job: Path, **owner) -> None:
    data = {"run_id": "20260101-000000-x-0001", "host": socket.gethostname(), "pid": 1, "create_time": None}
    data.update(since=time.time(), **owner)
    job.mkdir(parents=True, exist_ok=True)
    (job / joblock.LOCK_FILE).write_text(json.dumps(data))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _job_with_metrics(name: str, checkpoint: str, losses: dict[int, float]) -> Path:
    """A job folder under the output root with one saved ``checkpoint`` and a metrics line per
    ``iteration: loss``."""
    job = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "p" / "g" / name
    (job / "checkpoints" / checkpoint).mkdir(parents=True)
    lines = [json.dumps({"iteration": i, "loss": loss}) for i, loss in losses.items()]
    (job / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return job


def _job_record(run_id: str, run_dir: Path, job: Path, status: str, **fields) -> RunRecord:
    """A run of ``job`` that ended with ``status`` (exit 0 and its metrics read from the start
    unless ``fields`` say otherwise)."""
    fields = {"exit_code": 0, "metrics_offset": 0, **fields}
    return RunRecord(id=run_id, run_dir=run_dir, preset={}, job_dir=str(job), status=status, **fields)


def test_a_dead_owner_s_lock_is_taken_over_and_said(tmp_path: Path) -> None:
    job = tmp_path / "job"
    _lock(job, pid=_dead_pid())
    note = joblock.acquire(job, "20260101-000000-y-0002")
    assert note is not None and "took over" in note and "20260101-000000-x-0001" in note
    assert joblock.read_owner(job).run_id == "20260101-000000-y-0002"
    joblock.release(job, "someone-else")
    assert joblock.read_owner(job) is not None, "release never drops another run's lock"
    joblock.release(job, "20260101-000000-y-0002")
    assert joblock.read_owner(job) is None


def test_a_live_owner_keeps_the_job_and_the_second_launch_is_told_who(tmp_path: Path) -> None:
    job = tmp_path / "job"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        import psutil

        _lock(job, pid=sleeper.pid, create_time=psutil.Process(sleeper.pid).create_time())
        with pytest.raises(UserError, match=r"held by run 20260101-000000-x-0001 \(pid \d+ on "):
            joblock.acquire(job, "20260101-000000-y-0002")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert joblock.acquire(job, "20260101-000000-y-0002") is not None  # now gone: taken over


def test_another_host_s_lock_is_respected_and_a_finished_owner_s_is_stale(tmp_path: Path) -> None:
    job = tmp_path / "job"
    _lock(job, host="node-that-is-not-here", pid=12345)
    with pytest.raises(UserError, match="cannot check"):
        joblock.acquire(job, "20260101-000000-y-0002")
    owner = "20260101-000000-done-0003"
    registry.create(
        RunRecord(id=owner, run_dir=registry.run_dir_for(owner), preset={}, status="finished", created_at=1.0)
    )
    _lock(job, run_id=owner, host="node-that-is-not-here", pid=12345)  # its record says it ended
    assert "took over" in joblock.acquire(job, "20260101-000000-y-0002")


def test_a_damaged_lock_file_counts_as_none(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (job / joblock.LOCK_FILE).write_bytes(b"\x00\xff" * 10)
    assert joblock.read_owner(job) is None
    assert joblock.acquire(job, "20260101-000000-y-0002") is None


@pytest.mark.parametrize(
    "damage",
    [
        b'{"id": "x", "status": "runn',
        b'{"id": 5, "created_at": "soon"}',
        b"\x89PNG\x00\xff",
        b"null",
        "dir",
        b'{"id": "../../elsewhere", "preset": {}, "status": "finished"}',
    ],
    ids=["truncated", "wrong-types", "binary", "null", "directory", "another-run-s-id"],
)
def test_an_unreadable_record_is_listed_never_hides_others_and_can_be_removed(damage) -> None:
    good = "20260101-000000-good-0001"
    registry.create(RunRecord(id=good, run_dir=registry.run_dir_for(good), preset={}, status="finished"))
    bad = registry.run_dir_for("20260101-000001-bad-0002")
    bad.mkdir(parents=True)
    if damage == "dir":
        (bad / "run.json").mkdir()
    else:
        (bad / "run.json").write_bytes(damage)
    records = {r.id: r for r in list_runs()}
    assert records[good].status == "finished"
    assert records[bad.name].status == "unreadable" and str(bad / "run.json") in records[bad.name].reason
    listed = invoke("runs", "list", "--json")
    assert listed.exit_code == 0 and {r["id"] for r in json.loads(listed.stdout)} == {good, bad.name}
    assert "unreadable" in invoke("runs", "list").stdout
    assert invoke("runs", "resume", bad.name).exit_code == 1
    assert invoke("runs", "rm", bad.name, "--yes").exit_code == 0 and not bad.exists()


def test_a_run_that_never_trained_shows_no_progress_and_no_other_run_s_data(tmp_path: Path) -> None:
    job = _job_with_metrics("j", "iter_000000005", {i: 1.0 / i for i in range(1, 6)})
    size = (job / "metrics.jsonl").stat().st_size
    first = _job_record(
        "20260101-000000-a-0001",
        tmp_path / "a",
        job,
        "finished",
        metrics_end=size,
        checkpoints=("iter_000000005",),
        start_iteration=0,
        last_iteration=5,
    )
    failed = _job_record(
        "20260101-000001-b-0002",
        tmp_path / "b",
        job,
        "failed",
        exit_code=1,
        metrics_offset=size,
        checkpoints_before=("iter_000000005",),
        start_iteration=5,
    )
    failed = failed.replace(**end_fields(failed))
    assert failed.checkpoints == () and failed.last_iteration is None and failed.metrics_end == size
    snap = RunMonitor(**monitor_scope(failed)).poll(exit_code=1)
    assert snap.progress.iteration is None and snap.progress.loss is None
    assert snap.checkpoints.checkpoints == ()
    # Lines appended later by another run are not the first run's either.
    with open(job / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"iteration": 6, "loss": 9.0}) + "\n")
    mine = RunMonitor(**monitor_scope(first)).poll(exit_code=0)
    assert mine.progress.iteration == 5
    assert [c.path.name for c in mine.checkpoints.checkpoints] == ["iter_000000005"]


def test_without_metrics_the_last_iteration_comes_from_the_end_of_the_console_log(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    speed = "[12-02 10:00:{s:02d}|INFO|imaginaire/callbacks/iter_speed.py:80:on_step] {i} : iter_speed 0.50 seconds per iteration | Loss: 0.2500\n"  # noqa: E501
    noise = "".join(f"[rank0]: some other line {n}\n" for n in range(200_000))  # ~6 MB after the last report
    (run_dir / "console.log").write_text(
        speed.format(s=1, i=10) + speed.format(s=2, i=20) + noise + "partial"
    )
    record = RunRecord(id="20260101-000000-c-0001", run_dir=run_dir, preset={}, status="failed", exit_code=1)
    assert end_fields(record)["last_iteration"] == 20
    (run_dir / "console.log").write_text(noise)
    assert end_fields(record)["last_iteration"] is None


def test_the_last_iteration_is_the_last_one_saved_when_metrics_lag(tmp_path: Path) -> None:
    """Metrics are logged every few iterations; a stop at 36 saves iter_36 after the last line
    said 35: the run's range ends at 36, not 35."""
    job = _job_with_metrics("lag", "iter_000000020", {i: 1.0 for i in (25, 30, 35)})
    (job / "checkpoints" / "iter_000000036").mkdir()
    record = _job_record(
        "20260101-000000-d-0001",
        tmp_path / "d",
        job,
        "stopped",
        checkpoints_before=("iter_000000020",),
        start_iteration=20,
    )
    fields = end_fields(record)
    assert fields["checkpoints"] == ("iter_000000036",) and fields["last_iteration"] == 36


def test_a_record_reads_its_preset_typed_and_a_damaged_one_degrades(tmp_path: Path) -> None:
    """The preset snapshot is plain data on disk; the record reads it as a Preset, and one that no
    longer validates is one sentence for commands that need it and ``None`` for those that show."""
    from cosmos_tui.core.presets import load_preset, resolve_preset

    good = load_preset(resolve_preset("builtin-demo")).to_dict()
    record = RunRecord(id="20260101-000000-e-0001", run_dir=tmp_path / "e", preset=good)
    assert (
        record.launched is not None
        and record.launched.experiment.name == record.launched_preset().experiment.name
    )
    bad = record.replace(preset={**good, "launch": {"nproc_per_node": "lots"}})
    assert bad.launched is None
    with pytest.raises(UserError, match="run 20260101-000000-e-0001's recorded preset"):
        bad.launched_preset()


def test_lineage_of_a_resume_that_never_trained_says_it_was_only_meant(tmp_path: Path) -> None:
    came = {"run": "A", "iteration": 20, "checkpoint": "iter_000000020"}
    never = RunRecord(id="b", run_dir=tmp_path, preset={}, status="failed", exit_code=1, resumed_from=came)
    assert resume_lineage(never) == "was to resume run A at iteration 20 (iter_000000020)"
    trained = never.replace(last_iteration=25)
    assert resume_lineage(trained) == "resumed run A at iteration 20 (iter_000000020)"
    assert resume_lineage(never.replace(resumed_from=None)) is None


def test_a_run_s_metrics_are_its_byte_range_capped_from_the_end(tmp_path: Path) -> None:
    """The one reader of a run's share of metrics.jsonl (the jobs view, a sweep's rows and the
    last iteration all take it): the range, clipped to the file, the last ``cap`` bytes only."""
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"0123456789")
    assert read_range(path, 2, 6, cap=100) == b"2345"
    assert read_range(path, 2, None, cap=100) == b"23456789"
    assert read_range(path, 2, 99, cap=3) == b"789"
    assert read_range(path, 6, 6, cap=100) == b""
    assert read_range(tmp_path / "missing", 0, None, cap=100) == b""
    record = RunRecord(
        id="r1", run_dir=tmp_path / "r1", preset={}, job_dir=str(tmp_path), metrics_offset=4, metrics_end=8
    )
    assert metrics_bytes(record, cap=100) == b"4567"
    assert (
        metrics_bytes(RunRecord(id="r2", run_dir=tmp_path / "r2", preset={}, job_dir=str(tmp_path)), cap=100)
        == path.read_bytes()
    )
    assert metrics_bytes(RunRecord(id="r3", run_dir=tmp_path / "r3", preset={}), cap=100) == b""
