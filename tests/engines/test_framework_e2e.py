"""End to end for cosmos-framework (Cosmos 3) with the ReplayFramework test double in a fake
checkout: a vision SFT recipe goes through preflight, launch (the supervisor, real torchrun on
CPU, two ranks), the pipeline's convert step, the live monitor (suffixed iter_speed lines:
tokens/s; EveryNDrawSample images), a stop through the engine's sentinel (SIGTERM alone would
only be logged), a resume that skips the conversion and trains on, and the export with
``--verify``; then ``runs show`` and ``ckpt convert`` as a person uses them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from support.framework_world import framework_preset
from support.runs import wait_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.monitor.runmonitor import RunMonitor
from cosmos_tui.core.runs import TERMINAL, engine_view, get_run, resume_run, start_run, stop_run

pytestmark = pytest.mark.slow


def _steps(record) -> dict[str, str]:
    return {s.name: s.status for s in record.steps}


def test_cosmos3_recipe_converts_trains_stops_resumes_and_exports(tmp_path: Path) -> None:
    preset, repo = framework_preset(tmp_path, "trainer.max_iter=40", "replay.sleep=0.5")
    record = start_run(preset, force=True)  # force: preflight wants GPUs for upstream engines
    job = tmp_path / "out" / "cosmos3" / "sft" / "vision_sft_nano"
    assert record.job_dir == str(job)
    assert [s.name for s in record.steps] == ["convert", "train", "export"]
    assert record.steps[0].argv[1:] == (
        "-m",
        "cosmos_framework.scripts.convert_model_to_dcp",
        "-o",
        str(repo / "examples" / "checkpoints" / "Cosmos3-Nano"),
        "--checkpoint-path",
        "Cosmos3-Nano",
    )

    # live monitor: tokens/s from the suffixed iter_speed lines
    monitor = RunMonitor(console_log=record.console_log, job_dir=job, log_start=0)
    deadline = time.monotonic() + 120
    while True:
        snap = monitor.poll()
        if snap.progress.tokens_series or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    current = get_run(record.id)
    assert snap.progress.tokens_series, (current.reason, current.console_log.read_text()[-2000:])
    assert snap.progress.rates.tokens_per_s and snap.progress.rates.tokens_per_s > 0
    assert _steps(current)["convert"] == "done" and _steps(current)["train"] == "running"
    assert (
        (record.run_dir / "convert.log")
        .read_text()
        .strip()
        .endswith(f"Saved checkpoint to {repo / 'examples' / 'checkpoints' / 'Cosmos3-Nano'}")
    )

    # stop: the sentinel makes the engine save and exit 0 (SIGTERM is only logged by it). The
    # checkout saves every 6 iterations and, on a stop, only 2 or more past the last save: stop
    # from iteration 8, so the engine may see the sentinel up to 3 iterations (1.5 s) late and
    # still save (it once saw it at 13, one past the save at 12, on a loaded machine).
    while (snap.progress.iteration or 0) < 8 and time.monotonic() < deadline:
        time.sleep(0.3)
        snap = monitor.poll()
    report = stop_run(record.id, timeout=60)
    stopped = report.record
    assert stopped.status == "stopped", stopped.reason
    log = stopped.console_log.read_text()
    assert "[TerminationSignalCheckpoint] Received SIGTERM" in log
    assert "[TerminationSignalCheckpoint] Checkpoint saved at iteration" in log
    assert report.graceful, report.killed
    assert (record.run_dir / "sentinel" / "SIGUSR1_CHECKPOINT_SUCCEEDED").is_file()
    assert _steps(stopped) == {"convert": "done", "train": "stopped", "export": "pending"}
    saved_at = int(log.split("Checkpoint saved at iteration ")[1].split(".")[0])
    assert (job / "checkpoints" / "latest_checkpoint.txt").read_text().strip() == f"iter_{saved_at:09d}"
    assert engine_view.samples(stopped), "EveryNDrawSample images listed"
    assert engine_view.parallelism(stopped) == "DP 2 x CP 1 (FSDP shard 2 x replicate 1)"

    # resume: the conversion is skipped, training continues from the emergency checkpoint, export
    again = resume_run(record.id, force=True)  # force: no GPU here
    final = wait_run(again.id, lambda r: r.status in TERMINAL, 180)
    assert final.status == "finished", (final.reason, final.console_log.read_text()[-2000:])
    assert _steps(final) == {"convert": "skipped", "train": "done", "export": "done"}
    assert "converter's last write" in (final.steps[0].reason or "")
    assert f"Resuming from {job / 'checkpoints' / f'iter_{saved_at:09d}'}" in final.console_log.read_text()
    export_log = (final.run_dir / "export.log").read_text()
    assert "Skipping --verify: no CUDA device" in export_log
    export = final.steps[2]
    assert export.argv[-1] == "--verify" and str(job / "checkpoints" / "iter_000000040") in export.argv
    meta = json.loads((job / "model" / "checkpoint.json").read_text())
    assert meta["checkpoint_path"] == str(job / "checkpoints" / "iter_000000040" / "model")
    assert (job / "model" / "model.safetensors").is_file()

    # as a person: runs show names the steps and the layout
    shown = CliRunner().invoke(app, ["runs", "show", final.id], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "step export" in shown.output and "DP 2 x CP 1" in shown.output
    data = json.loads(CliRunner().invoke(app, ["runs", "show", final.id, "--json"]).stdout)
    assert [s["status"] for s in data["steps"]] == ["skipped", "done", "done"]
    assert data["samples"] and data["samples"][-1]["iteration"] <= 40

    # ckpt convert: safetensors then Diffusers for this engine; an existing export needs --yes
    refused = CliRunner().invoke(app, ["ckpt", "convert", final.id])
    assert refused.exit_code != 0 and "pass --yes" in refused.output
    done = CliRunner().invoke(app, ["ckpt", "convert", final.id, "--yes", "--json"])
    assert done.exit_code == 0, done.output
    plan = json.loads(done.stdout)
    assert plan["method"] == "upstream-steps" and "convert_model_to_diffusers" in plan["shell"]
    assert (job / "diffusers" / "model_index.json").is_file()


def test_supervisor_killed_mid_step_leaves_the_step_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    monkeypatch.setenv("REPLAY_STEP_SLEEP", "4")  # the converter's double sleeps before writing
    preset, _ = framework_preset(tmp_path, "trainer.max_iter=4", nproc=1)
    record = start_run(preset, force=True)
    running = wait_run(record.id, lambda r: any(s.status == "running" for s in r.steps), 60)
    assert running.steps[0].name == "convert" and running.steps[0].pid
    os.kill(running.supervisor.pid, signal.SIGKILL)
    orphan = wait_run(record.id, lambda r: "still run" in (r.reason or "") or not r.active, 30)
    assert orphan.active and str(running.steps[0].pid) in (orphan.reason or "")
    lost = wait_run(record.id, lambda r: not r.active, 60)
    assert lost.status == "lost"
    assert [(s.name, s.status) for s in lost.steps] == [
        ("convert", "lost"),
        ("train", "pending"),
        ("export", "pending"),
    ]
