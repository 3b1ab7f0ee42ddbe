"""Faults other than kill -9, each on a real run of the builtin engine (run record, supervisor,
torchrun, CPU ranks over gloo), all started at once by one module fixture:

- torchrun ``--max-restarts`` (``launch.max_restarts=1``): a rank dies once, torchrun restarts the
  workers, the engine resumes from its last checkpoint and the run finishes;
- disk full while saving (the job's output root on a 16 MiB tmpfs): a clear reason in the record,
  the earlier checkpoint intact and still named by the pointer;
- SIGTERM (``runs stop``) during the first iteration, during data loading and during a save:
  finish the step, save, stop; the pointer names that complete checkpoint.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from rel_helpers import iterations, job_sets, launch, pointer_target, stop_leftovers, wait_file
from support.runs import wait_run

from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.checkpoints.verify import verify_checkpoint
from cosmos_tui.core.runs import stop_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SIGTERM_CASES = {
    # name: (fault, marker, nproc, save_iter, expected pointer)
    "first-iteration": ("slow_step:1:4", "step.0", 1, 1000, 1),
    "data-loading": ("slow_load:3:4", "loading.0", 1, 1000, 3),
    "save": ("slow_save:2:4", "saving.0", 2, 2, 3),
}


def _mount_tmpfs(where: Path, size: str) -> str | None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    return None if done.returncode == 0 else (done.stderr.strip() or "mount failed")


@pytest.fixture(scope="module")
def faults(module_home: Path, rel_data: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("faults")
    out: dict = {"errors": {}}

    def restarts() -> None:
        sets = [*job_sets(rel_data, "restarts", nproc=2, max_iter=6, save_iter=2), "launch.max_restarts=1"]
        rec = launch(sets, fault="die_once:3:1", markers=tmp / "restarts")
        out["restarts"] = wait_run(rec.id, lambda r: not r.active, 90)
        out["restarts_marker"] = (tmp / "restarts" / "died").exists()

    def disk_full() -> None:
        disk = tmp / "disk"
        why = _mount_tmpfs(disk, "16m")
        if why:
            out["disk_skip"] = why
            return
        try:
            sets = job_sets(rel_data, "diskfull", nproc=1, max_iter=8, save_iter=2)
            rec = launch(sets, IMAGINAIRE_OUTPUT_ROOT=str(disk), force=True)
            out["disk"] = wait_run(rec.id, lambda r: not r.active, 180)
            job = Path(out["disk"].job_dir)
            out["disk_pointer"] = pointer_target(job)
            infos = {i.iteration: i for i in scan_checkpoints(job / "checkpoints")}
            out["disk_verify"] = verify_checkpoint(infos[2], deep=True)
            out["disk_listing"] = sorted(p.name for p in (job / "checkpoints").iterdir())
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)

    def sigterm(name: str) -> None:
        fault, marker, nproc, save_iter, _ = SIGTERM_CASES[name]
        markers = tmp / name
        sets = job_sets(rel_data, f"term-{name}", nproc=nproc, max_iter=1000, save_iter=save_iter)
        rec = launch(sets, fault=fault, markers=markers)
        wait_file(markers / marker, 150)
        out[f"term-{name}"] = stop_run(rec.id, timeout=60)

    def guarded(fn, *args) -> None:
        name = args[0] if args else fn.__name__
        try:
            fn(*args)
        except BaseException as e:  # reported by the test of that scenario
            out["errors"][name] = e

    jobs = [
        threading.Thread(target=guarded, args=(restarts,)),
        threading.Thread(target=guarded, args=(disk_full,)),
    ]
    jobs += [threading.Thread(target=guarded, args=(sigterm, name)) for name in SIGTERM_CASES]
    for job in jobs:
        job.start()
        time.sleep(0.3)
    for job in jobs:
        job.join(280)
    stop_leftovers()
    return out


def _ok(faults: dict, name: str, scenario: str):
    error = faults["errors"].get(scenario)
    if error is not None:
        raise error
    return faults[name]


def test_a_rank_that_dies_once_is_restarted_and_the_engine_resumes(faults, in_module_home) -> None:
    done = _ok(faults, "restarts", "restarts")
    assert faults["restarts_marker"], "the fault never fired"
    log = done.console_log.read_text()
    assert done.status == "finished" and done.exit_code == 0, log[-4000:]
    assert "Resuming from checkpoint" in log and "at iteration 2" in log
    assert pointer_target(Path(done.job_dir)) == 6
    assert sorted(set(iterations(Path(done.job_dir)))) == [1, 2, 3, 4, 5, 6]


def test_disk_full_while_saving(faults, in_module_home) -> None:
    if "disk_skip" in faults:
        pytest.skip(f"cannot mount a small tmpfs here: {faults['disk_skip']}")
    done = _ok(faults, "disk", "disk_full")
    assert done.status == "failed" and done.exit_code not in (0, None)
    assert "disk is full" in done.reason and "No space left on device" in done.reason, done.reason
    assert faults["disk_pointer"] == 2, faults["disk_listing"]
    assert faults["disk_verify"].ok, faults["disk_verify"]
    assert "Traceback" not in done.reason


@pytest.mark.parametrize("name", list(SIGTERM_CASES))
def test_sigterm_finishes_the_step_saves_and_stops(faults, in_module_home, name: str) -> None:
    report = _ok(faults, f"term-{name}", name)
    expected = SIGTERM_CASES[name][4]
    done = report.record
    assert report.graceful and not report.killed, report
    assert done.status == "stopped", done.reason
    job = Path(done.job_dir)
    assert pointer_target(job) == expected
    assert iterations(job)[-1] == expected
    assert f"Stopping at iteration {expected} on a signal" in done.console_log.read_text()
    assert not list((job / "checkpoints").glob("*.partial"))
