"""A real single-host Slurm cluster (Debian's slurm-wlm and munge, started by the fixture): a
tiny builtin job submitted with `cosmos-tui run --target slurm` runs to completion, and `runs
stop` has Slurm signal another one, which saves a checkpoint before it ends, and `runs resume`
submits it again to continue from that checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from slurm_cluster import LocalSlurmCluster
from support.runs import ONE_QUIET_RANK, set_args, wait_run
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.runs import RunRecord, get_run
from cosmos_tui.core.runs.resume import latest_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

COMMON = [*ONE_QUIET_RANK, "launch.slurm.gpus_per_node=0", "launch.slurm.time=00:10:00"]


@pytest.fixture
def waymo(tmp_path: Path) -> Path:
    return synth_waymo(tmp_path / "waymo")


def _submit(waymo: Path, *sets: str) -> RunRecord:
    args = set_args([f"data.root={waymo}", *COMMON, *sets])
    result = CliRunner().invoke(
        app, ["run", "builtin-demo", "--target", "slurm", *args, "--detach", "--json"]
    )
    assert result.exit_code == 0, result.output
    record = get_run(json.loads(result.stdout)["id"])
    assert record.target == "slurm" and record.slurm_job_id and record.slurm_job_id.isdigit()
    return record


def _wait(
    run_id: str, done: Callable[[RunRecord], bool], timeout: float, cluster: LocalSlurmCluster
) -> RunRecord:
    return wait_run(
        run_id, done, timeout, context=lambda: f"slurm: {get_run(run_id).slurm_state}\n{cluster.log_tail()}"
    )


def test_a_submitted_job_runs_to_completion(slurm: LocalSlurmCluster, waymo: Path) -> None:
    record = _submit(waymo, "trainer.max_iter=2", "checkpoint.save_iter=2")
    script = Path(record.slurm_script or "").read_text()
    assert f"#SBATCH --output={record.console_log}" in script and "#SBATCH --requeue" in script
    done = _wait(record.id, lambda r: not r.active, 120, slurm)
    log = done.console_log.read_text(errors="replace")
    assert done.status == "finished" and done.exit_code == 0, f"{done.reason}\n{log[-3000:]}"
    assert done.slurm_state == "COMPLETED" and done.started_at and done.ended_at
    assert f"cosmos-tui: Slurm job {done.slurm_job_id}" in log and "Iteration 2" in log
    sacct = slurm.run(
        "sacct", "--completion", "-n", "-P", "-j", done.slurm_job_id or "", "-o", "JobID,State,ExitCode"
    )
    assert sacct.stdout.strip().splitlines()[0].split("|")[1:] == ["COMPLETED", "0:0"], (
        sacct.stdout + sacct.stderr
    )
    point = latest_checkpoint(Path(done.job_dir or ""))
    assert point is not None and point.iteration == 2 and point.states["model"] and point.states["optimizer"]
    listed = json.loads(CliRunner().invoke(app, ["runs", "list", "--json"]).stdout)
    assert [(r["status"], r["slurm_job_id"]) for r in listed] == [("finished", done.slurm_job_id)]
    logs = CliRunner().invoke(app, ["runs", "logs", done.id, "-n", "400"])
    assert logs.exit_code == 0 and "Iteration 2" in logs.stdout


def test_stop_signals_the_job_which_saves_before_it_ends(slurm: LocalSlurmCluster, waymo: Path) -> None:
    record = _submit(waymo, "trainer.max_iter=1000", "checkpoint.save_iter=1000")
    _wait(record.id, lambda r: "Iteration 3:" in _text(r.console_log), 120, slurm)
    running = get_run(record.id)
    assert running.status == "running" and running.slurm_state == "RUNNING"
    result = CliRunner().invoke(app, ["runs", "stop", record.id, "--timeout", "60", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["graceful"] and any("--signal=TERM" in a for a in report["actions"])
    stopped = get_run(record.id)
    assert stopped.status == "stopped" and stopped.stop_requested, stopped.reason
    assert slurm.run("squeue", "-h", "-j", stopped.slurm_job_id or "").stdout.strip() == ""
    point = latest_checkpoint(Path(stopped.job_dir or ""))
    assert point is not None and point.iteration >= 3, "the engine did not save on Slurm's SIGTERM"
    assert point.states["model"] and point.states["optimizer"] and point.states["trainer"]
    # `runs resume` submits the same job folder again; the engine continues from the saved step.
    last = point.iteration + 2
    resumed = CliRunner().invoke(
        app, ["runs", "resume", record.id, "--set", f"trainer.max_iter={last}", "--json"]
    )
    assert resumed.exit_code == 0, resumed.output
    new = json.loads(resumed.stdout)
    assert (
        new["target"] == "slurm"
        and new["slurm_job_id"] != stopped.slurm_job_id
        and new["parent"] == record.id
    )
    done = _wait(new["id"], lambda r: not r.active, 120, slurm)
    assert done.status == "finished", done.reason
    log = done.console_log.read_text(errors="replace")
    assert (
        f"Iteration {last}:" in log and f"Iteration {point.iteration}:" not in log
    )  # continued, not restarted
    after = latest_checkpoint(Path(done.job_dir or ""))
    assert after is not None and after.iteration == last


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
