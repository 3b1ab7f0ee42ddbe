"""The readers' tables in a pipe at COLUMNS=80, as a script sees them (subprocess): every id whole on
one line, the table fitted by leaving columns out (said on stderr), and --json whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.runs import add_ended_run

LONG_RUN = "20260101-000000-a-very-long-experiment-name-for-a-run-0001"


def cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cosmos_tui", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _ids_whole(stdout: str, ids: list[str]) -> None:
    rows = stdout.splitlines()
    for key in ids:
        assert any(row.split() and row.split()[0] == key for row in rows), (key, stdout)


def _table_and_json(*args: str, key: str, code: int = 0) -> tuple[str, object]:
    """The command's table at 80 columns (exit ``code``, every ``key`` of its --json whole on a
    row of its own, no line over 80) and its --json."""
    res = cli(*args)
    assert res.returncode == code, res.stderr
    whole = json.loads(cli(*args, "--json").stdout)
    rows = whole["repos"] if isinstance(whole, dict) else whole
    _ids_whole(res.stdout, [r[key] for r in rows])
    assert all(len(line) <= 80 for line in res.stdout.splitlines()), res.stdout
    return res.stdout, whole


@pytest.fixture
def runs(tmp_path: Path) -> list[str]:
    job = tmp_path / "out" / "proj" / "group" / "a-job-name-long-enough-to-matter-here"
    (job / "checkpoints").mkdir(parents=True)
    ids = [LONG_RUN, "20260101-000001-short-0002"]
    for run_id in ids:
        add_ended_run(
            run_id,
            preset={"experiment": {"name": "s2mv_text2world_tiny"}},
            job_dir=str(job),
            reason="a long reason " * 10,
        )
    return ids


@pytest.mark.parametrize("columns", [80, 50])
def test_runs_list_keeps_ids_whole(runs: list[str], columns: int) -> None:
    res = cli("runs", "list", columns=columns)
    assert res.returncode == 0, res.stderr
    _ids_whole(res.stdout, runs)
    assert "left out at" in res.stderr and "--json has them" in res.stderr
    whole = json.loads(cli("runs", "list", "--json", columns=columns).stdout)
    assert [r["id"] for r in whole] == runs and all(r["reason"] and r["job_dir"] for r in whole)


def test_jobs_list_keeps_the_job_whole(runs: list[str]) -> None:
    res = cli("jobs", "list")
    assert res.returncode == 0, res.stderr
    assert "proj/group/a-job-name-long-enough-to-matter-here" in res.stdout
    assert all(len(line) <= 80 for line in res.stdout.splitlines()), res.stdout
    [job] = json.loads(cli("jobs", "list", "--json").stdout)
    assert job["runs"] == runs


def test_models_list_fits_80_and_tells_lookalikes_apart() -> None:
    stdout, whole = _table_and_json("models", "list", key="id")
    rows = [line.split()[1:] for line in stdout.splitlines()[1:]]
    # the builtin transfer models: singleview and multiview differ in what they train on
    by_id = {line.split()[0]: line for line in stdout.splitlines()[1:]}
    assert "transfer25-singleview" in by_id["builtin-transfer-singleview-tiny"]
    assert "transfer25-multiview-hdmap" in by_id["builtin-transfer-multiview-tiny"]
    builtin = [r for i, r in zip(by_id, rows, strict=True) if i.startswith("builtin-transfer")]
    assert len({tuple(r) for r in builtin}) == len(builtin), builtin  # no two rows read the same
    assert {"engine", "dataset_layout", "gpu_memory_gb"} <= set(whole[0])


def test_preset_list_keeps_names_whole() -> None:
    _, whole = _table_and_json("preset", "list", key="name")
    assert all(p["description"] for p in whole)


def test_hf_access_keeps_repo_ids_whole() -> None:
    # offline: every repo says so, exit 1
    _table_and_json("hf", "access", "transfer2.5-2b-edge", key="repo_id", code=1)
