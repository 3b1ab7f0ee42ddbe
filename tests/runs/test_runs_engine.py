"""Integration with the real builtin engine under real torchrun (2 CPU ranks over gloo): a run
outlives the CLI that started it, and stop saves a checkpoint that resume continues from."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runs_helpers import wait_for_line
from support.runs import wait_run
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.presets import load_preset, resolve_preset
from cosmos_tui.core.runs import follow, get_run, list_runs, resume_run, start_run, stop_run
from cosmos_tui.core.runs.resume import latest_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FAST = ["wandb.mode=disabled", "dataloader_train.num_workers=0"]


@pytest.fixture
def waymo(tmp_path: Path) -> Path:
    return synth_waymo(tmp_path / "waymo")


def _runs_json() -> list[dict]:
    result = CliRunner().invoke(app, ["runs", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_run_outlives_a_killed_cli_and_records_its_exit(waymo: Path, tmp_path: Path) -> None:
    sets = [f"data.root={waymo}", *FAST, "trainer.max_iter=4", "checkpoint.save_iter=2"]
    sets.append("launch.nproc_per_node=1")
    cli = subprocess.Popen(
        [sys.executable, "-m", "cosmos_tui", "run", "builtin-demo", *(a for s in sets for a in ("--set", s))],
        stdin=subprocess.DEVNULL,
        stdout=open(tmp_path / "cli.out", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not list_runs(reconcile=False) and time.monotonic() < deadline:
            assert cli.poll() is None, (tmp_path / "cli.out").read_text()
            time.sleep(0.1)
        run_id = list_runs()[0].id
        running = wait_run(run_id, lambda r: r.status == "running" and r.procs, timeout=60)
        assert running.agent is not None and {p.role for p in running.procs} >= {"rank"}
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    listed = {r["id"]: r for r in _runs_json()}
    assert listed[run_id]["status"] in ("running", "finished")
    lines = list(follow(get_run(run_id)))
    assert any("Iteration 4" in ln for ln in lines)
    done = {r["id"]: r for r in _runs_json()}[run_id]
    assert done["status"] == "finished" and done["exit_code"] == 0, done["reason"]
    assert done["started_at"] <= done["ended_at"] and done["world_size"] == 1
    point = latest_checkpoint(Path(done["job_dir"]))
    assert point is not None and point.iteration == 4
    assert point.states["model"] and point.states["optimizer"] and point.states["scheduler"]


def test_stop_saves_a_checkpoint_and_resume_continues_from_it(waymo: Path) -> None:
    preset = load_preset(resolve_preset("builtin-demo"))
    sets = [f"data.root={waymo}", *FAST, "trainer.max_iter=1000", "checkpoint.save_iter=1000"]
    rec = start_run(preset, sets=sets)
    wait_for_line(rec, "Iteration 3:", timeout=90)
    report = stop_run(rec.id)
    assert report.graceful, report
    stopped = report.record
    assert stopped.status == "stopped", stopped.reason
    point = latest_checkpoint(Path(stopped.job_dir))
    assert point is not None and point.iteration >= 3, "SIGTERM must save before exiting"
    assert f"Stopping at iteration {point.iteration}" in stopped.console_log.read_text()

    target = point.iteration + 2
    resumed = resume_run(rec.id, sets=[f"trainer.max_iter={target}"])
    assert resumed.origin == "resume" and resumed.parent == rec.id
    assert resumed.job_dir == stopped.job_dir
    assert any(f"from iteration {point.iteration}" in n and rec.id in n for n in resumed.notes)
    assert resumed.resumed_from == {
        "run": rec.id,
        "iteration": point.iteration,
        "checkpoint": point.path.name,
    }
    assert resumed.start_iteration == point.iteration
    assert any("optimizer" in n and "scheduler" in n for n in resumed.notes)
    text = "\n".join(follow(resumed))
    done = get_run(resumed.id)
    assert done.status == "finished", done.reason
    assert f"Iteration {point.iteration + 1}:" in text and "Iteration 1:" not in text
    assert latest_checkpoint(Path(done.job_dir)).iteration == target
    # The engine counts on from the checkpoint: metrics.jsonl has no second iteration 1.
    metrics = (Path(done.job_dir) / "metrics.jsonl").read_text().splitlines()
    iters = [json.loads(ln)["iteration"] for ln in metrics]
    assert iters.count(1) == 1 and max(iters) == target
