"""`cosmos-tui run PRESET`: preflight, record, supervisor, then follow the log (or detach)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from cosmos_tui.cli.common import (
    FreshOption,
    JsonOption,
    ResumeOption,
    emit_json,
    err,
    existing_choice,
    info,
    out,
    shown,
)
from cosmos_tui.cli.preset import SetOption, load_with_sets
from cosmos_tui.cli.runview import exit_code_for, follow_run, print_notes, status_text
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.launch_multinode import for_node
from cosmos_tui.core.runs import launch_prepared, prepare, stop_run

if TYPE_CHECKING:
    from cosmos_tui.core.presets import Preset
    from cosmos_tui.core.runs import Prepared, RunRecord

TargetOption = typer.Option(
    None,
    "--target",
    help="Where it runs: local (default; with --nnodes, this node's share) or slurm (sbatch). "
    "Overrides launch.target.",
)


def with_scaleout(
    preset: Preset,
    target: str | None,
    nnodes: int | None,
    node_rank: int | None,
    rdzv_endpoint: str | None,
    rdzv_id: str | None,
) -> Preset:
    """``preset`` with the command line's --target and multi-node options applied."""

    if target is not None:
        if target not in ("local", "slurm"):
            raise UsageError(f"--target {target!r}: choose local or slurm")
        preset = preset.model_copy(deep=True)
        preset.launch.target = target
    if preset.launch.target == "slurm" and (node_rank is not None or rdzv_endpoint is not None):
        raise UsageError("--node-rank and --rdzv-endpoint are for runs started node by node; Slurm sets them")
    return for_node(preset, nnodes=nnodes, node_rank=node_rank, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id)


LEVEL_STYLE = {"ok": "[green]ok[/green]  ", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def run(
    preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
    sets: list[str] = SetOption,
    detach: bool = typer.Option(
        False, "--detach", "-d", help="Start the run and return; it goes on in the background."
    ),
    force: bool = typer.Option(False, "--force", help="Launch even if a preflight check fails."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Run the preflight checks and print the command; launch nothing (exit 1 if a check fails).",
    ),
    stop_on_interrupt: bool = typer.Option(
        False, "--stop-on-interrupt", help="Ctrl-C stops the run (default: Ctrl-C only detaches)."
    ),
    target: str | None = TargetOption,
    nnodes: int | None = typer.Option(
        None, "--nnodes", min=1, help="Nodes in the whole job (multi-node torchrun, or sbatch --nodes)."
    ),
    node_rank: int | None = typer.Option(
        None, "--node-rank", min=0, help="This node's rank (0 on the first node); run once per node."
    ),
    rdzv_endpoint: str | None = typer.Option(
        None, "--rdzv-endpoint", help="c10d rendezvous HOST:PORT on the first node (multi-node runs)."
    ),
    rdzv_id: str | None = typer.Option(
        None, "--rdzv-id", help="Rendezvous id shared by every node (default: derived from the preset)."
    ),
    resume: bool = ResumeOption,
    fresh: bool = FreshOption,
    json: bool = JsonOption,
) -> None:
    """Launch a run from a preset. Without --detach, follow its log and exit with its exit code;
    Ctrl-C then detaches (the run goes on) unless --stop-on-interrupt.

    Multi-node: run `cosmos-tui run PRESET --nnodes N --node-rank K --rdzv-endpoint HOST:PORT`
    on each node K. Slurm: `--target slurm` submits with sbatch (see `preset render --target
    slurm`).

    A job folder that already holds checkpoints is never resumed silently: pass --resume to
    continue it or --fresh to start over under a new job name."""

    base, path = load_with_sets(preset, sets)
    base = with_scaleout(base, target, nnodes, node_rank, rdzv_endpoint, rdzv_id)
    prepared = prepare(base, existing=existing_choice(resume, fresh))  # type: ignore[arg-type]
    if not json or dry_run:
        for check in prepared.checks:
            line = f"{LEVEL_STYLE[check.level]} {check.name:<8} {shown(check.message)}"
            err.print(line, highlight=False)
    if dry_run:
        _print_dry_run(prepared, json)
        if any(c.level == "fail" for c in prepared.checks):
            raise typer.Exit(1)  # what it printed would be refused (or die) at launch
        return
    record = launch_prepared(prepared, base=base, preset_path=path, sets=sets, force=force)
    if json and detach:
        emit_json(record.to_dict())
        return
    err.print(f"started run [bold]{record.id}[/bold]; job folder {shown(record.job_dir or 'unknown')}")
    if record.slurm_job_id:
        info(f"submitted Slurm job {record.slurm_job_id}; its output goes to {shown(record.console_log)}")
    elif record.nnodes > 1:
        info(f"node {record.node_rank} of {record.nnodes} in job {record.job_id}")
    print_notes(record)
    if detach:
        info(f"follow: cosmos-tui runs logs -f {record.id}   stop: cosmos-tui runs stop {record.id}")
        return
    _follow(record, json=json, stop_on_interrupt=stop_on_interrupt)


def _print_dry_run(prepared: Prepared, json: bool) -> None:
    """What ``run --dry-run`` prints: the launch as JSON, the sbatch script, or the command."""
    if json:
        emit_json(
            {
                "argv": list(prepared.spec.argv),
                "env": prepared.spec.env,
                "cwd": str(prepared.spec.cwd),
                "job_dir": str(prepared.job_dir) if prepared.job_dir else None,
                "checks": list(prepared.checks),
                "target": prepared.preset.launch.target,
                "sbatch": prepared.sbatch,
            }
        )
    elif prepared.sbatch is not None:
        sys.stdout.write(prepared.sbatch)
    else:
        out.print(prepared.spec.shell(multiline=True), markup=False)


def _follow(record: RunRecord, *, json: bool, stop_on_interrupt: bool) -> None:
    """Follow a started run's log to its end and exit with its code; Ctrl-C detaches, or stops it
    with ``stop_on_interrupt``."""

    try:
        final = follow_run(record, to_stderr=json)
    except KeyboardInterrupt:
        if stop_on_interrupt:
            info(f"\nstopping {record.id} (the engine saves first)...")
            report = stop_run(record.id)
            info(f"run {record.id}: {status_text(report.record)} — {shown(report.record.reason)}")
            if json:
                emit_json(report.record.to_dict())
            raise typer.Exit(exit_code_for(report.record)) from None
        info(
            f"\ndetached; run {record.id} goes on. Reattach: cosmos-tui runs logs -f {record.id}   "
            f"stop: cosmos-tui runs stop {record.id}"
        )
        return
    info(f"run {final.id}: {status_text(final)}" + (f" — {shown(final.reason)}" if final.reason else ""))
    if json:
        emit_json(final.to_dict())
    raise typer.Exit(exit_code_for(final))
