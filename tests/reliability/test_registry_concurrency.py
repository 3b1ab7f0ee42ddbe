"""Two CLIs and a UI writing the run registry at once: no corrupt or lost record.

Twenty records claim to be running, but their processes are gone. At the same time: two
``cosmos-tui runs list --json`` processes (each reconciles every record, writing ``lost``), the
real UI (a headless ``CosmosApp`` process, which reconciles as it polls), a UI-like writer process
appending notes through the registry, and this test appending notes too. Every record must end
whole, ``lost`` exactly once with its reason and end time, and carry every note.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosmos_tui.core.runs import registry
from cosmos_tui.core.runs.procs import ref_of
from cosmos_tui.core.runs.record import RunRecord

pytestmark = pytest.mark.timeout(120)

N_RUNS = 20
NOTES = 15

WRITER = """
import sys
from pathlib import Path
from cosmos_tui.core.runs import list_runs, registry
for i in range(int(sys.argv[1])):
    list_runs()
    for run_id in registry.run_ids():
        registry.update(registry.run_dir_for(run_id), lambda r, i=i: r.replace(notes=(*r.notes, f"ui{i}")))
"""
UI = "from cosmos_tui.tui.app import CosmosApp; CosmosApp().run(headless=True)"


def _dead_ref(role: str):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ref_of(proc.pid, role)
    proc.wait()
    return ref


def test_two_clis_and_a_ui_never_corrupt_or_lose_a_record(isolated_home: Path) -> None:
    sup, agent = _dead_ref("supervisor"), _dead_ref("agent")
    assert sup is not None and agent is not None
    ids = [f"20260101-0000{i:02d}-conc-{i:04x}" for i in range(N_RUNS)]
    for run_id in ids:
        registry.create(
            RunRecord(
                id=run_id,
                run_dir=registry.run_dir_for(run_id),
                preset={},
                status="running",
                created_at=time.time() - 3600,
                supervisor=sup,
                agent=agent,
            )
        )
    cli = [sys.executable, "-m", "cosmos_tui", "runs", "list", "--json"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "stdin": subprocess.DEVNULL}
    ui = subprocess.Popen([sys.executable, "-c", UI], **pipes)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(NOTES)], **pipes)
    clis = [subprocess.Popen(cli, **pipes) for _ in range(2)]
    for i in range(NOTES):
        for run_id in ids:
            registry.update(registry.run_dir_for(run_id), lambda r, i=i: r.replace(notes=(*r.notes, f"t{i}")))
    outputs = [p.communicate(timeout=90) for p in clis]
    _, w_err = writer.communicate(timeout=90)
    assert writer.returncode == 0, w_err.decode()[-2000:]
    ui.kill()
    ui.wait()
    for proc, (stdout, stderr) in zip(clis, outputs, strict=True):
        assert proc.returncode == 0, stderr.decode()[-2000:]
        listed = json.loads(stdout)
        assert sorted(r["id"] for r in listed) == ids
        assert b"Traceback" not in stderr
    for run_id in ids:
        run_dir = registry.run_dir_for(run_id)
        data = json.loads((run_dir / "run.json").read_text())  # whole, valid JSON
        assert data["status"] == "lost" and "ended without recording an exit code" in data["reason"]
        assert data["ended_at"] is not None
        notes = data["notes"]
        assert sorted(notes) == sorted([f"t{i}" for i in range(NOTES)] + [f"ui{i}" for i in range(NOTES)])
        assert not list(run_dir.glob(".*.tmp"))
