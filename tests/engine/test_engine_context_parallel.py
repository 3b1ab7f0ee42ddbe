"""Context parallelism (``parallel.context_parallel_size``) under real torchrun on CPU/gloo.

- one step with the sequence split over 2 ranks (FSDP2 over the same ranks) against one unsplit
  module: the same loss, and every weight's gradient (FSDP2 shards gathered) the same within fp32
  rounding; and over 4 ranks (dp 2 x cp 2, video2world) against the mean of the same two samples;
- a real ``cosmos_engine.train`` job with ``parallel.context_parallel_size=2`` on 2 ranks trains,
  saves DCP checkpoints and resumes (at 2 of 4 iterations), and its losses and gradient norms are
  those of the same job on one unsplit rank (the cp ranks read that rank's samples and noise);
- a bad size is one ``error:`` sentence naming the key, exit code 2 (torchrun: nonzero).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from cosmos_engine.info import main as info_main
from engine_runs import TINY, TORCHRUN, engine_env, metrics, python_cmd, run, torchrun_cmd

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("cp_two_rank.py")


def _split_step(tmp_path: Path, nproc: int, task: str) -> dict:
    out = tmp_path / "result.json"
    cmd = [TORCHRUN, "--standalone", f"--nproc_per_node={nproc}", str(SCRIPT), str(out), "2", task]
    proc = run(cmd, engine_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize(("nproc", "task"), [(2, "text2world"), (4, "video2world")])
def test_split_sequence_step_matches_the_unsplit_model(tmp_path: Path, nproc: int, task: str) -> None:
    r = _split_step(tmp_path, nproc, task)
    assert (r["world"], r["cp"], r["dp"]) == (nproc, 2, nproc // 2)
    assert r["tokens_per_rank"] == 192 // 2  # 2 views x 4 x 4 x 6 patches, halved: the split is real
    # the ranks of one cp group hold the loss of their dp replica's sample
    assert r["losses"] == pytest.approx([x for x in r["ref_losses"] for _ in range(2)], abs=1e-5)
    assert r["same_names"] and len(r["grad_err"]) > 40  # every weight of the tiny network
    for name, err in r["grad_err"].items():
        scale = r["grad_scale"][name]
        assert scale > 0, name  # no dead weight: each gradient tests the scale
        assert err <= 1e-6 + 1e-4 * scale, (name, err, scale)


def _job(root: Path, name: str) -> Path:
    return root / "cosmos_engine" / "s2mv_text2world" / name


def test_training_job_with_context_parallel_matches_one_rank_saves_and_resumes(
    tmp_path: Path, waymo_data: Path
) -> None:
    common = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "checkpoint.save_iter=2",
        "trainer.activation_checkpointing=true",  # the recompute repeats the all-to-alls
        "trainer.val_every=2",  # the held-out loss runs the EMA copy split too
        "dataloader_train.dataset.val_clips=1",
        "trainer.val_samples=2",
    ]
    env = engine_env(tmp_path)
    ref_cmd = python_cmd([*common, "job.name=ref", "trainer.max_iter=4"])
    ref = subprocess.Popen(ref_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cp = [*common, "job.name=cp", "parallel.context_parallel_size=2"]
    first = run(torchrun_cmd([*cp, "trainer.max_iter=2"]), env)
    _, ref_err = ref.communicate(timeout=120)
    assert ref.returncode == 0, ref_err[-3000:]
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Distributed parallelism mode: fsdp2 + context parallel (dp 1 x cp 2)" in first.stdout
    resumed = run(torchrun_cmd([*cp, "trainer.max_iter=4"]), env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming from checkpoint" in resumed.stdout and "at iteration 2" in resumed.stdout
    ckpts = _job(tmp_path, "cp") / "checkpoints"
    assert (ckpts / "latest_checkpoint.txt").read_text() == "iter_000000004\n"
    for it in (2, 4):
        assert (ckpts / f"iter_{it:09d}" / "model" / ".metadata").is_file()
    want = {r["iteration"]: r for r in metrics(_job(tmp_path, "ref"))}
    got = {r["iteration"]: r for r in metrics(_job(tmp_path, "cp"))}
    assert sorted(got) == [1, 2, 3, 4]
    for it in range(1, 5):
        assert got[it]["loss"] == pytest.approx(want[it]["loss"], rel=1e-4), it
        assert got[it]["grad_norm"] == pytest.approx(want[it]["grad_norm"], rel=1e-3), it
        assert (got[it]["world_size"], got[it]["context_parallel_size"]) == (2, 2)
        assert got[it]["sample_counter"] == want[it]["sample_counter"] == it  # one sample per step
        if it % 2 == 0:
            assert got[it]["val_loss"] == pytest.approx(want[it]["val_loss"], rel=1e-4), it
    assert want[4]["loss"] != want[1]["loss"]  # it trains


@pytest.mark.parametrize(
    ("size", "extra", "says"),
    [
        (2, [], "parallel.context_parallel_size=2 must divide the number of ranks (1)"),
        (3, [], "parallel.context_parallel_size=3 must divide model.heads=4"),
        (
            2,
            [
                "dataloader_train.dataset.sample_n_views=1",
                "dataloader_train.dataset.num_frames=2",
                "dataloader_train.dataset.video_size=[16,48]",
            ],
            "parallel.context_parallel_size=2 must divide the 3 tokens per sample",
        ),
    ],
)
def test_a_bad_size_is_one_sentence_and_exit_code_2(
    tmp_path: Path, waymo_data: Path, size: int, extra: list[str], says: str
) -> None:
    args = [*TINY, f"dataloader_train.dataset.dataset_dir={waymo_data}", *extra]
    proc = run(python_cmd([*args, f"parallel.context_parallel_size={size}"]), engine_env(tmp_path))
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_size_that_does_not_divide_torchrun_ranks_fails_on_every_rank(
    tmp_path: Path, waymo_data: Path
) -> None:
    args = [*TINY, f"dataloader_train.dataset.dataset_dir={waymo_data}", "parallel.context_parallel_size=4"]
    proc = run(torchrun_cmd(args), engine_env(tmp_path))
    assert proc.returncode != 0
    says = "error: parallel.context_parallel_size=4 must divide the number of ranks (2)"
    assert proc.stderr.count(says) == 1, proc.stderr[-3000:]  # rank 0 says it, once
    # torchrun's own agent prints its ChildFailedError traceback; no engine frame is in it
    assert not re.search(r'File ".*/(cosmos_engine|engine)/', proc.stderr), proc.stderr[-3000:]
    assert not (_job(tmp_path, "s2mv_text2world_tiny") / "metrics.jsonl").exists()


def test_info_reports_dp_by_cp(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["experiment=s2mv_text2world_2b", "parallel.context_parallel_size=4"]
    assert info_main(["--json", "--ranks", "8", "--", *args]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["parallelism"] == "dp 2 x cp 4"
    assert (facts["data_parallel_size"], facts["context_parallel_size"]) == (2, 4)
    assert facts["tokens_per_rank"] * 4 == facts["tokens_per_sample"]
    assert info_main(["--json", "--", *args]) == 0  # what the TUI asks: one cp group
    assert json.loads(capsys.readouterr().out)["parallelism"] == "dp 1 x cp 4"
    assert info_main(["--json", "--ranks", "6", "--", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: parallel.context_parallel_size=4 must divide the number of ranks")
