"""Runs: the registry on disk, the supervisor that owns torchrun, and the lifecycle around them.

Public API (the CLI, the TUI, the demo and the upstream adapters use these)::

    start_run(preset, *, preset_path=None, sets=(), detach=True) -> RunRecord
    list_runs(reconcile=True) -> list[RunRecord]
    get_run(run_id_or_prefix) -> RunRecord
    reconcile(record) -> RunRecord
    stop_run(run_id, timeout=45.0) -> StopReport
    resume_run(run_id) -> RunRecord
    rerun(run_id) -> RunRecord
    remove_run(run_id, delete_outputs=False) -> Removal
    follow(record, from_offset=0) -> Iterator[str]
"""

from cosmos_tui.core.runs.follow import follow
from cosmos_tui.core.runs.lifecycle import (
    Removal,
    ResumePlan,
    get_run,
    launch_prepared,
    list_runs,
    plan_removal,
    plan_resume,
    prepare,
    reconcile,
    remove_run,
    rerun,
    resume_run,
    start_run,
    stop_run,
)
from cosmos_tui.core.runs.record import ACTIVE, TERMINAL, ProcRef, RunRecord
from cosmos_tui.core.runs.targets import Prepared, StopReport

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Prepared",
    "ProcRef",
    "Removal",
    "ResumePlan",
    "RunRecord",
    "StopReport",
    "follow",
    "get_run",
    "launch_prepared",
    "list_runs",
    "plan_removal",
    "plan_resume",
    "prepare",
    "reconcile",
    "remove_run",
    "rerun",
    "resume_run",
    "start_run",
    "stop_run",
]
