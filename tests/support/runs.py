"""Waiting on a run: one poll loop for every test that launches real runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from cosmos_tui.core.runs import RunRecord, get_run


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
