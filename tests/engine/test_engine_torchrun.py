"""Real ``torchrun --standalone --nproc_per_node=2`` runs of the tiny experiment on CPU/gloo.

One module-scoped set of runs serves several assertions:
- ``full``: 6 iterations without interruption, saves every 2, exports ``.pt`` files;
- ``crash``: the same job, but rank 1 is SIGKILLed while writing the iteration-4 checkpoint;
  then ``resumed``: the same command again, which resumes from iteration 2 (W&B offline in both);
- ``term``: a long job whose ranks get SIGUSR1 (save now) and then SIGTERM (save and stop).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import torch
from engine_runs import TINY, engine_env, metrics, run, torchrun_cmd

pytestmark = pytest.mark.slow

HIT = re.compile(
    r"^\[\d\d-\d\d \d\d:\d\d:\d\d\|INFO\|cosmos_engine/tracking\.py:\d+:on_step_end\] "
    r"Iteration (\d+): Hit counter: (\d+)/(\d+) \| Loss: (-?[\d.]+) \| Time: ([\d.]+)s$"
)
KEYS = {
    "iteration",
    "loss",
    "lr",
    "grad_norm",
    "sec_per_iter",
    "samples_per_s",
    "tokens_per_s",
    "mfu",
    "peak_mem_gb",
    "time",
}


def _job(root: Path, name: str) -> Path:
    return root / "cosmos_engine" / "s2mv_text2world" / name


def _last_per_iteration(records: list[dict]) -> dict[int, dict]:
    return {r["iteration"]: r for r in records}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, waymo_data: Path) -> dict:
    root = tmp_path_factory.mktemp("out")
    env = engine_env(root)
    common = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "trainer.max_iter=6",
        "checkpoint.save_iter=2",
    ]
    out: dict = {"root": root}
    out["full"] = run(torchrun_cmd([*common, "job.name=full", "checkpoint.export_pt=true"]), env)

    crash_args = [*common, "job.name=crash", "job.wandb_mode=offline"]
    out["crash"] = run(torchrun_cmd(crash_args), engine_env(root, COSMOS_ENGINE_FAULT="kill_in_save:4:1"))
    ckpts = _job(root, "crash") / "checkpoints"
    out["after_crash"] = {
        "pointer": (ckpts / "latest_checkpoint.txt").read_text()
        if (ckpts / "latest_checkpoint.txt").exists()
        else None,
        "listing": sorted(p.name for p in ckpts.iterdir()) if ckpts.exists() else [],
        "wandb_id": (_job(root, "crash") / "wandb_id.txt").read_text(),
    }
    out["resumed"] = run(torchrun_cmd(crash_args), env)

    term_args = [
        *TINY,
        f"dataloader_train.dataset.dataset_dir={waymo_data}",
        "trainer.max_iter=1000",
        "job.name=term",
    ]
    proc = subprocess.Popen(
        torchrun_cmd(term_args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while len(metrics(_job(root, "term"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    workers = psutil.Process(proc.pid).children(recursive=True)
    for worker in workers:  # SIGUSR1: save at the next step boundary, keep training
        worker.send_signal(signal.SIGUSR1)
    pointer = _job(root, "term") / "checkpoints" / "latest_checkpoint.txt"
    while not pointer.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    out["usr1_pointer"] = pointer.read_text() if pointer.exists() else None
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    out["term"] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    out["term_workers"] = len(workers)
    return out


def test_training_prints_iterspeed_lines_and_writes_metrics_and_checkpoints(runs: dict) -> None:
    full = runs["full"]
    assert full.returncode == 0, full.stderr[-3000:]
    hits = [HIT.match(line) for line in full.stdout.splitlines()]
    hits = [m for m in hits if m]
    assert [int(m.group(1)) for m in hits] == [1, 2, 3, 4, 5]
    assert [m.group(2) for m in hits] == ["1", "2", "3", "4", "5"]
    job = _job(runs["root"], "full")
    records = metrics(job)
    assert [r["iteration"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(set(r) >= KEYS for r in records)
    assert records[0]["lr"] < records[2]["lr"]  # warm-up
    assert all(r["loss"] > 0 and r["grad_norm"] > 0 and r["samples_per_s"] > 0 for r in records)
    assert records[-1]["sample_counter"] == 6 * 2  # batch 1 x 2 ranks
    ckpts = job / "checkpoints"
    assert (ckpts / "latest_checkpoint.txt").read_text() == "iter_000000006\n"
    for it in (2, 4, 6):
        for part in ("model", "optim", "scheduler", "trainer"):
            assert (ckpts / f"iter_{it:09d}" / part / ".metadata").is_file()
    assert not list(ckpts.glob("*.partial"))
    assert "job:" in (job / "config.yaml").read_text()
    assert "Saving last checkpoint file iter_000000006" in full.stdout


def test_exported_pt_files_use_upstream_keys(runs: dict) -> None:
    export = _job(runs["root"], "full") / "export"
    reg = torch.load(export / "iter_000000006_reg_model.pt", weights_only=True)
    ema = torch.load(export / "iter_000000006_ema_model.pt", weights_only=True)
    assert reg.keys() == ema.keys()
    assert all(k.startswith("net.") for k in reg)
    assert "net.patch_embed.weight" in reg
    assert not torch.equal(reg["net.final.weight"], ema["net.final.weight"])  # EMA lags the weights


def test_killing_a_rank_mid_save_keeps_the_pointer_on_the_last_complete_checkpoint(runs: dict) -> None:
    assert runs["crash"].returncode != 0
    after = runs["after_crash"]
    assert after["pointer"] == "iter_000000002\n"
    assert "iter_000000004" not in after["listing"]  # never renamed into place
    assert "iter_000000004.partial" in after["listing"]
    ckpts = _job(runs["root"], "crash") / "checkpoints"
    assert not (ckpts / "iter_000000004.partial").exists()  # the rerun replaced its own scratch
    assert (ckpts / "latest_checkpoint.txt").read_text() == "iter_000000006\n"


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(runs: dict) -> None:
    resumed = runs["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming from checkpoint" in resumed.stdout and "at iteration 2" in resumed.stdout
    full = _last_per_iteration(metrics(_job(runs["root"], "full")))
    again = _last_per_iteration(metrics(_job(runs["root"], "crash")))
    assert sorted(again) == [1, 2, 3, 4, 5, 6]
    for it in range(1, 7):
        assert (again[it]["loss"], again[it]["grad_norm"], again[it]["lr"]) == (
            full[it]["loss"],
            full[it]["grad_norm"],
            full[it]["lr"],
        ), it


def test_resumed_run_continues_the_same_wandb_run(runs: dict) -> None:
    job = _job(runs["root"], "crash")
    run_id = runs["after_crash"]["wandb_id"].strip()
    assert run_id and (job / "wandb_id.txt").read_text().strip() == run_id
    offline = list((job / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(offline) == 2  # one per process start, same run id


def test_sigterm_finishes_the_step_saves_and_exits_0(runs: dict) -> None:
    term = runs["term"]
    assert runs["term_workers"] == 2
    assert term.returncode == 0, term.stderr[-3000:]
    job = _job(runs["root"], "term")
    last = metrics(job)[-1]["iteration"]
    assert 2 <= last < 1000
    ckpts = job / "checkpoints"
    assert (ckpts / "latest_checkpoint.txt").read_text() == f"iter_{last:09d}\n"
    assert (ckpts / f"iter_{last:09d}" / "trainer" / ".metadata").is_file()
    assert f"Stopping at iteration {last} on a signal" in term.stdout
    usr1 = runs["usr1_pointer"]
    assert usr1 is not None and usr1 != f"iter_{last:09d}\n"  # SIGUSR1 saved earlier, training went on
    assert (ckpts / usr1.strip() / "model" / ".metadata").is_file()
