"""`cosmos-tui runs`: list, show, logs, stop, resume, rerun, rm. Every command reconciles the
records with the processes first, so what it shows is true now."""

from __future__ import annotations

import re
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
    warn,
)
from cosmos_tui.cli.preset import SetOption
from cosmos_tui.cli.runview import (
    duration_text,
    exit_code_for,
    follow_run,
    iteration_text,
    print_notes,
    resumed_text,
    shell_lines,
    status_text,
    when_text,
    where_text,
)
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core.display import printable
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.monitor.loggrep import with_context
from cosmos_tui.core.monitor.logline import shown_line
from cosmos_tui.core.monitor.logsearch import search_file
from cosmos_tui.core.monitor.logtail import last_lines
from cosmos_tui.core.monitor.samples import latest_line
from cosmos_tui.core.runs import (
    engine_view,
    get_run,
    list_runs,
    plan_removal,
    plan_resume,
    remove_run,
    rerun,
    resume_run,
    stop_run,
)
from cosmos_tui.core.runs.steps import summary
from cosmos_tui.core.units import human_bytes

if TYPE_CHECKING:
    from cosmos_tui.core.runs import Removal, RunRecord

RunArg = typer.Argument(..., help="Run id, a unique part of it, or `latest`.")


def _removal_json(plan: Removal, *, done: bool) -> dict:
    items = [{"path": str(i.path), "bytes": i.size_bytes, "why": i.why} for i in plan.delete]
    kept = [{"path": str(i.path), "bytes": i.size_bytes, "why": i.why} for i in plan.keep]
    return {
        "run": plan.run_id,
        "deleted" if done else "would_delete": [i["path"] for i in items],
        "delete": items,
        "keep": kept,
        "bytes": plan.size_bytes,
        "pointer": plan.pointer,
    }


def _print_removal(plan: Removal, *, done: bool) -> None:
    verb = "deleted" if done else "would delete"
    for item in plan.delete:
        info(f"{verb} {shown(item.path)} ({human_bytes(item.size_bytes)}): {shown(item.why)}")
    for item in plan.keep:
        size = f" ({human_bytes(item.size_bytes)})" if item.size_bytes else ""
        info(f"{'kept' if done else 'would keep'} {shown(item.path)}{size}: {shown(item.why)}")
    if plan.pointer is not None:
        target = plan.pointer or "(removed: no complete checkpoint is left)"
        info(f"{'pointed' if done else 'would point'} latest_checkpoint.txt at {target}")
    info(f"{'freed' if done else 'frees'} {human_bytes(plan.size_bytes)}")


runs_app = typer.Typer(
    help="Runs: list, show, follow logs, stop, resume, rerun, remove.", no_args_is_help=True
)


@runs_app.command("list")
def list_(
    active: bool = typer.Option(False, "--active", help="Only runs that are still going."),
    json: bool = JsonOption,
) -> None:
    """List runs, oldest first, with their current status."""

    records = [r for r in list_runs() if r.active or not active]
    if json:
        emit_json([r.to_dict() for r in records])
        return
    if not records:
        info("no runs yet; start one with `cosmos-tui run PRESET`")
        return
    # The id and status never wrap (a folded id reads as two runs). A narrow terminal gets the
    # columns that tell runs apart; `runs show ID` and --json have the rest.
    columns = (
        Col("ID", key=True),
        Col("STATUS", key=True),
        Col("EXPERIMENT", 1),
        Col("ITER", 5),
        Col("WHERE", 2),
        Col("STARTED", 3),
        Col("TIME", 4),
        Col("NOTE", 0, prose=True),
    )
    rows = []
    for r in records:
        flags = (r.health or {}).get(
            "flags"
        ) or []  # the status cell has their badges, here the first in words
        first = r.reason or (flags[0] if flags else "")
        note = first.splitlines()[0][:70] if first else ""
        # the status is markup of our own (its flags are escaped)
        rows.append(
            [
                shown(r.id),
                status_text(r, badges=True),
                shown(r.experiment),
                iteration_text(r),
                shown(where_text(r)),
                when_text(r.started_at),
                duration_text(r.duration),
                shown(note),
            ]
        )
    print_table(out, columns, rows, err)


