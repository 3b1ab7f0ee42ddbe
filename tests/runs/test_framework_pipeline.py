"""cosmos-framework's pipeline as the adapter declares it (argv against upstream's argparse/tyro
fields, "done" from what each script writes last), the sbatch script's SIGUSR1 sentinel protocol
(run under bash with a fake srun/sbatch), the record following a dependent segment, and hostile
job folders (a corrupt checkpoint.json, a sentinel folder that is a link)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from support.framework_world import framework_preset

from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.monitor.samples import list_samples
from cosmos_tui.core.presets import apply_sets
from cosmos_tui.core.runs import sentinel
from cosmos_tui.core.runs.record import RunRecord
from cosmos_tui.core.slurm import jobs, render_sbatch


def _job(tmp_path: Path) -> Path:
    job = tmp_path / "out" / "cosmos3" / "sft" / "vision_sft_nano"
    (job / "checkpoints").mkdir(parents=True)
    return job


def _dcp_step(job: Path, it: int) -> Path:
    step = job / "checkpoints" / f"iter_{it:09d}"
    for part in ("model", "optim", "scheduler", "trainer"):
        (step / part).mkdir(parents=True)
        (step / part / ".metadata").write_bytes(b"m")
        (step / part / "__0_0.distcp").write_bytes(b"d")
    (job / "checkpoints" / "latest_checkpoint.txt").write_text(step.name + "\n")
    return step


def test_steps_and_their_done_checks(tmp_path: Path) -> None:
    preset, repo = framework_preset(tmp_path, "trainer.max_iter=12", diffusers=True)
    adapter = get_adapter("cosmos-framework")
    job = _job(tmp_path)
    specs = adapter.pipeline(preset, job, {})
    assert [s.name for s in specs] == ["convert", "train", "export", "diffusers"]
    assert all(s.done is None for s in specs)
    base = repo / "examples" / "checkpoints" / "Cosmos3-Nano"
    # half a conversion (the DCP without the config.json written last) is not done
    (base / "model").mkdir(parents=True)
    (base / "model" / ".metadata").write_bytes(b"m")
    assert adapter.pipeline(preset, job, {})[0].done is None
    (base / "model" / "config.json").write_text("{}")
    assert "config.json" in (adapter.pipeline(preset, job, {})[0].done or "")
    step = _dcp_step(job, 12)
    specs = adapter.pipeline(preset, job, {})
    assert "trainer.max_iter=12" in (specs[1].done or "")
    export = specs[2]
    assert export.argv[1:] == (
        "-m",
        "cosmos_framework.scripts.export_model",
        "--checkpoint-path",
        str(step),
        "--config-file",
        str(job / "config.yaml"),
        "-o",
        str(job / "model"),
        "--verify",
    )
    assert export.done is None
    (job / "model").mkdir()
    (job / "model" / "checkpoint.json").write_text("{not json")  # corrupt: not an export
    assert adapter.pipeline(preset, job, {})[2].done is None
    (job / "model" / "checkpoint.json").write_text(json.dumps({"checkpoint_path": str(step / "model")}))
    assert "iter_000000012" in (adapter.pipeline(preset, job, {})[2].done or "")
    _dcp_step(job, 18)  # a newer checkpoint: the old export does not count
    assert adapter.pipeline(preset, job, {})[2].done is None
    no_verify = apply_sets(preset, ["pipeline.verify=false", "pipeline.export=false"])
    assert [s.name for s in adapter.pipeline(no_verify, job, {})] == ["convert", "train"]


def test_parallel_layout_and_samples(tmp_path: Path) -> None:
    preset, _ = framework_preset(tmp_path, "model.config.parallelism.context_parallel_shard_degree=2")
    adapter = get_adapter("cosmos-framework")
    assert adapter.parallelism(preset, None, 8) == "DP 4 x CP 2 (FSDP shard 8 x replicate 1)"
    assert "does not divide" in (adapter.parallelism(preset, None, 3) or "")
    job = _job(tmp_path)
    folder = job / "EveryNDrawSample"
    folder.mkdir()
    for name in (
        "ema_ReplicateID0000_Sample_Iter000000004_resize.jpg",
        "reg_ReplicateID0000_Sample_Iter000000004.gif",
        "reg_ReplicateID0001_x0_Iter000000008_frame_first_resize.jpg",
        "notes.txt",
        "reg_ReplicateID0000_Sample_Iter12_resize.jpg",
    ):
        (folder / name).write_bytes(b"x")
    (folder / "ema_ReplicateID0000_Sample_Iter000000016_resize.jpg").symlink_to("/etc/passwd")
    found = list_samples(job, adapter.sample_layout)
    assert [(s.iteration, s.tags) for s in found] == [(4, ("ema", "reg")), (8, ("reg",))]


def _record(tmp_path: Path, preset) -> RunRecord:
    run_dir = tmp_path / "state" / "runs" / "r1"
    run_dir.mkdir(parents=True)
    return RunRecord(id="r1", run_dir=run_dir, preset=preset.to_dict(), engine_kind="cosmos-framework")


def test_sbatch_script_runs_the_sentinel_protocol_and_chains_a_segment(tmp_path: Path) -> None:
    preset, _ = framework_preset(tmp_path, "trainer.max_iter=12")
    preset = apply_sets(preset, ["launch.target=slurm", "launch.slurm.time=01:00:00"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    script = render_sbatch(preset, output=str(run_dir / "console.log"), run_dir=run_dir)
    assert "#SBATCH --signal=B:SIGUSR1@300" in script.text and "TERM@" not in script.text
    assert "trap '" in script.text and "SIGUSR1_RECEIVED" in script.text
    # Under bash: a fake srun that waits for the request file, then "saves" as the callback does.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(
        '#!/bin/bash\nwhile [ ! -f "$SLURM_LOG_DIR/SIGUSR1_RECEIVED" ]; do sleep 0.1; done\n'
        'touch "$SLURM_LOG_DIR/SIGUSR1_CHECKPOINT_SUCCEEDED"; exit 0\n'
    )
    (bin_dir / "sbatch").write_text(f'#!/bin/bash\necho "$@" > {tmp_path}/sbatch_args\necho 4243\n')
    (bin_dir / "scontrol").write_text("#!/bin/bash\necho node1\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    (run_dir / "job.sbatch").write_text(script.text)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242"}
    env |= {"SLURM_NNODES": "1", "SLURM_JOB_NODELIST": "node1"}
    proc = subprocess.Popen(["bash", str(run_dir / "job.sbatch")], env=env, stdout=subprocess.PIPE, text=True)
    folder = run_dir / "slurm" / "4242"
    for _ in range(100):
        if folder.is_dir():
            break
        subprocess.run(["sleep", "0.1"])
    subprocess.run(["sleep", "0.3"])
    proc.send_signal(10)  # SIGUSR1 to the batch shell, as --signal=B: sends it
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "asking the engine to save" in out and "segment 1 is job 4243" in out
    assert (run_dir / "slurm_next_job").read_text().strip() == "4243"
    assert "--dependency=afterany:4242" in (tmp_path / "sbatch_args").read_text()

    # the record follows the segment; a stop marker keeps the script from chaining
    record = _record(tmp_path, preset).replace(
        target="slurm", slurm_job_id="4242", job_id="4242", status="running", run_dir=run_dir
    )
    assert jobs.next_segment(record) == "4243"
    moved = jobs.follow_segment(record, "4243")
    assert moved.slurm_segments == ("4242",) and moved.slurm_job_id == "4243"
    assert "after an emergency checkpoint" in (moved.reason or "")
    assert jobs.next_segment(moved) is None


def test_stop_sentinel_refuses_a_planted_link(tmp_path: Path) -> None:
    preset, _ = framework_preset(tmp_path)
    record = _record(tmp_path, preset)
    assert sentinel.request_stop(record) is None  # no folder: the engine was not started with it
    target = tmp_path / "elsewhere"
    target.mkdir()
    (record.run_dir / "sentinel").symlink_to(target)
    assert sentinel.request_stop(record) is None and not list(target.iterdir())
    (record.run_dir / "sentinel").unlink()
    env = sentinel.local_env(record)
    assert env == {"SLURM_LOG_DIR": str(record.run_dir / "sentinel")}
    (record.run_dir / "sentinel" / "SIGUSR1_RECEIVED").mkdir()  # corrupt: a folder where a file goes
    assert sentinel.request_stop(record) is None


@pytest.mark.parametrize("kind", ["builtin"])
def test_other_engines_only_train(kind: str) -> None:
    from cosmos_tui.core.presets import Preset

    assert [s.name for s in get_adapter(kind).pipeline(Preset(), None, {})] == ["train"]
