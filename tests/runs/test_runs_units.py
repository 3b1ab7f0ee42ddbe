"""Rendering, preflight, exit reasons and resume points: no processes, real files."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from cosmos_tui.core import jobconfig, launch, preflight
from cosmos_tui.core.engines.base import NodeRole
from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset
from cosmos_tui.core.runs.outcome import describe_exit, status_for
from cosmos_tui.core.runs.resume import latest_checkpoint


@pytest.fixture
def demo():
    return load_preset(resolve_preset("builtin-demo"))


def test_render_gives_torchrun_with_the_experiment_and_overrides(demo) -> None:
    spec = launch.render(apply_sets(demo, ["trainer.max_iter=3", "launch.nproc_per_node=1"]))
    assert spec.argv[:2] == ("torchrun", "--nproc_per_node=1")
    assert spec.argv[2:6] == ("-m", "cosmos_engine.train", "--", "experiment=s2mv_text2world_tiny")
    assert spec.argv[-2:] == ("trainer.max_iter=3", "job.wandb_mode=offline")
    assert spec.exec_argv()[1:3] == ["-m", "torch.distributed.run"]


def test_the_multiline_shell_form_runs_the_same_argv(demo, tmp_path: Path) -> None:
    spec = launch.render(demo, role=NodeRole(standalone=True))
    script = spec.shell(multiline=True).replace("torchrun ", "printf '%s\\n' torchrun ", 1)
    got = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert tuple(got.splitlines()) == spec.argv


def test_a_local_launch_lets_torchrun_bind_its_own_port_unless_one_is_set(demo) -> None:
    local = NodeRole(standalone=True)
    assert "--standalone" in launch.render(demo, role=local).argv  # no choose-then-bind race
    assert not any(a.startswith("--master_port") for a in launch.render(demo, role=local).argv)
    fixed = apply_sets(demo, ["launch.master_port=29999"])
    assert "--master_port=29999" in launch.render(fixed, role=local).argv
    assert "--standalone" not in launch.render(fixed, role=local).argv
    # The shown form (preset render, the docs' golden commands) leaves the port to torchrun.
    assert "--standalone" not in launch.render(demo).argv
    multi = apply_sets(demo, ["launch.nnodes=2", "launch.rdzv_endpoint=h:1"])
    assert "--standalone" not in launch.render(multi, role=local).argv


def test_job_dir_comes_from_the_engine_dry_run(demo, tmp_path: Path) -> None:
    env = {**os.environ, "IMAGINAIRE_OUTPUT_ROOT": str(tmp_path)}
    named = apply_sets(demo, ["job.name=mine"])
    job = launch.resolve_job_dir(named, env)
    assert job.source == "dryrun"
    assert job.path == tmp_path / "cosmos_engine" / "s2mv_text2world" / "mine"
    assert list(tmp_path.iterdir()) == [], "the dry run writes nothing under the output root"
    assert job.config["trainer"]["max_iter"] == 10  # the engine's composed config comes back
    assert launch.resolve_job_dir(named, env, dryrun=False) == launch.JobDir(job.path, "adapter")
    broken = apply_sets(demo, ["trainer.no_such_key=1"])
    fallback = launch.resolve_job_dir(broken, env)
    assert fallback.source == "adapter" and "exited" in fallback.note


def test_config_yaml_tags_are_read_as_plain_data(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "job: !!python/object:x.Job\n  project: p\n  group: g\n  name: n\nf: !!python/name:os.system\n"
    )
    assert jobconfig.read_config_yaml(path) == {"job": {"project": "p", "group": "g", "name": "n"}, "f": ""}


def test_preflight_fails_a_missing_dataset_and_a_busy_port(demo, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        preset = apply_sets(demo, [f"data.root={tmp_path / 'nope'}", f"launch.master_port={port}"])
        checks = {c.name: c for c in preflight.run_checks(preset, job_dir=tmp_path / "job")}
    assert checks["dataset"].level == "fail" and "not a folder" in checks["dataset"].message
    assert checks["port"].level == "fail" and str(port) in checks["port"].message
    assert checks["output"].level == "ok"


def test_preflight_checks_the_layout_structurally(demo, tmp_path: Path) -> None:
    (tmp_path / "videos" / "pinhole_front").mkdir(parents=True)
    check = preflight.check_dataset(apply_sets(demo, [f"data.root={tmp_path}"]))
    assert check.level == "fail" and "no .mp4" in check.message


def test_preflight_output_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: permissions do not apply")
        (check,) = preflight.check_output(locked / "proj" / "job")
        assert check.level == "fail" and "cannot write" in check.message
    finally:
        locked.chmod(0o700)


def test_output_shared_with_other_users_is_a_warning(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    assert [c.level for c in preflight.check_output(mine / "proj" / "job")] == ["ok", "ok"]
    # A world-writable parent (as /tmp, where upstream's default output root lies): anyone can
    # create the job folder first.
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o1777)
    warned = [c for c in preflight.check_output(open_dir / "out" / "job") if c.level == "warn"]
    assert len(warned) == 1 and "every user can write" in warned[0].message
    assert "env.output_root" in warned[0].message
    # A folder another user made (needs root to make one here).
    if os.geteuid() != 0:
        pytest.skip("making a folder another user owns needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 54321, 54321)
    warned = [c for c in preflight.check_output(theirs / "job") if c.level == "warn"]
    assert len(warned) == 1 and "belongs to another user (uid 54321)" in warned[0].message


def test_gpu_check_explains_the_cpu_fallback(demo) -> None:
    assert preflight.check_gpus(demo, gpus=0, cores=2).level == "ok"
    assert "gloo" in preflight.check_gpus(demo, gpus=0, cores=2).message
    upstream = demo.model_copy(deep=True)
    upstream.engine.kind = "cosmos-predict2.5"
    assert preflight.check_gpus(upstream, gpus=0).level == "fail"
    assert preflight.check_gpus(upstream, gpus=1).level == "fail"  # demo wants 2
    assert preflight.check_gpus(upstream, gpus=8).level == "ok"


def test_more_ranks_than_cpu_cores_or_gpus_is_said_with_what_to_do(demo) -> None:
    many = apply_sets(demo, ["launch.nproc_per_node=64"])
    check = preflight.check_gpus(many, gpus=0, cores=2)
    assert check.level == "warn"  # it runs, crowded: a warning, not a refusal
    assert "64 CPU processes" in check.message and "2 CPU core(s)" in check.message
    assert "--set launch.nproc_per_node=2" in check.message
    assert preflight.nproc_problem(many, 0, cores=64) is None
    on_gpus = preflight.check_gpus(many, gpus=8)
    assert on_gpus.level == "fail" and "--set launch.nproc_per_node=8" in on_gpus.message
    assert preflight.nproc_problem(many, 8) == on_gpus.message
    # The cores counted are those this process may run on (its affinity), not the host's.
    if hasattr(os, "sched_getaffinity"):
        assert preflight.cpu_cores() == len(os.sched_getaffinity(0))
    # And the checks a launch runs carry it (`cosmos-tui run --dry-run` prints them).
    checks = {c.name: c for c in preflight.run_checks(many)}
    if not preflight.visible_gpus() and preflight.cpu_cores() < 64:
        assert checks["gpus"].level == "warn" and "CPU core(s)" in checks["gpus"].message


def _dcp_step(ckpt_dir: Path, it: int, parts=("model", "optim", "scheduler", "trainer")) -> None:
    for part in parts:
        (ckpt_dir / f"iter_{it:09d}" / part).mkdir(parents=True)
        (ckpt_dir / f"iter_{it:09d}" / part / ".metadata").write_bytes(b"")


def test_resume_point_is_the_latest_complete_checkpoint(tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoints"
    assert latest_checkpoint(tmp_path) is None
    _dcp_step(ckpt, 5)
    _dcp_step(ckpt, 10, parts=("model",))  # a save cut short: not complete
    (ckpt / "latest_checkpoint.txt").write_text("iter_000000005\n")
    point = latest_checkpoint(tmp_path)
    assert point.iteration == 5
    assert point.states == dict(model=True, optimizer=True, scheduler=True, trainer=True, ema=False)
    assert "iteration 5" in point.describe() and "no EMA" in point.describe()


def test_exit_reasons_name_host_oom_kills_and_root_causes() -> None:
    assert "out-of-memory killer" in describe_exit(-9)
    assert "SIGTERM" in describe_exit(-15)
    summary = [
        "Root Cause (first observed failure):",
        "[0]:",
        "  rank      : 1 (local_rank: 1)",
        "  exitcode  : -9 (pid: 77)",
    ]
    assert "rank 1 was killed by SIGKILL" in describe_exit(1, summary)
    crash = ["[rank0]: ValueError: bad batch", *summary[:3], "  exitcode  : 1 (pid: 77)"]
    crash[2] = "  rank      : 0 (local_rank: 0)"
    assert describe_exit(1, crash).endswith("rank 0 failed with exit code 1 (ValueError: bad batch)")
    assert status_for(1, stop_requested=True) == "stopped"
    assert status_for(0, stop_requested=False) == "finished"
    assert status_for(2, stop_requested=False) == "failed"