@runs_app.command("show")
def show(run: str = RunArg, json: bool = JsonOption) -> None:
    """Everything recorded about one run."""

    r = get_run(run)
    if json:
        data = r.to_dict()
        data["parallelism"] = engine_view.parallelism(r)
        data["samples"] = [
            {"iteration": s.iteration, "images": [str(i.path) for i in s.images]}
            for s in engine_view.samples(r)
        ]
        emit_json(data)
        return
    out.print(f"[bold]{'id':>11}[/bold]  {shown(r.id)}")
    out.print(f"[bold]{'status':>11}[/bold]  {status_text(r)}")  # markup of our own, flags escaped
    rows = [
        ("reason", r.reason or "-"),
        ("experiment", f"{r.experiment} ({r.engine_kind}, world size {r.world_size})"),
        ("origin", f"{r.origin}" + (f" of {r.parent}" if r.parent else "")),
        ("iterations", iteration_text(r)),
        ("lineage", resumed_text(r)),
        (
            "checkpoints",
            ", ".join(r.checkpoints) if r.checkpoints else ("-" if r.checkpoints is not None else "?"),
        ),
        ("preset", r.preset_path or "-"),
        ("sets", " ".join(r.sets) or "-"),
        ("created", when_text(r.created_at)),
        ("started", when_text(r.started_at)),
        ("ended", when_text(r.ended_at)),
        ("duration", duration_text(r.duration)),
        ("where", where_text(r)),
        ("job dir", r.job_dir or "-"),
        ("run dir", str(r.run_dir)),
        *([("sbatch", r.slurm_script or "-")] if r.target == "slurm" else []),
        ("supervisor", f"pid {r.supervisor.pid}" if r.supervisor else "-"),
        ("torchrun", f"pid {r.agent.pid}" if r.agent else "-"),
        ("processes", ", ".join(f"{p.role} {p.pid}" for p in r.procs) or "-"),
        ("versions", ", ".join(f"{k} {v}" for k, v in r.versions.items() if v) or "-"),
    ]
    layout = engine_view.parallelism(r)
    if layout:
        rows.insert(3, ("parallel", layout))
    drawn = engine_view.samples(r)
    if drawn:
        rows.append(("samples", latest_line(drawn) or "-"))
    for key, value in rows:
        out.print(f"[bold]{key:>11}[/bold]  {shown(value)}")
    for step in r.steps:
        out.print(f"[bold]{'step ' + step.name:>11}[/bold]  {shown(summary(step))}")
    out.print(f"[bold]{'command':>11}[/bold]")
    for line in shell_lines(r.shell):
        out.print(printable(line), markup=False)
    for note in r.notes:
        out.print(f"[bold]{'note':>11}[/bold]  {shown(note)}", markup=True)


GREP_MAX = 10_000
"""``runs logs --grep`` prints at most this many matching lines unless -m says otherwise."""


