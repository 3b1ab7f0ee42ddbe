"""`runs rm --outputs` deletes what the run owns and nothing else: never a file no run of the job
wrote (an export, notes), never a checkpoint no run record says this run wrote (records removed
earlier without --outputs leave theirs behind, and those stay). Records and job folders are
written the way the supervisor leaves them; no torchrun."""

from __future__ import annotations

import os
import time
from pathlib import Path

from support.runs import add_ended_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.runs import plan_removal, remove_run


def _job() -> Path:
    job = Path(os.environ["IMAGINAIRE_OUTPUT_ROOT"]) / "cosmos_engine" / "s2mv_text2world" / "mine"
    (job / "checkpoints").mkdir(parents=True)
    (job / "config.yaml").write_text("trainer: {max_iter: 40}\n")
    (job / "metrics.jsonl").write_text("")
    return job


def _checkpoint(job: Path, it: int) -> str:
    name = f"iter_{it:09d}"
    for part in ("model", "optim", "scheduler", "trainer"):
        (job / "checkpoints" / name / part).mkdir(parents=True)
        (job / "checkpoints" / name / part / ".metadata").write_bytes(b"x" * 100)
    (job / "checkpoints" / "latest_checkpoint.txt").write_text(name + "\n")
    return name


def _run(n: int, job: Path, wrote: tuple[str, ...], resumed: str | None = None) -> str:
    run_id = f"20260101-10000{n}-s2mv-text2world-tiny-r00{n}"
    now = time.time() - 1000 + n
    add_ended_run(
        run_id,
        preset={"experiment": {"name": "s2mv_text2world_tiny"}},
        created_at=now,
        started_at=now,
        ended_at=now + 1,
        job_dir=str(job),
        experiment="s2mv_text2world_tiny",
        start_iteration=0 if resumed is None else int(resumed[5:]),
        resumed_from={"run": None, "iteration": int(resumed[5:]), "checkpoint": resumed} if resumed else None,
        metrics_offset=0,
        metrics_end=0,
        checkpoints_before=(),
        checkpoints=wrote,
        last_iteration=40,
    )
    return run_id


def test_the_last_run_keeps_what_the_person_put_in_the_job_folder() -> None:
    job = _job()
    run = _run(1, job, (_checkpoint(job, 10), _checkpoint(job, 20)))
    (job / "my_notes.txt").write_text("mine\n")
    (job / "export").mkdir()
    (job / "export" / "model.pt").write_bytes(b"w" * 10)
    plan = plan_removal(run, delete_outputs=True)
    kept = {i.path: i.why for i in plan.keep}
    assert kept.keys() == {job / "export", job / "my_notes.txt"} and "yours" in kept[job / "export"]
    assert job not in {i.path for i in plan.delete}  # the folder stays while it holds them
    remove_run(run, delete_outputs=True)
    assert (job / "my_notes.txt").read_text() == "mine\n" and (job / "export" / "model.pt").exists()
    assert not (job / "checkpoints" / "iter_000000010").exists() and not (job / "config.yaml").exists()
    assert not (job / "checkpoints" / "latest_checkpoint.txt").exists()  # no checkpoint is left


def test_the_last_run_does_not_inherit_the_checkpoints_of_removed_records() -> None:
    job = _job()
    first = _run(1, job, (_checkpoint(job, 10), _checkpoint(job, 20)))
    second = _run(2, job, (_checkpoint(job, 30),), resumed="iter_000000020")
    result = CliRunner().invoke(app, ["runs", "rm", first, "--yes"])  # the record only
    assert result.exit_code == 0, result.output
    assert (job / "checkpoints" / "iter_000000010").exists()
    plan = plan_removal(second, delete_outputs=True)
    deleted = {i.path for i in plan.delete}
    assert job not in deleted and not any("iter_000000010" in str(p) for p in deleted)
    assert any("iter_000000030" in str(p) for p in deleted)
    kept = {i.path.name: i.why for i in plan.keep}
    assert "not written by this run" in kept["iter_000000010"] and "iter_000000020" in kept
    assert "config.yaml" in kept and plan.pointer == "iter_000000020"
    remove_run(second, delete_outputs=True)
    assert (job / "checkpoints" / "iter_000000020" / "model").is_dir() and (job / "config.yaml").exists()
    pointer = (job / "checkpoints" / "latest_checkpoint.txt").read_text()
    assert pointer.strip() == "iter_000000020"


def test_the_last_run_of_a_job_holding_nothing_else_takes_the_folder() -> None:
    job = _job()
    run = _run(1, job, (_checkpoint(job, 10),))
    plan = plan_removal(run, delete_outputs=True)
    assert job in {i.path for i in plan.delete} and not plan.keep
    remove_run(run, delete_outputs=True)
    assert not job.exists() and job.parent.exists()


def test_runs_list_reads_at_80_columns_and_shows_no_markup() -> None:
    import subprocess
    import sys

    job = _job()
    first = _run(1, job, (_checkpoint(job, 10),))
    for columns in ("80", "200"):
        env = {**os.environ, "COLUMNS": columns}
        out = subprocess.run(
            [sys.executable, "-m", "cosmos_tui", "runs", "list"], capture_output=True, text=True, env=env
        ).stdout
        assert first in out and "finished (exit 0)" in out and "[green]" not in out, out
        assert max(len(line) for line in out.splitlines()) <= int(columns), out
    shown = subprocess.run(
        [sys.executable, "-m", "cosmos_tui", "runs", "show", first], capture_output=True, text=True
    ).stdout
    assert "finished (exit 0)" in shown and "[green]" not in shown


def test_the_engine_s_own_folders_go_with_the_last_run() -> None:
    """W&B's offline folder is the engine's (the adapter lists what it writes), not the person's:
    it does not keep the job folder alive."""
    job = _job()
    run = _run(1, job, (_checkpoint(job, 10),))
    (job / "wandb" / "offline-run-1").mkdir(parents=True)
    (job / "wandb_id.txt").write_text("abc\n")
    remove_run(run, delete_outputs=True)
    assert not job.exists()
