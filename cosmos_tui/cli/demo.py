"""`cosmos-tui demo`: the whole flow on the embedded default (synthetic data, builtin engine, CPU)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown
from cosmos_tui.cli.runview import iteration_text
from cosmos_tui.core import demo as core_demo
from cosmos_tui.core.monitor.logline import looks_like_error, shown_line
from cosmos_tui.core.runs import get_run

if TYPE_CHECKING:
    from cosmos_tui.core.runs import RunRecord


def demo(
    headless: bool = typer.Option(
        False, "--headless", help="Rich output instead of the TUI dashboard (implied when there is no TTY)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Synthesize a tiny multiview dataset, train the builtin engine on it under real
    `torchrun --nproc_per_node=2` (CPU/gloo without a GPU) with checkpoints, and show progress.

    Prints the run id, its status, iterations, checkpoints and job folder, and exits 0 when the
    run finished with a checkpoint, 1 when it did not. On a terminal it opens the dashboard; once
    you leave it (q) it prints the same summary, with how to reattach or stop a run still going,
    and exits 0 while the run goes on, finished or was stopped, 1 when it failed.
    """

    if not (headless or json_out) and _interactive():
        record = core_demo.start_demo()
        from cosmos_tui.tui.app import run_app  # deferred: textual, the TUI loads only when it is opened

        run_app(initial_run_id=record.id)
        raise typer.Exit(after_tui(record.id))

    err.print("[bold]cosmos-tui demo[/bold]: synthetic Predict1 Waymo dataset, builtin engine, 2 ranks")
    data = core_demo.ensure_dataset()
    err.print(f"dataset      {data}")
    record = core_demo.start_demo(data)
    err.print(f"run          {record.id}")
    err.print(f"command      {' '.join(record.argv)}")
    total = core_demo.max_iter(record)

    for line, sample in core_demo.follow_progress(record.id):
        if sample is None:
            if looks_like_error(line):
                err.print(shown_line(line), markup=False, style="dim")
            continue
        of = f"/{total}" if total else ""
        speed = f"  {sample.sec_per_iter:.2f} s/it" if sample.sec_per_iter else ""
        lr = f"  lr {sample.rates.lr:.2e}" if sample.rates.lr is not None else ""
        err.print(f"iteration    {sample.iteration}{of}  loss {sample.loss:.4f}{lr}{speed}")

    result = core_demo.finish(record.id)
    if json_out:
        emit_json(result)
    else:
        print_summary(result, get_run(record.id))
    if not result.ok:
        _failed(result)
        raise typer.Exit(1)


def _interactive() -> bool:
    """Both ends are a terminal: the demo opens the TUI dashboard."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def print_summary(result: core_demo.DemoResult, record: RunRecord) -> None:
    """The demo's outcome on stdout, and on stderr what to do next with its run."""
    status = f"{result.status}" + (f" (exit code {result.exit_code})" if result.exit_code is not None else "")
    out.print(f"run_id       {shown(result.run_id)}")
    out.print(f"status       {status}")
    out.print(
        f"iterations   {iteration_text(record)}"
        + (
            f" of {core_demo.max_iter(record)}"
            if core_demo.max_iter(record) and record.last_iteration is not None
            else ""
        )
    )
    out.print(f"checkpoints  {', '.join(result.checkpoints) or 'none'}")
    out.print(f"job_dir      {shown(result.job_dir or '-')}")
    if record.active:
        info(
            f"the demo run goes on without the UI; reattach: `cosmos-tui` (its dashboard) or "
            f"`cosmos-tui runs logs -f {result.run_id}`   stop: `cosmos-tui runs stop {result.run_id}`"
        )


def after_tui(run_id: str) -> int:
    """Once the person has left the TUI: the run's summary, and the exit code it deserves: 0 while
    it still runs or when it finished with a checkpoint or was stopped, 1 when it failed."""
    record = get_run(run_id)  # reconciled: a run that died with the UI reads as lost, not running
    result = core_demo.finish(run_id)
    print_summary(result, record)
    if record.active or result.ok or record.status == "stopped":
        return 0
    _failed(result)
    return 1


def _failed(result: core_demo.DemoResult) -> None:
    why = shown(result.reason or "the run did not finish with a checkpoint")
    err.print(f"[red]demo failed:[/red] {why}; `cosmos-tui runs logs {result.run_id}` shows its log")
