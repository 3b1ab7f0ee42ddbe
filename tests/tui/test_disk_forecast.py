"""The dashboard's disk forecast and ``cosmos-tui ckpt forecast RUN`` give the same figure for the
same run: both are core's ``forecast_run`` with the run's settings (its launch overrides first,
then the job's config.yaml) and every checkpoint of its job."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tui_world import FREE_DISK, RUN_OK, write_run
from typer.testing import CliRunner

from cosmos_tui.cli.app import app as cli_app
from cosmos_tui.tui.backend import Backend

COUNT = re.compile(r"(\d+) more checkpoint")


@pytest.fixture
def live_resume(monkeypatch: pytest.MonkeyPatch):
    """A running run whose preset sets trainer.max_iter=300 while the job's config.yaml (an
    earlier run's) still says 3000; checkpoints at 100 and 200, the log at iteration 300."""
    record = write_run(
        RUN_OK, status="running", iters=300, max_iter=300, exit_code=None, checkpoints=(100, 200)
    )
    job = Path(record.job_dir)
    (job / "config.yaml").write_text("trainer:\n  max_iter: 3000\ncheckpoint:\n  save_iter: 100\n")
    # The record stays "running" without a supervisor process (reconcile is core's, tested there).
    monkeypatch.setattr("cosmos_tui.core.runs.targets.reconcile", lambda r: r)
    return record


def test_dashboard_forecast_matches_the_cli(live_resume) -> None:
    backend = Backend(clock=lambda: 0.0, disk_free=lambda path: FREE_DISK)
    view = backend.run_view(RUN_OK)
    assert view.disk_message is not None, view
    tui = COUNT.search(view.disk_message)
    assert tui, view.disk_message

    res = CliRunner().invoke(cli_app, ["ckpt", "forecast", RUN_OK, "--json"])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.stdout)
    cli_count = COUNT.search(cli["message"])
    assert cli_count, cli["message"]
    assert int(tui.group(1)) == int(cli_count.group(1)) == cli["saves_remaining"] == 1  # the save at 300
    assert view.disk_verdict == cli["verdict"] == "ok"


def test_the_cli_on_a_job_folder_reads_its_config(live_resume) -> None:
    """A job folder (no run named) has only its config.yaml to go by."""
    res = CliRunner().invoke(cli_app, ["ckpt", "forecast", live_resume.job_dir, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["saves_remaining"] == 28
