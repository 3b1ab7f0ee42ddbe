"""kill -9 of every process that touches a run, during training and during a checkpoint save.

Targets: the UI (a headless ``CosmosApp`` process on the run's dashboard), the CLI (the
``cosmos-tui run`` that started the run and follows it, and a ``runs logs -f`` follower), the
supervisor, the torchrun agent, and one rank. For each: the run record ends in a true state, the
latest pointer names a complete checkpoint, and a resume continues from it with no completed
iteration lost (metrics.jsonl covers 1..N without a gap).

All scenarios run at once in one module fixture (each in its own job folder) and are resumed at
once, so the suite pays for torch start-ups in parallel. ``fault_site`` holds a run inside a step or
inside a save (after the model part, with the step folder still ``.partial``) so the kill lands there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from rel_helpers import (
    iterations,
    job_sets,
    launch,
    pointer_target,
    rank_pid,
    record_file_is_whole,
    stop_leftovers,
    wait_file,
)
from support.runs import wait_run

from cosmos_tui.core.runs import get_run, list_runs, resume_run, stop_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

UI = (
    "import sys; from cosmos_tui.tui.app import CosmosApp; "
    "CosmosApp(initial_run_id=sys.argv[1]).run(headless=True)"
)


def _alive_for(proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args[:4]} ended early with {proc.returncode}"
        time.sleep(0.1)


def _faces(data: Path, tmp: Path, out: dict) -> None:
    """UI and CLI killed during training and during a save; the run itself must not notice."""
    markers = tmp / "faces"
    sets = job_sets(data, "faces", nproc=1, max_iter=6, save_iter=2)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).with_name("fault_site")),
        "COSMOS_REL_FAULT": "slow_step:2:4,slow_save:4:4",
        "COSMOS_REL_MARKERS": str(markers),
    }
    cli = subprocess.Popen(
        [sys.executable, "-m", "cosmos_tui", "run", "builtin-demo", *(a for s in sets for a in ("--set", s))],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "faces-cli.err", "wb"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 120
    while not [r for r in list_runs(reconcile=False) if r.job_dir and r.job_dir.endswith("/faces")]:
        assert cli.poll() is None and time.monotonic() < deadline, (tmp / "faces-cli.err").read_text()
        time.sleep(0.1)
    run_id = next(r.id for r in list_runs(reconcile=False) if r.job_dir and r.job_dir.endswith("/faces"))
    out["faces_id"] = run_id
    clean = {k: v for k, v in env.items() if not k.startswith("COSMOS_REL") and k != "PYTHONPATH"}
    ui_train = subprocess.Popen([sys.executable, "-c", UI, run_id], env=clean, **_quiet())
    ui_save = subprocess.Popen([sys.executable, "-c", UI, run_id], env=clean, **_quiet())
    logs = subprocess.Popen(
        [sys.executable, "-m", "cosmos_tui", "runs", "logs", "-f", run_id], env=clean, **_quiet()
    )
    wait_file(markers / "step.0", 120)  # inside iteration 2: training
    _alive_for(ui_train, 0.5)
    ui_train.kill()
    assert cli.poll() is None
    cli.kill()
    wait_file(markers / "saving.0", 120)  # inside the save of iteration 4
    _alive_for(ui_save, 0.2)
    ui_save.kill()
    assert logs.poll() is None
    logs.kill()
    for proc in (cli, ui_train, ui_save, logs):
        proc.wait()
    out["faces"] = wait_run(run_id, lambda r: not r.active, 120)


def _quiet() -> dict:
    return {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


#: For the supervisor and the torchrun agent: (ranks launched, the record attribute naming the
#: process killed, per phase: (engine fault, max_iter, stop after the kill), seconds to wait).
_KILLS = {
    # sup-train: killed inside iteration 3; the run goes on without it to the end.
    # sup-save: killed inside the save of iteration 2; then stopped (no supervisor left to forward it).
    "sup": (
        1,
        "supervisor",
        {"train": ("slow_step:3:3", 6, False), "save": ("slow_save:2:3", 1000, True)},
        0.5,
    ),
    # agent-train: killed inside iteration 3; the orphaned ranks train on until `runs stop`.
    # agent-save: killed inside the save of iteration 2; the orphaned ranks finish the job (6 iterations).
    "agent": (2, "agent", {"train": ("slow_step:3:3", 1000, True), "save": ("slow_save:2:3", 6, False)}, 2.0),
}


def _process_kill(kind: str, data: Path, tmp: Path, out: dict, phase: str) -> None:
    """SIGKILL the run's supervisor or torchrun agent inside a step or a save of ``phase``."""
    nproc, attr, phases, settle_s = _KILLS[kind]
    fault, max_iter, stop_after = phases[phase]
    markers = tmp / f"{kind}-{phase}"
    rec = launch(
        job_sets(data, f"{kind}-{phase}", nproc=nproc, max_iter=max_iter, save_iter=2),
        fault=fault,
        markers=markers,
    )
    running = wait_run(rec.id, lambda r: getattr(r, attr) is not None and len(r.procs) >= nproc)
    wait_file(markers / ("step.0" if phase == "train" else "saving.0"), 120)
    os.kill(getattr(running, attr).pid, signal.SIGKILL)
    time.sleep(settle_s)
    after = get_run(rec.id)
    if kind == "agent":
        out[f"{kind}-{phase}-after-kill"] = (
            after,
            len([p for p in running.procs if psutil.pid_exists(p.pid)]),
        )
    else:
        out[f"{kind}-{phase}-after-kill"] = after
    if stop_after:
        out[f"{kind}-{phase}-stop"] = stop_run(rec.id)
    out[f"{kind}-{phase}"] = wait_run(rec.id, lambda r: not r.active, 120)


