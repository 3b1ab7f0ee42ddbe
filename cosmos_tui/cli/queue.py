"""`cosmos-tui queue ...` and `cosmos-tui sweep ...`: runs that wait for their GPUs or slots."""

from __future__ import annotations

import time

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
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.queue import store
from cosmos_tui.core.queue import sweep as sweeps
from cosmos_tui.core.queue.dispatch import ensure_dispatcher, reconcile, running_dispatcher
from cosmos_tui.core.queue.enqueue import enqueue, load_for_queue, machine_gpus, same_job_waiting
from cosmos_tui.core.queue.store import QueueEntry
from cosmos_tui.core.queue.view import queue_rows

queue_app = typer.Typer(
    help="The run queue: runs that wait until their GPU set (or CPU slots) is free, then start as "
    "ordinary runs. Slurm runs are queued by Slurm, not here.",
    no_args_is_help=True,
)

GpusOption = typer.Option(
    None,
    "--gpus",
    help="GPUs it needs: a set (0-3, 4, 0,2) or any free ones (any = launch.nproc_per_node of them, "
    "any:N). Default on a GPU machine: any. Not on a machine without GPUs (use --slots).",
)
SlotsOption = typer.Option(
    1, "--slots", min=1, help="Slots it takes on a machine without GPUs ([queue] slots)."
)
PriorityOption = typer.Option(0, "--priority", help="Higher starts first (default 0).")
TargetOption = typer.Option(None, "--target", help="local (queued here) or slurm (refused: Slurm queues it).")


def _public(entry: QueueEntry) -> dict:
    """The entry as ``--json`` prints it: without the queuing shell's environment (it is kept in
    the entry's 0600 file; printing it would put every variable on stdout)."""
    data = entry.to_dict()
    data["environ"] = f"{len(entry.environ)} variables (kept in the entry file)"
    return data


def _started_note(started: bool) -> None:
    if started:
        info("the queue's dispatcher started; `cosmos-tui queue list` shows where each entry stands")
    elif store.paused():
        info("the queue is paused: `cosmos-tui queue resume` starts it")


@queue_app.command("add")
def add(
    preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
    sets: list[str] = SetOption,
    gpus: str | None = GpusOption,
    slots: int = SlotsOption,
    priority: int = PriorityOption,
    target: str | None = TargetOption,
    resume: bool = ResumeOption,
    fresh: bool = FreshOption,
    force: bool = typer.Option(
        False, "--force", help="Launch even if a preflight check fails (as run --force)."
    ),
    json: bool = JsonOption,
) -> None:
    """Queue a run of PRESET: it starts, as `cosmos-tui run PRESET --set ...` would (same preflight
    and guarantees), once its GPUs or slots are free and the entries before it have started."""
    existing = existing_choice(resume, fresh)
    base, path = load_for_queue(preset, sets, target)
    entry = enqueue(
        base,
        preset_ref=preset,
        preset_path=path,
        sets=sets,
        gpus=gpus,
        slots=slots,
        priority=priority,
        existing=existing,  # type: ignore[arg-type]
        force=force,
    )
    started = ensure_dispatcher()
    if json:
        emit_json(_public(entry))
        return
    err.print(f"queued [bold]{entry.id}[/bold] ({shown(entry.gpus or f'{entry.slots} slot(s)')})")
    for other in same_job_waiting(entry):
        warn(
            f"{other} waits for the same job folder; when its turn comes this one finds that job "
            "busy or holding checkpoints (and fails unless queued with --resume or --fresh)"
        )
    _started_note(started)


@queue_app.command("list")
def list_(
    all_: bool = typer.Option(
        False, "--all", "-a", help="Also entries that started, failed or were cancelled."
    ),
    json: bool = JsonOption,
) -> None:
    """Waiting entries in the order they start (position, priority, what each waits for)."""
    rows = [
        {**_public(r.entry), "position": r.position, "wait": r.wait} for r in queue_rows(include_done=True)
    ]
    for problem in store.damaged():
        err.print(f"[yellow]warn[/yellow] {shown(problem)}")
    if not all_:
        rows = [r for r in rows if r["state"] in store.WAITING]
    if json:
        emit_json({"paused": store.paused(), "dispatcher": running_dispatcher(), "entries": rows})
        return
    if store.paused():
        info("the queue is paused: nothing new starts (cosmos-tui queue resume)")
    if not rows:
        info("the queue is empty" + ("" if all_ else " (--all lists entries that started)"))
        return
    columns = [
        Col("#", key=True, justify="right"),
        Col("ENTRY", key=True),
        Col("STATE", keep=9),
        Col("PRI", keep=5, justify="right"),
        Col("NEEDS", keep=7),
        Col("PRESET", keep=4),
        Col("RUN / WAITS FOR", keep=8, prose=True),
    ]
    table = []
    for r in rows:
        needs = r["gpus"] or f"{r['slots']} slot(s)"
        detail = r["run_id"] or r["wait"] or r["reason"] or ""
        table.append(
            [
                str(r["position"] or ""),
                r["id"],
                r["state"],
                str(r["priority"]),
                shown(needs),
                shown(r["preset_ref"] + (f" [{r['label']}]" if r["label"] else "")),
                shown(detail),
            ]
        )
    print_table(out, columns, table, err)


