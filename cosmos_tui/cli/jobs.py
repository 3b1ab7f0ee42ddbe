"""`cosmos-tui jobs`: job folders and the runs on each, with lineage and the whole curve."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown
from cosmos_tui.cli.runview import status_text
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core.runs.jobs import Job, Segment, get_job, job_history, list_jobs
from cosmos_tui.core.units import human_bytes

jobs_app = typer.Typer(help="Jobs: the output folders runs write and resume, with every run on each.")

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 40) -> str:
    """The values as a row of block characters (finite values only; scaled to their range)."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if not finite:
        return ""
    step = max(1, len(finite) // width)
    picked = finite[::step][:width]
    low, high = min(picked), max(picked)
    span = (high - low) or 1.0
    return "".join(BARS[min(len(BARS) - 1, int((v - low) / span * (len(BARS) - 1)))] for v in picked)


def _range(seg: Segment) -> str:
    if seg.last_iteration is None:
        return "never trained"
    start = 0 if seg.start_iteration is None else seg.start_iteration
    return f"{start} → {seg.last_iteration}"


def _job_json(job: Job, segments: list[Segment] | None = None) -> dict:
    data = {
        "job": str(job.path),
        "name": job.name,
        "runs": [r.id for r in job.runs],
        "holder": None if job.holder is None else job.holder.run_id,
        "checkpoints": [
            {
                "name": c.path.name,
                "iteration": c.iteration,
                "complete": c.complete,
                "bytes": c.size_bytes,
                "run": (w.id if (w := job.writer(c.path.name)) else None),
            }
            for c in job.checkpoints
        ],
    }
    if segments is not None:
        data["segments"] = [
            {
                "run": s.run.id,
                "status": s.run.status,
                "origin": s.run.origin,
                "parent": s.run.parent,
                "resumed_from": s.run.resumed_from,
                "start_iteration": s.start_iteration,
                "last_iteration": s.last_iteration,
                "checkpoints": list(s.checkpoints),
                "loss": [[x.iteration, x.loss] for x in s.samples],
            }
            for s in segments
        ]
    return data


@jobs_app.command("list")
def list_(json: bool = JsonOption) -> None:
    """Every job with a run: its runs, its newest run's status and who holds it."""

    found = list_jobs()
    if json:
        emit_json([_job_json(j) for j in found])
        return
    if not found:
        info("no jobs yet; a job appears with its first run (`cosmos-tui run PRESET`)")
        return
    columns = (
        Col("JOB", key=True),
        Col("RUNS", 2),
        Col("LATEST", 3),
        Col("STATUS", 4),
        Col("CHECKPOINTS", 1),
        Col("HELD BY", 0),
    )
    rows = []
    for job in found:
        done = [c for c in job.checkpoints if c.complete]
        ckpts = f"{len(done)} (last {done[-1].iteration})" if done else "0"
        holder = job.holder.run_id if job.holder else "-"
        rows.append(
            [
                shown(job.name),
                str(len(job.runs)),
                shown(job.latest.id),
                status_text(job.latest),
                ckpts,
                holder,
            ]
        )
    print_table(out, columns, rows, err)


@jobs_app.command("show")
def show(
    job: str = typer.Argument(
        ..., help="Job folder, a run of it (id, part of it, `latest`), or part of its name."
    ),
    json: bool = JsonOption,
) -> None:
    """One job: each run's iteration range and lineage, its checkpoints and who wrote them, and
    the loss across its runs with the run boundaries marked."""

    found = get_job(job)
    segments = job_history(found)
    if json:
        emit_json(_job_json(found, segments))
        return
    out.print(f"[bold]job[/bold] {shown(str(found.path))}")
    if found.holder:
        out.print(f"[bold]held by[/bold] {shown(found.holder.describe())}")
    for n, seg in enumerate(segments, 1):
        came = f"; {seg.resumed}" if seg.resumed else ""
        out.print(
            f"[bold]run {n}[/bold] {seg.run.id}  {status_text(seg.run)}  iterations {_range(seg)}{came}"
        )
        if seg.samples:
            first, last = seg.samples[0], seg.samples[-1]
            line = sparkline([s.loss for s in seg.samples])
            out.print(f"    loss {first.loss:.4g} → {last.loss:.4g}  {line}", highlight=False)
        if seg.checkpoints:
            out.print(f"    wrote {', '.join(seg.checkpoints)}")
    if found.checkpoints:
        out.print("[bold]checkpoints[/bold]")
        for c in found.checkpoints:
            writer = found.writer(c.path.name)
            state = "complete" if c.complete else "INCOMPLETE"
            by = f"by {writer.id}" if writer else "by no run cosmos-tui knows"
            out.print(f"    {c.path.name}  {state}  {human_bytes(c.size_bytes)}  {by}")