def _rank(data: Path, tmp: Path, out: dict, phase: str) -> None:
    markers = tmp / f"rank-{phase}"
    sets = job_sets(data, f"rank-{phase}", nproc=2, max_iter=6 if phase == "save" else 1000, save_iter=2)
    if phase == "train":
        rec = launch(sets, fault="slow_step:3:3", markers=markers)
        os.kill(rank_pid(markers, "step", 1, 120), signal.SIGKILL)  # rank 1, inside iteration 3
    else:
        # The engine's own fault: rank 1 SIGKILLs itself after writing the model part of iteration 4.
        rec = launch(sets, COSMOS_ENGINE_FAULT="kill_in_save:4:1")
    out[f"rank-{phase}"] = wait_run(rec.id, lambda r: not r.active, 120)


SCENARIOS = ["sup-train", "sup-save", "agent-train", "agent-save", "rank-train", "rank-save"]


@pytest.fixture(scope="module")
def matrix(module_home: Path, rel_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("kills")
    out: dict = {}
    errors: list[BaseException] = []

    def guarded(fn, *args) -> None:
        try:
            fn(*args)
        except BaseException as e:  # reported by the tests
            errors.append(e)

    jobs = [threading.Thread(target=guarded, args=(_faces, rel_data, tmp, out))]
    for name in SCENARIOS:
        kind, phase = name.split("-")
        if kind == "rank":
            jobs.append(threading.Thread(target=guarded, args=(_rank, rel_data, tmp, out, phase)))
        else:
            jobs.append(
                threading.Thread(target=guarded, args=(_process_kill, kind, rel_data, tmp, out, phase))
            )
    for job in jobs:
        job.start()
        time.sleep(0.5)
    for job in jobs:
        job.join(300)
    out["errors"] = errors
    if errors:
        stop_leftovers()
    # What each job left behind, before the resumes extend it.
    out["pointers"], out["iterations"] = {}, {}
    for name in ["faces", *SCENARIOS]:
        record = out.get(name)
        if record is not None:
            out["pointers"][name] = pointer_target(Path(record.job_dir))
            out["iterations"][name] = iterations(Path(record.job_dir))
    # Resume every interrupted job two iterations past its last complete checkpoint, all at once.
    resumed = {}
    for name in SCENARIOS:
        record = out.get(name)
        if record is None:
            continue
        point = out["pointers"][name]
        target = (point or 0) + 2
        resumed[name] = (point, target, resume_run(record.id, sets=[f"trainer.max_iter={target}"]))
    try:
        out["resumed"] = {
            name: (point, target, wait_run(rec.id, lambda r: not r.active, 150))
            for name, (point, target, rec) in resumed.items()
        }
    finally:
        stop_leftovers()
    return out


def _ok(matrix: dict, name: str):
    assert not matrix["errors"], matrix["errors"]
    return matrix[name]


def test_ui_and_cli_killed_during_training_and_save_leave_the_run_untouched(matrix, in_module_home) -> None:
    done = _ok(matrix, "faces")
    assert done.status == "finished" and done.exit_code == 0, done.reason
    assert matrix["pointers"]["faces"] == 6
    assert matrix["iterations"]["faces"] == [1, 2, 3, 4, 5, 6]
    record_file_is_whole(done)
    assert not list(done.run_dir.glob(".run.json.*.tmp")), "a killed writer left a temp file behind"


def test_supervisor_killed_during_training(matrix, in_module_home) -> None:
    after, done = _ok(matrix, "sup-train-after-kill"), matrix["sup-train"]
    # The ranks still run, so the record must not call the run over.
    assert after.active and "still run" in (after.reason or ""), (after.status, after.reason)
    assert done.status == "lost" and done.exit_code is None
    assert "ended without recording an exit code" in done.reason
    assert matrix["pointers"]["sup-train"] == 6


def test_supervisor_killed_during_a_save_then_stopped(matrix, in_module_home) -> None:
    after, report, done = _ok(matrix, "sup-save-after-kill"), matrix["sup-save-stop"], matrix["sup-save"]
    assert after.active
    assert report.graceful and not report.killed, report
    assert done.status == "stopped", done.reason
    assert matrix["pointers"]["sup-save"] >= 2


def test_agent_killed_during_training_then_stopped(matrix, in_module_home) -> None:
    (after, ranks), report, done = (
        _ok(matrix, "agent-train-after-kill"),
        matrix["agent-train-stop"],
        matrix["agent-train"],
    )
    assert ranks == 2, "the ranks outlive a killed torchrun agent"
    assert after.active, f"the record said {after.status} while both ranks still trained: {after.reason}"
    assert "ran on" in after.reason
    assert report.graceful and not report.killed, report
    assert done.status == "stopped" and done.exit_code == -9, done.reason
    point = matrix["pointers"]["agent-train"]
    assert point >= 3 and matrix["iterations"]["agent-train"][-1] == point, "the orphans saved when stopped"


def test_agent_killed_during_a_save(matrix, in_module_home) -> None:
    (after, ranks), done = _ok(matrix, "agent-save-after-kill"), matrix["agent-save"]
    assert ranks == 2 and after.active, (after.status, after.reason)
    assert done.status == "failed" and done.exit_code == -9
    assert "killed by SIGKILL" in done.reason and "ran on without torchrun" in done.reason
    assert matrix["pointers"]["agent-save"] == 6  # the orphans finished the job and its saves


def test_one_rank_killed_during_training(matrix, in_module_home) -> None:
    done = _ok(matrix, "rank-train")
    assert done.status == "failed" and done.exit_code == 1
    assert "rank 1 was killed by SIGKILL" in done.reason, done.reason
    assert matrix["pointers"]["rank-train"] == 2


def test_one_rank_killed_during_a_save(matrix, in_module_home) -> None:
    done = _ok(matrix, "rank-save")
    assert done.status == "failed" and "rank 1 was killed by SIGKILL" in done.reason, done.reason
    assert matrix["pointers"]["rank-save"] == 2


@pytest.mark.parametrize("name", SCENARIOS)
def test_resume_continues_with_no_lost_completed_iteration(matrix, in_module_home, name: str) -> None:
    point, target, done = _ok(matrix, "resumed")[name]
    assert done.status == "finished" and done.exit_code == 0, done.reason
    log = done.console_log.read_text()
    assert f"at iteration {point}" in log and f"Iteration {point + 1}:" in log
    assert f"Iteration {point}:" not in log
    assert pointer_target(Path(done.job_dir)) == target
    done_iters = iterations(Path(done.job_dir))
    assert sorted(set(done_iters)) == list(range(1, target + 1)), done_iters
