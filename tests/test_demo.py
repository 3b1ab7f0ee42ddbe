"""The walking skeleton: `cosmos-tui demo --headless` end to end, as a user runs it (no TTY)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_headless_trains_and_checkpoints(isolated_home: Path) -> None:
    cmd = [sys.executable, "-m", "cosmos_tui", "demo", "--headless", "--json"]
    proc = subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "finished" and result["exit_code"] == 0
    job_dir = Path(result["job_dir"])
    assert result["checkpoints"] == ["iter_000000005", "iter_000000010"]
    latest = job_dir / "checkpoints" / "iter_000000010"
    for part in ("model", "optim", "scheduler", "trainer"):
        assert (latest / part / ".metadata").is_file(), part
    assert (job_dir / "checkpoints" / "latest_checkpoint.txt").read_text().strip() == "iter_000000010"
    metrics = [json.loads(line) for line in (job_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["iteration"] for m in metrics] == list(range(1, 11))
    # Progress reached the person: iteration lines on stderr, the run id on stdout.
    assert "iteration    10/10" in proc.stderr
    assert result["run_id"] in proc.stderr
    # The run record outlives the command and says how it ended.
    record = json.loads((isolated_home / "state" / "runs" / result["run_id"] / "run.json").read_text())
    assert record["status"] == "finished" and record["exit_code"] == 0
    # The run id is enough to reach its checkpoints.
    listed = subprocess.run(
        [sys.executable, "-m", "cosmos_tui", "ckpt", "list", result["run_id"][:15], "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    rows = rows["checkpoints"] if isinstance(rows, dict) else rows
    assert [r["iteration"] for r in rows] == [5, 10]
    assert all(r["complete"] for r in rows)
