"""`cosmos-tui demo`: the whole flow on the embedded default (synthetic data, builtin engine, CPU)."""

from __future__ import annotations

import sys

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, out
from cosmos_tui.core import demo as core_demo
from cosmos_tui.core.monitor.logline import looks_like_error


def demo(
    headless: bool = typer.Option(
        False, "--headless", help="Rich output instead of the TUI dashboard (implied when there is no TTY)."
    ),
    json_out: bool = JsonOption,
) -> None:
    """Synthesize a tiny multiview dataset, train the builtin engine on it under real
    `torchrun --nproc_per_node=2` (CPU/gloo without a GPU) with checkpoints, and show progress.

    Exits 0 when the run finished and wrote a checkpoint; prints the run id, the job output
    folder and the checkpoints written.
    """

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not (headless or json_out) and interactive:
        record = core_demo.start_demo()
        from cosmos_tui.tui.app import run_app  # deferred: textual, the TUI loads only when it is opened

        run_app(initial_run_id=record.id)
        err.print(f"The demo run {record.id} goes on without the UI: `cosmos-tui runs show {record.id}`.")
        return

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
                err.print(line, markup=False, style="dim")
            continue
        of = f"/{total}" if total else ""
        speed = f"  {sample.sec_per_iter:.2f} s/it" if sample.sec_per_iter else ""
        lr = f"  lr {sample.rates.lr:.2e}" if sample.rates.lr is not None else ""
        err.print(f"iteration    {sample.iteration}{of}  loss {sample.loss:.4f}{lr}{speed}")

    result = core_demo.finish(record.id)
    if json_out:
        emit_json(result)
    else:
        out.print(f"run_id       {result.run_id}")
        out.print(f"status       {result.status} (exit code {result.exit_code})")
        out.print(f"job_dir      {result.job_dir}")
        out.print(f"checkpoints  {', '.join(result.checkpoints) or 'none'}")
    if not result.ok:
        why = result.reason or "the run did not finish with a checkpoint"
        err.print(f"[red]demo failed:[/red] {why}; `cosmos-tui runs logs {result.run_id}` shows its log")
        raise typer.Exit(1)
