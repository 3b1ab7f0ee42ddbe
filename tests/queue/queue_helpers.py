"""Helpers of the queue tests: the CLI in-process, the dispatcher as a real process, the tiniest
real runs of the builtin engine (1 process, 1 iteration, no checkpoint, no W&B)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from support.runs import stop_leftovers
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.queue import store
from cosmos_tui.core.runs import list_runs
from cosmos_tui.core.runs.record import RunRecord


def tiny_sets(data: Path, name: str) -> list[str]:
    """``--set`` items of the tiniest real run of ``builtin-demo`` under job ``name``."""
    items = [
        f"data.root={data}",
        "wandb.mode=disabled",
        "dataloader_train.num_workers=0",
        "launch.nproc_per_node=1",
        "trainer.max_iter=1",
        "checkpoint.save_iter=1000",
        "trainer.val_every=1000",
        f"job.name={name}",
    ]
    return [x for item in items for x in ("--set", item)]


def cli(*args: str, code: int = 0) -> str:
    """Run ``cosmos-tui ARGS`` in-process; its stdout (asserts the exit code)."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    return result.stdout


def cli_err(*args: str, code: int) -> str:
    """``cosmos-tui ARGS`` that must fail with ``code``; its stderr."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.output)
    return result.stderr


def add_paused(data: Path, name: str, *extra: str) -> str:
    """Queue one tiny run (the queue is paused, so nothing starts); its entry id."""
    out = cli("queue", "add", "builtin-demo", *tiny_sets(data, name), *extra, "--json")
    return json.loads(out)["id"]


def dispatcher(env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -m cosmos_tui.core.queue.dispatch`` as a real process (own session)."""
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "cosmos_tui.core.queue.dispatch"],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_exit(proc: subprocess.Popen, timeout: float = 50.0) -> int:
    """The process's exit code (it must end within ``timeout``)."""
    return proc.wait(timeout=timeout)


def wait_runs_done(timeout: float = 50.0) -> list[RunRecord]:
    """Wait until no run of this state root is active; every record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list_runs()
        if not any(r.active for r in runs):
            return runs
        time.sleep(0.3)
    raise AssertionError(f"runs still active after {timeout}s: {[r.id for r in list_runs() if r.active]}")


def runs_of(entry_id: str) -> list[RunRecord]:
    """Every run record that names the entry."""
    return [r for r in list_runs(reconcile=False) if r.queue_entry == entry_id]


def stop_all() -> None:
    """Teardown: pause the queue and stop what still runs."""
    store.set_paused(True)
    stop_leftovers()
