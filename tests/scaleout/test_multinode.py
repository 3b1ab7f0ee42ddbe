"""A real two-node torchrun job on 127.0.0.1: two `cosmos-tui run --nnodes 2 --node-rank K
--rdzv-endpoint 127.0.0.1:PORT` (two torchrun agents meeting through c10d, one CPU/gloo rank
each) train the tiny builtin model and write one checkpoint holding both ranks' shards."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.ports import free_port
from support.runs import ONE_QUIET_RANK, set_args
from support.waymo import synth_waymo
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.runs import get_run
from cosmos_tui.core.runs.resume import latest_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FAST = [*ONE_QUIET_RANK, "trainer.max_iter=2", "checkpoint.save_iter=2"]


def test_two_nodes_meet_through_c10d_train_and_checkpoint(tmp_path: Path) -> None:
    waymo = synth_waymo(tmp_path / "waymo")
    endpoint = f"127.0.0.1:{free_port()}"
    sets = set_args([f"data.root={waymo}", *FAST])
    runner = CliRunner()
    ids = []
    for rank in (0, 1):
        node = ["--nnodes", "2", "--node-rank", str(rank), "--rdzv-endpoint", endpoint]
        result = runner.invoke(app, ["run", "builtin-demo", *sets, *node, "--detach", "--json"])
        assert result.exit_code == 0, result.output
        ids.append(json.loads(result.stdout)["id"])
    deadline = time.monotonic() + 150
    records = [get_run(i) for i in ids]
    while any(r.active for r in records) and time.monotonic() < deadline:
        time.sleep(0.5)
        records = [get_run(i) for i in ids]
    for r in records:
        log = r.console_log.read_text(errors="replace")[-3000:] if r.console_log.exists() else ""
        assert r.status == "finished" and r.exit_code == 0, f"{r.id}: {r.status} {r.reason}\n{log}"
    first, second = records
    assert first.job_id and first.job_id == second.job_id
    assert (first.node_rank, second.node_rank) == (0, 1)
    assert first.nnodes == second.nnodes == 2 and first.world_size == 2
    assert first.job_dir == second.job_dir
    assert "--rdzv_backend" in first.argv and endpoint in first.argv
    point = latest_checkpoint(Path(first.job_dir or ""))
    assert point is not None and point.iteration == 2 and all(point.states[k] for k in ("model", "optimizer"))
    shards = sorted(p.name for p in (point.path / "model").glob("*.distcp"))
    assert shards == ["__0_0.distcp", "__1_0.distcp"]  # one shard per rank: one rank on each node
    logs = "\n".join(r.console_log.read_text(errors="replace") for r in records)
    assert "Iteration 2" in logs
    listed = {r["id"]: r for r in json.loads(CliRunner().invoke(app, ["runs", "list", "--json"]).stdout)}
    assert [(listed[i]["job_id"], listed[i]["node_rank"]) for i in ids] == [
        (first.job_id, 0),
        (first.job_id, 1),
    ]
    shown = CliRunner().invoke(app, ["runs", "show", second.id])
    assert shown.exit_code == 0 and f"node 1/2 {first.job_id}" in shown.stdout
