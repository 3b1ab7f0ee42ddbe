"""Runs for tests: one poll loop for every test that launches real runs, one teardown that stops
what a failed test left running, one way to write a record of a run that has ended, as the
supervisor leaves it (no torchrun), and one to give a run a held-out loss and references."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cosmos_tui.core import reference
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


def measured_on(
    record: RunRecord,
    preset: Path,
    *,
    device: str,
    world_size: int,
    val_loss: Callable[[int], float],
    references: Sequence[reference.Measurement],
) -> list[dict]:
    """Make ``record``'s metrics say they were measured on ``device`` x ``world_size``, with a
    held-out loss (``val_loss(iteration)``) every third iteration, and launch it from ``preset``
    (written empty) whose references are ``references``; returns the metrics lines written."""
    metrics = Path(record.job_dir) / "metrics.jsonl"
    lines = [
        {
            **m,
            "device": device,
            "world_size": world_size,
            **({"val_loss": val_loss(m["iteration"])} if m["iteration"] % 3 == 0 else {}),
        }
        for m in map(json.loads, metrics.read_text().splitlines())
    ]
    metrics.write_text("".join(json.dumps(m) + "\n" for m in lines))
    preset.write_text("")
    path = reference.reference_path(preset)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(reference.References(preset.stem, tuple(references)).to_json()))
    registry.write(dataclasses.replace(record, preset_path=str(preset)))
    return lines