@runs_app.command("logs")
def logs(
    run: str = RunArg,
    follow_: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends."),
    lines: int = typer.Option(50, "--lines", "-n", help="How many of the last lines to print first."),
    grep: str | None = typer.Option(
        None,
        "--grep",
        "-g",
        metavar="PATTERN",
        help="Search the whole log: print the lines containing PATTERN with their line numbers "
        "(exit 1 when none does, as grep).",
    ),
    ignore_case: bool = typer.Option(False, "--ignore-case", "-i", help="With --grep: ignore case."),
    regex: bool = typer.Option(
        False, "--regex", "-E", help="With --grep: PATTERN is a regular expression (Python syntax)."
    ),
    context: int = typer.Option(
        0,
        "--context",
        "-C",
        min=0,
        metavar="N",
        help="With --grep: also N lines before and after each match.",
    ),
    max_count: int = typer.Option(
        GREP_MAX, "--max-count", "-m", min=1, help="With --grep: print at most this many matching lines."
    ),
    json: bool = JsonOption,
) -> None:
    """Print the run's console output (torchrun and every rank), or with --grep the lines of the
    whole log that match."""

    if grep is None and (ignore_case or regex or context):
        raise UsageError("-i, --regex and -C go with --grep PATTERN; add --grep or drop them")
    if grep is not None:
        if follow_:
            raise UsageError("--grep searches the log as it is now; drop --follow (or pipe `-f` into grep)")
        _grep(
            get_run(run),
            grep,
            ignore_case=ignore_case,
            regex=regex,
            context=context,
            max_count=max_count,
            json=json,
        )
        return
    r = get_run(run)
    tail = last_lines(r.console_log, lines, max_bytes=max(64 << 10, lines * 512))
    if json:
        emit_json({"id": r.id, "status": r.status, "path": str(r.console_log), "lines": tail})
        return
    if not r.console_log.exists():
        info(f"no output yet ({shown(r.console_log)})")
    for line in tail:  # an engine's line never drives the terminal (escapes shown, not sent)
        out.print(shown_line(line), markup=False, highlight=False)
    if not follow_:
        return
    size = r.console_log.stat().st_size if r.console_log.exists() else 0
    try:
        final = follow_run(r, from_offset=size)
    except KeyboardInterrupt:
        info("stopped following; the run goes on")
        return
    info(
        f"run {shown(final.id)}: {status_text(final)}" + (f" — {shown(final.reason)}" if final.reason else "")
    )


def _grep(
    r: RunRecord, pattern: str, *, ignore_case: bool, regex: bool, context: int, max_count: int, json: bool
) -> None:
    """``runs logs --grep``: the matching lines of the whole console.log, numbered; exit 1 when none."""
    if not pattern:
        raise UsageError("--grep needs some text to search for")
    if "\n" in pattern:
        raise UsageError("--grep matches within one line; drop the line break from the pattern")
    if regex:
        try:
            re.compile(pattern)
        except re.error as e:
            raise UsageError(
                f"--grep {pattern!r} is not a valid regular expression ({e}); fix it or drop --regex"
            ) from None
    path = r.console_log
    if path.exists():
        found = search_file(path, pattern, regex=regex, ignore_case=ignore_case, max_hits=max_count)
        count, truncated = found.count, found.truncated
        groups = with_context(path, found.hits, context)
    else:
        count, truncated, groups = 0, False, []
    if json:
        emit_json(
            {
                "id": r.id,
                "path": str(path),
                "pattern": pattern,
                "count": count,
                "truncated": truncated,
                "groups": [
                    [{"line": ln.number, "text": ln.text, "match": ln.match} for ln in g] for g in groups
                ],
            }
        )
    else:
        if not path.exists():
            info(f"no output yet ({shown(path)})")
        for k, group in enumerate(groups):
            if context and k:
                out.print("--", markup=False, highlight=False)
            for ln in group:
                out.print(
                    f"{ln.number}{':' if ln.match else '-'}{ln.text}",  # shown_line'd by the search
                    markup=False,
                    highlight=False,
                )
        if truncated:
            info(f"{count} lines match; the first {max_count} are shown (raise --max-count for more)")
        elif not count:
            info(f"no line of {shown(path)} matches {shown(repr(pattern))}")
    if not count:
        raise typer.Exit(1)


