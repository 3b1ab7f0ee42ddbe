"""Runs for tests: one poll loop for every test that launches real runs, one teardown that stops
what a failed test left running, and one way to write a record of a run that has ended, as the
supervisor leaves it (no torchrun)."""

from __future__ import annotations

import time
from collections.abc import Callable

from cosmos_tui.core.runs import RunRecord, get_run, list_runs, registry, stop_run


def wait_run(
    run_id: str,
    predicate: Callable[[RunRecord], bool],
    timeout: float = 90.0,
    context: Callable[[], str] | None = None,
) -> RunRecord:
    """Poll the reconciled record until ``predicate`` holds; on timeout, fail with the run's status,
    reason, the end of its console log and ``context()`` (a cluster's log, say)."""
    deadline = time.monotonic() + timeout
    while True:
        record = get_run(run_id)
        if predicate(record):
            return record
        if time.monotonic() > deadline:
            log = record.console_log
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            extra = f"\n{context()}" if context else ""
            status = f"run {run_id} is {record.status}: {record.reason}"
            raise AssertionError(f"timed out after {timeout:.0f} s; {status}\n{tail}{extra}")
        time.sleep(0.1)


def stop_leftovers() -> None:
    """Stop every run of this state root that is still active (teardown after a failed test)."""
    for record in list_runs():
        if record.active:
            try:
                stop_run(record.id, timeout=20)
            except Exception:
                pass


def add_ended_run(run_id: str, status: str = "finished", **fields: object) -> RunRecord:
    """Write the first record of run ``run_id`` in the registry: ended with ``status`` (exit 0
    unless ``fields`` say otherwise), with no preset unless ``fields`` give one."""
    fields = {"preset": {}, "exit_code": 0, **fields}
    return registry.create(
        RunRecord(id=run_id, run_dir=registry.run_dir_for(run_id), status=status, **fields)
    )


ONE_QUIET_RANK = ["launch.nproc_per_node=1", "wandb.mode=disabled", "dataloader_train.num_workers=0"]
"""The ``--set`` items of a small local run: one rank, no W&B, no loader workers."""


def set_args(sets: list[str]) -> list[str]:
    """``sets`` as ``--set`` options for ``cosmos-tui run``."""
    return [arg for item in sets for arg in ("--set", item)]
