"""RunMonitor over a written log, and over a real builtin-engine run (real process, real files)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from monitor_upstream_lines import DEVICE_MONITOR, P25_SPEED, T25_HIT, TRAINER_START, UNSTABLE
from support.waymo import synth_waymo

from cosmos_tui.core.monitor.runmonitor import RunMonitor
from cosmos_tui.core.monitor.watchdog import Watchdog, WatchdogConfig


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(x + "\n" for x in lines))


def _speed(it: int, loss: str = "0.0000") -> str:
    return P25_SPEED.replace("1500 : iter_speed 33.99", f"{it} : iter_speed 2.00").replace(
        "Loss: 0.0000", f"Loss: {loss}"
    )


def test_attach_to_existing_log_then_follow(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    job = tmp_path / "job"
    (job / "checkpoints").mkdir(parents=True)
    (job / "config.yaml").write_text("trainer:\n  max_iter: 100\n  logging_iter: 10\n")
    _append(log, TRAINER_START, T25_HIT, *DEVICE_MONITOR, *(_speed(i) for i in (10, 20, 30)))
    clock = Clock()
    mon = RunMonitor(
        console_log=log,
        job_dir=job,
        log_start="end",
        view_lines=3,
        watchdog=Watchdog(WatchdogConfig(stall_factor=2, min_stall_s=1)),
        clock=clock,
    )
    snap = mon.poll()
    # The backlog before the tail's start was re-parsed in bulk: progress is known at once.
    assert snap.progress.iteration == 30 and snap.progress.max_iter == 100
    assert snap.progress.eta_s == pytest.approx(70 * 2.0)
    assert snap.metrics_source is None or snap.metrics_source == "console.log"
    assert snap.log_tail == tuple(_speed(i) for i in (10, 20, 30))
    assert snap.health.state == "running"
    clock.t += 20
    _append(log, _speed(40, "-0.7500"), UNSTABLE)
    snap = mon.poll()
    assert (snap.progress.iteration, snap.progress.loss) == (40, -0.75)
    assert snap.unstable and [e.kind for e in snap.events] == ["unstable_loss"]
    assert snap.log_offset == log.stat().st_size
    clock.t += 20
    _append(log, _speed(50))
    mon.poll()
    clock.t += 100  # two reports 20 s apart, then silence for 100 s > 2 x 20 s
    snap = mon.poll()
    assert snap.health.state == "stalled" and [e.kind for e in snap.events] == ["stalled"]
    snap = mon.poll(exit_code=-9)
    assert snap.health.state == "crashed" and "SIGKILL" in (snap.health.exit_message or "")


@pytest.mark.slow
def test_real_engine_run(tmp_path: Path) -> None:
    data = synth_waymo(tmp_path / "waymo", clips=2, frames=12)
    out_root = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "WANDB_API_KEY")}
    env.update(IMAGINAIRE_OUTPUT_ROOT=str(out_root), OMP_NUM_THREADS="1", WANDB_MODE="offline")
    cmd = [
        sys.executable, "-m", "cosmos_engine.train", "--",
        "experiment=s2mv_text2world_tiny", f"dataloader_train.dataset.dataset_dir={data}",
        "trainer.max_iter=6", "trainer.logging_iter=1", "checkpoint.save_iter=3", "job.wandb_mode=disabled",
    ]  # fmt: skip
    log = tmp_path / "console.log"
    job = out_root / "cosmos_engine" / "s2mv_text2world" / "s2mv_text2world_tiny"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    mon = RunMonitor(console_log=log, job_dir=job, pids=[proc.pid], log_start="begin")
    seen_alive = False
    snaps = []
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        snap = mon.poll()
        seen_alive = seen_alive or bool(snap.procs and snap.procs.alive and snap.procs.rss_bytes > 0)
        snaps.append(snap)
        time.sleep(0.2)
    assert proc.returncode == 0, log.read_text()[-3000:]
    final = mon.poll(exit_code=proc.returncode)
    assert seen_alive
    assert final.health.state == "finished" and [e.kind for e in final.events] == ["finished"]
    assert final.metrics_source == "metrics.jsonl"
    assert final.progress.iteration == 6 and final.progress.max_iter == 6
    assert final.progress.rates.lr is not None
    assert final.checkpoints is not None
    assert [c.iteration for c in final.checkpoints.checkpoints if c.complete] == [3, 6]
    assert final.checkpoints.latest is not None and final.checkpoints.latest.iteration == 6
    new = [c.iteration for s in [*snaps, final] if s.checkpoints for c in s.checkpoints.new]
    assert new == [3, 6]  # each announced once, as it landed
    assert any("Iteration 1: Hit counter" in line for line in final.log_tail)