@runs_app.command("stop")
def stop(
    run: str = RunArg,
    timeout: float = typer.Option(
        45.0, "--timeout", help="Seconds to wait after SIGTERM before SIGKILL (torchrun waits 30)."
    ),
    json: bool = JsonOption,
) -> None:
    """Stop a run: SIGTERM to its ranks (the engine saves and exits 0, and torchrun with it; torchrun
    itself when it has no ranks yet or restarts them), SIGKILL to leftovers after --timeout."""

    r = get_run(run)
    if r.active and not json:
        whom = f"Slurm job {r.slurm_job_id or '?'}" if r.target == "slurm" else "its ranks"
        info(f"stopping {shown(r.id)}: SIGTERM to {shown(whom)}, waiting up to {timeout:.0f} s for a save...")
    report = stop_run(r.id, timeout=timeout)
    if json:
        emit_json(
            {
                "record": report.record.to_dict(),
                "signalled": report.signalled,
                "killed": report.killed,
                "graceful": report.graceful,
                "gpu_note": report.gpu_note,
                "actions": report.actions,
            }
        )
        return
    if report.actions:
        for action in report.actions:
            info(action)
    else:
        names = ", ".join(f"{p.role} {p.pid}" for p in report.signalled) or "nothing (already gone)"
        info(f"sent SIGTERM to {shown(names)}")
    if report.killed:
        warn(
            f"{len(report.killed)} process(es) ignored SIGTERM and were killed: "
            + ", ".join(f"{p.role} {p.pid}" for p in report.killed)
        )
    info(shown(report.gpu_note))
    info(f"run {report.record.id}: {status_text(report.record)} — {shown(report.record.reason)}")


@runs_app.command("resume")
def resume(
    run: str = RunArg,
    sets: list[str] = SetOption,
    force: bool = typer.Option(
        False, "--force", help="Resume despite a world-size change or a missing checkpoint."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be restored; launch nothing."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Follow the new run's log."),
    json: bool = JsonOption,
) -> None:
    """Relaunch a stopped or failed run's job; the engine continues from its latest checkpoint."""

    plan = plan_resume(run, sets=sets, force=force)
    if dry_run:
        if json:
            emit_json({"run": plan.record.id, "notes": plan.notes, "job_dir": plan.record.job_dir})
        else:
            info(f"would resume {plan.record.id} in {shown(plan.record.job_dir)}")
            for note in plan.notes:
                info(f"  {shown(note)}")
        return
    new = resume_run(run, sets=sets, force=force)
    _started(new, json=json, follow=follow_)


@runs_app.command("rerun")
def rerun_(
    run: str = RunArg,
    sets: list[str] = SetOption,
    force: bool = typer.Option(False, "--force", help="Launch even if a preflight check fails."),
    follow_: bool = typer.Option(False, "--follow", "-f", help="Follow the new run's log."),
    resume_: bool = ResumeOption,
    fresh: bool = FreshOption,
    json: bool = JsonOption,
) -> None:
    """Start a new run with the same preset and overrides. When its job folder holds
    checkpoints, choose: --resume continues the job, --fresh starts over as a new job."""

    new = rerun(run, sets=sets, force=force, existing=existing_choice(resume_, fresh))  # type: ignore[arg-type]
    _started(new, json=json, follow=follow_)


@runs_app.command("rm")
def rm(
    run: str = RunArg,
    outputs: bool = typer.Option(
        False, "--outputs", help="Also delete the job folder: checkpoints, metrics, config."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Really delete."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be deleted; delete nothing."),
    json: bool = JsonOption,
) -> None:
    """Remove a run's record and logs; its checkpoints only with --outputs --yes."""

    plan = plan_removal(run, delete_outputs=outputs)
    if dry_run or not yes:
        if json:
            emit_json(_removal_json(plan, done=False))
        else:
            _print_removal(plan, done=False)
        if dry_run:
            return
        raise UserError(f"nothing deleted; pass --yes to remove run {plan.run_id}")
    done = remove_run(plan.run_id, delete_outputs=outputs)
    if json:
        emit_json(_removal_json(done, done=True))
        return
    _print_removal(done, done=True)


def _started(new: RunRecord, *, json: bool, follow: bool) -> None:
    if json and not follow:
        emit_json(new.to_dict())
        return
    err.print(f"started run [bold]{shown(new.id)}[/bold] ({new.origin} of {shown(new.parent)})")
    print_notes(new)
    if follow:
        final = follow_run(new, to_stderr=json)
        if json:
            emit_json(final.to_dict())
        raise typer.Exit(exit_code_for(final))
    info(f"follow it with `cosmos-tui runs logs -f {shown(new.id)}`")