@queue_app.command("cancel")
def cancel(entry: str = typer.Argument(..., help="Entry id (or a unique part of it).")) -> None:
    """Cancel a queued entry (a run that already started is stopped with `runs stop`)."""
    done = store.cancel(store.resolve(entry))
    info(f"cancelled {done.id}")


@queue_app.command("move")
def move(
    entry: str = typer.Argument(..., help="Entry to move."),
    before: str = typer.Option(
        ..., "--before", help="The entry it goes in front of (it takes that one's priority)."
    ),
) -> None:
    """Reorder: put ENTRY just before another waiting entry."""
    moved = store.move_before(store.resolve(entry), store.resolve(before))
    info(f"{moved.id} now starts before {store.resolve(before)}")


@queue_app.command("pause")
def pause() -> None:
    """Start nothing new (running runs go on; entries keep their places)."""
    store.set_paused(True)
    info("queue paused; cosmos-tui queue resume starts it again")


@queue_app.command("resume")
def resume() -> None:
    """Start queued runs again."""
    store.set_paused(False)
    started = ensure_dispatcher()
    info("queue resumed" + ("; dispatcher started" if started else ""))


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def sweep(
    preset: str = typer.Argument(..., help="Preset name or .toml path; or `show` / `list`."),
    sweep_id: str | None = typer.Argument(None, help="With `show`: the sweep id (or `latest`)."),
    grids: list[str] = typer.Option(
        [], "--grid", help="KEY=V1,V2: values of one --set key; repeat for a grid."
    ),
    sets: list[str] = SetOption,
    max_parallel: int | None = typer.Option(
        None, "--max-parallel", min=1, help="At most N of its runs at once."
    ),
    gpus: str | None = GpusOption,
    slots: int = SlotsOption,
    priority: int = PriorityOption,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the points and their job names; queue nothing."
    ),
    json: bool = JsonOption,
) -> None:
    """`sweep PRESET --grid optimizer.lr=1e-4,3e-4 --grid KEY=V1,V2`: queue one run per point of
    the grid, each under its own job name. `sweep show ID`: their final and best loss, held-out
    loss and s/iter side by side. `sweep list`: the sweeps."""
    if preset in ("show", "list") and (grids or sets or dry_run):
        raise UsageError(f"`sweep {preset}` takes no --grid, --set or --dry-run")
    if preset == "show":
        _show(sweep_id or "latest", json)
        return
    if preset == "list":
        ids = sweeps.sweep_ids()
        if json:
            emit_json(ids)
        else:
            for i in ids:
                out.print(i, markup=False)
        return
    if sweep_id is not None:
        raise UsageError(f"unexpected argument {sweep_id!r}; give the grid with --grid KEY=V1,V2")
    base, path = load_for_queue(preset, sets)
    points = sweeps.expand(base, sets, [sweeps.parse_grid(g) for g in grids])
    if dry_run:
        if json:
            emit_json([{"label": p.label, "job_name": p.job_name, "sets": list(p.sets)} for p in points])
        else:
            for p in points:
                out.print(f"{shown(p.job_name)}  {shown(p.label)}")
        return
    sid = sweeps.new_sweep_id(time.time())
    here = machine_gpus()
    entries = [
        enqueue(
            p.preset,
            preset_ref=preset,
            preset_path=path,
            sets=[*sets, *p.sets],
            gpus=gpus,
            slots=slots,
            priority=priority,
            sweep=sid,
            label=p.label,
            max_parallel=max_parallel,
            machine=here,
        )
        for p in points
    ]
    started = ensure_dispatcher()
    if json:
        emit_json({"sweep": sid, "entries": [_public(e) for e in entries]})
        return
    err.print(f"sweep [bold]{sid}[/bold]: queued {len(entries)} run(s)")
    for e, p in zip(entries, points, strict=True):
        info(f"  {e.id}  {shown(p.job_name)}")
    info(f"compare: cosmos-tui sweep show {sid}")
    _started_note(started)


def _show(ref: str, json: bool) -> None:
    sid = sweeps.resolve_sweep(ref)
    reconcile()
    rows = sweeps.show(sid)
    if json:
        emit_json(
            {
                "sweep": sid,
                "points": [
                    {
                        "label": r.label,
                        "entry": r.entry.id,
                        "state": r.entry.state,
                        "run": r.run.id if r.run else None,
                        "status": r.run.status if r.run else None,
                        "job_dir": r.run.job_dir if r.run else None,
                        "final_loss": r.final_loss,
                        "best_loss": r.best_loss,
                        "val_loss": r.val_loss,
                        "sec_per_iter": r.sec_per_iter,
                    }
                    for r in rows
                ],
            }
        )
        return
    columns = [
        Col("POINT", key=True),
        Col("STATE", keep=8),
        Col("RUN", keep=6),
        Col("FINAL", keep=9, justify="right"),
        Col("BEST", keep=9, justify="right"),
        Col("VAL", keep=7, justify="right"),
        Col("S/ITER", keep=7, justify="right"),
    ]
    table = [
        [
            shown(r.label),
            r.run.status if r.run else r.entry.state,
            shown(r.run.id if r.run else r.entry.id),
            _fmt(r.final_loss),
            _fmt(r.best_loss),
            _fmt(r.val_loss),
            _fmt(r.sec_per_iter, ".3f"),
        ]
        for r in rows
    ]
    print_table(out, columns, table, err)
