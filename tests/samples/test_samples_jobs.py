"""Samples jobs on a trained tiny job: missing and corrupt checkpoints, outputs that would leave
the job folder, samples already drawn, and stopping a job while it draws."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.runs import procs
from cosmos_tui.core.sampling.jobs import get_sample_job

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def job(trained_job: Path, tmp_path: Path) -> Path:
    """A copy of the trained job this test may damage."""
    copy = tmp_path / "job"
    shutil.copytree(trained_job, copy, ignore=shutil.ignore_patterns("samples", "export*"))
    return copy


def test_an_iteration_without_a_checkpoint_is_refused(job: Path) -> None:
    result = runner.invoke(app, ["samples", str(job), "--iter", "999"])
    assert result.exit_code == 1 and "No checkpoint at iteration 999 (have: 16)" in result.output


def test_a_checkpoint_with_damaged_metadata_is_refused_before_launch(job: Path) -> None:
    (job / "checkpoints" / "iter_000000016" / "model" / ".metadata").write_bytes(b"garbage")
    result = runner.invoke(app, ["samples", str(job)])
    assert result.exit_code == 1 and "Not sampling:" in result.output, result.output
    assert not (job / "samples").exists()


def test_damaged_weights_fail_the_job_with_the_engines_reason(job: Path) -> None:
    for shard in (job / "checkpoints" / "iter_000000016" / "model").glob("*.distcp"):
        shard.write_bytes(
            bytes(shard.stat().st_size)
        )  # the right size, all zeros: verify's size check passes
    result = runner.invoke(app, ["samples", str(job), "--steps", "1", "--wait", "--json"])
    assert result.exit_code == 1 and result.stdout, result.output
    record = json.loads(result.stdout)
    assert record["status"] == "failed" and record["exit_code"] == 1
    assert "cannot load model weights" in record["reason"]
    assert not (job / "samples" / "iter_000000016" / "index.json").exists()


def test_outputs_never_leave_the_job_folder(job: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (job / "samples").symlink_to(outside)
    result = runner.invoke(app, ["samples", str(job), "--steps", "1"])
    assert result.exit_code == 1 and "outside" in result.output, result.output
    (job / "samples").unlink()
    # the engine's own entry point refuses too, `..` resolved
    argv = [sys.executable, "-m", "cosmos_engine.generate", "--job", str(job), "--steps", "1"]
    proc = subprocess.run(
        [*argv, "--out", str(job / ".." / "outside")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and "is not inside the job folder" in proc.stderr
    assert list(outside.iterdir()) == []


def test_samples_already_drawn_are_replaced_only_with_yes(job: Path) -> None:
    args = ["samples", str(job), "--steps", "1", "--no-ema", "--wait"]
    assert runner.invoke(app, args).exit_code == 0
    index = job / "samples" / "iter_000000016" / "index.json"
    first = json.loads(index.read_text())["started_at"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "already holds samples; pass --yes" in result.output
    assert runner.invoke(app, [*args, "--yes"]).exit_code == 0
    assert json.loads(index.read_text())["started_at"] > first


def test_a_samples_job_is_listed_and_stops(job: Path) -> None:
    result = runner.invoke(
        app, ["samples", str(job), "--steps", "1000", "--seeds", "0,1,2,3,4,5,6,7", "--json"]
    )
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    deadline = time.monotonic() + 60
    while get_sample_job(started["id"]).engine is None and time.monotonic() < deadline:
        time.sleep(0.2)
    engine = get_sample_job(started["id"]).engine
    assert engine is not None and procs.alive(engine)
    listed = json.loads(runner.invoke(app, ["samples", "list", "--json"]).stdout)
    assert [j["status"] for j in listed if j["id"] == started["id"]] == ["running"]
    result = runner.invoke(app, ["samples", "stop", started["id"][:15], "--json"])
    assert result.exit_code == 0, result.output
    stopped = json.loads(result.stdout)
    assert stopped["status"] == "stopped" and stopped["done"] == []
    assert not procs.alive(engine)
    assert not (job / "samples" / "iter_000000016" / "index.json").exists()


def test_prompts_and_clips_reach_the_index_and_a_missing_clip_fails(job: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.tsv"
    prompts.write_text("a green square crossing stripes\t5\tclip_0001\n\t9\n")
    args = ["samples", str(job), "--steps", "1", "--prompts", str(prompts), "--wait"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    index = json.loads((job / "samples" / "iter_000000016" / "index.json").read_text())
    got = [(s["prompt"], s["seed"], s["clip"], s["video"]) for s in index["samples"]]
    assert got == [
        ("a green square crossing stripes", 5, "clip_0001", "000_seed5.mp4"),
        (None, 9, None, "001_seed9.mp4"),
    ]
    assert index["ema"] is True  # the job keeps EMA weights: they are the default
    prompts.write_text("x\t1\tclip_0042\n")
    result = runner.invoke(app, [*args, "--yes", "--json"])
    assert result.exit_code == 1
    assert "no usable clip 'clip_0042'" in json.loads(result.stdout)["reason"]


def _drawing(job: Path, *args: str) -> dict:
    """Start a long samples job on ``job`` and wait until its sampler process runs."""
    result = runner.invoke(
        app, ["samples", str(job), "--steps", "1000", "--seeds", "0,1,2,3,4,5,6,7", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    deadline = time.monotonic() + 60
    while get_sample_job(started["id"]).engine is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert get_sample_job(started["id"]).engine is not None
    return started


def _prune(job: Path) -> dict:
    result = runner.invoke(app, ["ckpt", "prune", str(job), "--keep-last", "1", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    return {d["iteration"]: d for d in json.loads(result.stdout)["decisions"]}


def test_prune_keeps_what_a_samples_job_reads_and_a_second_job_cannot_share_its_outputs(job: Path) -> None:
    older = job / "checkpoints" / "iter_000000008"
    shutil.copytree(job / "checkpoints" / "iter_000000016", older)  # an older complete checkpoint
    started = _drawing(job, "--iter", "8")
    kept = _prune(job)[8]
    assert kept["keep"] and kept["reason"] == f"read by samples job {started['id']}"
    assert older.is_dir()
    clash = runner.invoke(app, ["samples", str(job), "--iter", "8", "--yes"])
    assert clash.exit_code == 1 and f"samples job {started['id']} is drawing into" in clash.output
    assert runner.invoke(app, ["samples", "stop", started["id"]]).exit_code == 0
    assert not _prune(job)[8]["keep"] and not older.exists()


def test_a_samples_job_whose_supervisor_is_killed_is_lost_and_its_sampler_still_protected(job: Path) -> None:
    older = job / "checkpoints" / "iter_000000008"
    shutil.copytree(job / "checkpoints" / "iter_000000016", older)
    started = _drawing(job, "--iter", "8")
    record = get_sample_job(started["id"])
    assert record.supervisor is not None and record.engine is not None
    procs.signal_if_same(record.supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while procs.alive(record.supervisor) and time.monotonic() < deadline:
        time.sleep(0.1)
    listed = json.loads(runner.invoke(app, ["samples", "list", "--json"]).stdout)
    (lost,) = [j for j in listed if j["id"] == started["id"]]
    assert lost["status"] == "lost" and "still runs" in lost["reason"], lost
    assert _prune(job)[8]["keep"]  # its orphaned sampler still reads iteration 8
    result = runner.invoke(app, ["samples", "stop", started["id"]])
    assert result.exit_code == 0 and not procs.alive(record.engine), result.output
    assert not _prune(job)[8]["keep"] and not older.exists()


def test_the_engines_keep_last_n_spares_what_a_samples_job_has_yet_to_read(job: Path) -> None:
    """Training goes on while a samples job waits on or reads a checkpoint: the engine's own
    ``keep_last_n`` prune (which cannot read our records) keeps it through the supervisor's
    reader lease, and prunes it once the job ends."""
    from cosmos_engine import checkpoint as engine_ckpt

    ckpts = job / "checkpoints"
    older = ckpts / "iter_000000008"
    shutil.copytree(ckpts / "iter_000000016", older)
    started = _drawing(job, "--iter", "8")
    leases = list((ckpts / engine_ckpt.READERS_DIR).glob("*.json"))
    assert len(leases) == 1 and json.loads(leases[0].read_text())["iterations"] == [8]
    assert engine_ckpt.prune(ckpts, 1) == [] and older.is_dir()
    assert runner.invoke(app, ["samples", "stop", started["id"]]).exit_code == 0
    deadline = time.monotonic() + 30
    while any((ckpts / engine_ckpt.READERS_DIR).glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any((ckpts / engine_ckpt.READERS_DIR).glob("*.json"))  # the supervisor dropped it
    assert engine_ckpt.prune(ckpts, 1) == [8] and not older.exists()
