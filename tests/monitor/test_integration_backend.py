"""The TUI backend over a live run record: real processes (a supervisor and a rank holding a fake
GPU), a real console log and job folder, GPU attribution through ``FakeNvml`` (the NVML test
double), the watchdog's events, and the user's notification command run for real."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.fake_nvml import FakeNvml, fake_device

from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.core.notify_config import load_notify_config
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.record import ProcRef, RunRecord
from cosmos_tui.tui.backend import Backend

RUN = "20260101-120000-integration-backend-0001"
SLEEPER = "import time\nwhile True: time.sleep(0.2)\n"


def _iter_line(i: int, loss: str) -> str:
    prefix = f"[01-01 12:00:{i:02d}|INFO|cosmos_engine/trainer.py:212:train]"
    return f"{prefix} Iteration {i}: Hit counter: 1/1 | Loss: {loss} | Time: 0.500s\n"


def _notify_command_to_file(tmp_path: Path, *, bell: bool = False) -> Path:
    """Write the user's ``[notify]`` config: its command appends each event batch it is given on
    stdin to a file, whose path is returned (it exists once the command has run)."""
    received = tmp_path / "events.jsonl"
    hook = tmp_path / "hook.py"
    hook.write_text(
        f"import sys\nwith open({str(received)!r}, 'a') as f:\n    f.write(sys.stdin.read() + '\\n')\n"
    )
    bell_line = "bell = true\n" if bell else ""
    (state_root() / "config.toml").write_text(
        f"[notify]\n{bell_line}command = [{json.dumps(sys.executable)}, {json.dumps(str(hook))}]\n"
    )
    return received


@pytest.fixture
def live_run(tmp_path: Path):
    """A running run: a supervisor process with a child standing in for the rank."""
    rank_script = (
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {SLEEPER!r}])\n{SLEEPER}"
    )
    sup = subprocess.Popen([sys.executable, "-c", rank_script])
    deadline = time.monotonic() + 20
    while not psutil.Process(sup.pid).children() and time.monotonic() < deadline:
        time.sleep(0.05)
    (rank,) = psutil.Process(sup.pid).children()
    job = tmp_path / "job"
    (job / "checkpoints").mkdir(parents=True)
    (job / "config.yaml").write_text(
        "trainer:\n  max_iter: 100\ncheckpoint:\n  save_iter: 10\n  keep_last_n: 0\n"
    )
    record = RunRecord(
        id=RUN,
        run_dir=registry.run_dir_for(RUN),
        preset={"experiment": {"name": "s2mv_text2world_tiny", "overrides": []}},
        status="running",
        created_at=time.time(),
        started_at=time.time(),
        supervisor=ProcRef(sup.pid, psutil.Process(sup.pid).create_time(), "supervisor"),
        job_dir=str(job),
        env={"CUDA_VISIBLE_DEVICES": "1"},
    )
    registry.create(record)
    record.console_log.write_text(_iter_line(1, "0.9000") + _iter_line(2, "nan"))
    try:
        yield record, rank.pid
    finally:
        for p in (rank.pid, sup.pid):
            try:
                psutil.Process(p).kill()
            except psutil.NoSuchProcess:
                pass
        sup.wait(10)


def test_live_run_health_gpu_claims_and_notifications(live_run, tmp_path: Path) -> None:
    record, rank_pid = live_run
    received = _notify_command_to_file(tmp_path, bell=True)
    nvml = FakeNvml(devices=[fake_device(0), fake_device(1, processes=[(rank_pid, 2 << 30)])])
    shown: list = []
    backend = Backend(
        gpu_sampler=GpuSampler(nvml),
        disk_free=lambda path: 3 << 30,  # under the watchdog's 10 GiB: low disk
        announce=lambda events, bell: shown.append(([e.kind for e in events], bell)),
    )

    view = backend.run_view(RUN)
    assert view.row.status == "running" and view.row.iteration == 2 and view.row.max_iter == 100
    assert "NaN" in view.row.badges and "LOW-DISK" in view.row.badges
    assert any(f.startswith("NaN/Inf loss at iteration 2") for f in view.flags)
    assert view.disk_verdict == "unknown"  # no checkpoint yet: no size to forecast from
    assert view.rss_bytes and view.rss_bytes > 0

    gpus = backend.gpus()
    assert gpus.available
    assert gpus.devices[1].runs == (RUN,) and gpus.devices[1].processes[0].run_id == RUN
    assert gpus.devices[0].runs == ()  # the rank's pid matched device 1, so no device fallback

    batch = backend.log_batch(RUN, None)
    assert [ln.message for ln in batch.lines][-1].startswith("Iteration 2:")
    with open(record.console_log, "a") as f:
        f.write(_iter_line(3, "0.8000"))
    more = backend.log_batch(RUN, batch.next_seq)
    assert [ln.message.split(":")[0] for ln in more.lines] == ["Iteration 3"]
    assert backend.run_view(RUN).row.iteration == 3  # the log poll fed progress too

    # A checkpoint lands: the forecast now has a real size to multiply.
    step = Path(record.job_dir) / "checkpoints" / "iter_000000010"
    for part in ("model", "optim", "scheduler", "trainer"):
        (step / part).mkdir(parents=True)
        (step / part / "__0_0.distcp").write_bytes(b"\0" * (1 << 20))
        (step / part / ".metadata").write_bytes(b"")
    (step.parent / "latest_checkpoint.txt").write_text("iter_000000010\n")
    view = backend.run_view(RUN)
    # Saves after the newest checkpoint (20..100), as `cosmos-tui ckpt forecast RUN` counts them.
    assert view.disk_verdict == "ok" and "9 more checkpoint(s)" in view.disk_message, view.disk_message

    registry.update(record.run_dir, lambda r: r.replace(status="finished", exit_code=0, ended_at=time.time()))
    view = backend.run_view(RUN)
    assert view.health == "finished" and view.eta_s is None
    assert backend.gpu_claims() == {}
    kinds = [k for batch_kinds, _ in shown for k in batch_kinds]
    assert kinds.count("low_disk") == 1 and kinds.count("finished") == 1
    assert all(bell for _, bell in shown)
    # The run's supervisor runs the [notify] command for its run's events; the TUI showing them
    # too must not deliver each a second time.
    assert backend._notifier is None and not received.exists()
    assert load_notify_config().bell is True


def test_a_run_whose_supervisor_died_is_delivered_by_the_tui_once(live_run, tmp_path: Path) -> None:
    record, rank_pid = live_run
    received = _notify_command_to_file(tmp_path)
    shown: list = []
    backend = Backend(announce=lambda events, bell: shown.append([e.kind for e in events]))
    assert backend.run_view(RUN).row.status == "running"
    for pid in (rank_pid, record.supervisor.pid):  # kill -9: nobody is left to say it ended
        psutil.Process(pid).kill()
    deadline = time.monotonic() + 20
    while backend.run_view(RUN).row.status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    for _ in range(3):
        backend.run_view(RUN)
    backend._notifier.join(10)  # the command runs in the background
    delivered = [json.loads(x) for x in received.read_text().splitlines()]
    assert [d["kind"] for d in delivered] == ["crashed"] and delivered[0]["run"] == RUN
    assert [k for kinds in shown for k in kinds].count("crashed") == 1


def test_ended_runs_never_announce(live_run) -> None:
    """A run that had ended before the backend saw it is read once and announces nothing."""
    record, _ = live_run
    registry.update(record.run_dir, lambda r: r.replace(status="failed", exit_code=-9, ended_at=time.time()))
    shown: list = []
    backend = Backend(
        gpu_sampler=GpuSampler(FakeNvml(init_error="driver")),
        disk_free=lambda path: 3 << 30,
        announce=lambda events, bell: shown.append(events),
    )
    view = backend.run_view(RUN)
    assert view.health == "crashed" and "OOM-KILL" in view.row.badges
    assert any("killed by SIGKILL" in f and "out-of-memory" in f for f in view.flags)
    assert backend.run_view(RUN) == view  # not polled again
    assert shown == []
    gpus = backend.gpus()
    assert not gpus.available and "driver is not loaded" in gpus.reason


def test_gpus_command_names_the_runs_on_each_device(live_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cosmos-tui gpus` matches NVML's pids to the running runs of the registry."""
    from typer.testing import CliRunner

    from cosmos_tui.cli.app import app
    from cosmos_tui.core.monitor import gpus as gpus_mod

    _, rank_pid = live_run
    nvml = FakeNvml(devices=[fake_device(0, processes=[(rank_pid, 1 << 30)]), fake_device(1)])
    monkeypatch.setattr(gpus_mod, "_default", GpuSampler(nvml))
    result = CliRunner().invoke(app, ["gpus", "--json"])
    assert result.exit_code == 0, result.output
    devices = json.loads(result.stdout)["devices"]
    assert devices[0]["runs"] == [RUN] and devices[0]["processes"][0]["run_id"] == RUN
    # No pid of the run on device 1, and the run's pids were seen elsewhere: not claimed.
    assert devices[1]["runs"] == []
    import io

    from rich.console import Console

    from cosmos_tui.cli.gpus import render_table
    from cosmos_tui.core.monitor.claims import claims_for
    from cosmos_tui.core.runs import list_runs

    wide = Console(width=240, record=True, file=io.StringIO())
    wide.print(render_table(gpus_mod.default_sampler().poll(claims_for(list_runs()))))
    assert RUN in wide.export_text()
