"""`cosmos-tui samples`: draw samples from a job's checkpoints as a recorded, stoppable job.

``cosmos-tui samples RUN|JOB [--iter K|latest|all] [--prompts FILE] [--seeds 0,1] [--steps N]
[--base] [--ema/--no-ema]`` starts one (``samples new`` spelled out); ``samples list`` and
``samples stop ID`` manage them. On an upstream job it runs the repo's own inference script (the
exact commands are shown); on a Cosmos 3 job it lists the images the trainer drew.
Exit codes: 0 ok, 1 a job, checkpoint or file is unusable or the
sampling failed, 2 usage.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.core import TyperGroup

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core.sampling.jobs import (
    DEFAULT_STEPS,
    SampleJob,
    TrainerSamples,
    list_sample_jobs,
    plan_samples,
    start_samples,
    stop_sample_job,
    trainer_samples,
    wait_sample_job,
)
from cosmos_tui.core.sampling.prompts import default_requests, parse_seeds, read_prompts
from cosmos_tui.core.shell import join as shell_join


class _DefaultNew(TyperGroup):
    """``samples TARGET ...`` means ``samples new TARGET ...`` (a job named ``list`` or ``stop``
    is given as a path: ``./list``)."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["new", *args]
        return super().parse_args(ctx, args)


samples_app = typer.Typer(
    cls=_DefaultNew,
    help="Samples from checkpoints: `samples JOB` draws them (its own recorded job); list, stop.",
    no_args_is_help=True,
    add_completion=False,
)


def _summary(job: SampleJob) -> dict[str, object]:
    return {
        "id": job.id,
        "status": job.status,
        "job_dir": job.job_dir,
        "targets": list(job.targets),
        "done": list(job.done),
        "outputs": list(job.outputs),
        "samples": job.samples,
        "steps": job.steps,
        "ema": job.ema,
        "exit_code": job.exit_code,
        "reason": job.reason,
        "log": str(job.log_path),
        "commands": [list(c) for c in job.commands],
        "engine_commands": list(job.shown),
    }


def _show_trainer_samples(found: TrainerSamples, json: bool) -> None:
    """The images the trainer drew itself (nothing is started)."""
    if json:
        emit_json(
            {
                "job_dir": str(found.job_dir),
                "folder": str(found.folder),
                "iterations": [
                    {"iteration": s.iteration, "images": [str(i.path) for i in s.images]}
                    for s in found.iterations
                ],
            }
        )
        return
    info(
        f"This engine draws its samples while training (EveryNDrawSample); nothing to start. "
        f"They are in {shown(found.folder)}."
    )
    if not found.iterations:
        info("No sample images there yet; the trainer writes them every N iterations.")
    for s in found.iterations:
        for image in s.images:
            out.print(f"{s.iteration}\t{shown(image.tag)}\t{shown(image.path)}", markup=False)


@samples_app.command("new")
def new_cmd(
    target: str = typer.Argument(..., help="A job folder, a run id (or latest) or a job name."),
    iteration: str | None = typer.Option(None, "--iter", help="Iteration K, latest (default) or all."),
    prompts: Path | None = typer.Option(None, "--prompts", help="prompt<TAB>seed<TAB>clip, one per line."),
    seeds: str = typer.Option("0", "--seeds", help="Seeds for prompts without one (comma-separated)."),
    steps: int = typer.Option(
        DEFAULT_STEPS, "--steps", help="Sampling steps (upstream: the script's own, where it has one)."
    ),
    base: bool = typer.Option(False, "--base", help="Also sample the weights the job started from."),
    ema: bool | None = typer.Option(
        None, "--ema/--no-ema", help="EMA weights (default: when the job keeps them)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Replace samples already drawn for these checkpoints."),
    wait: bool = typer.Option(False, "--wait", help="Wait until it ends; exit 1 if it failed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the engine commands; start nothing."),
    json: bool = JsonOption,
) -> None:
    """Draw samples from a job's checkpoint(s) (and its base weights) in a process of its own."""
    seed_list = parse_seeds(seeds)
    requests = read_prompts(prompts, seed_list) if prompts is not None else default_requests(seed_list)
    found = trainer_samples(target)
    if found is not None:
        _show_trainer_samples(found, json)
        return
    plan = plan_samples(target, requests, iteration=iteration, base=base, steps=steps, ema=ema, overwrite=yes)
    if dry_run:
        if json:
            emit_json({**_summary(plan.job), "dry_run": True})
            return
        engine = plan.job.shown or ("",) * len(plan.job.targets)
        for label, argv, where, text in zip(
            plan.job.targets, plan.job.commands, plan.job.outputs, engine, strict=True
        ):
            info(f"{label} -> {shown(where)}")
            out.print(shell_join(list(argv)), markup=False)
            if text:
                info("which runs the engine's own inference:")
                out.print(text, markup=False)
        return
    job = start_samples(plan)
    if wait:
        job = wait_sample_job(job.id)
    if json:
        emit_json(_summary(job))
    else:
        info(
            f"Samples job {job.id} ({job.status}): {len(requests)} sample(s) x {len(job.targets)} target(s)."
        )
        info(f"Log: {shown(job.log_path)}; stop it with `cosmos-tui samples stop {job.id}`.")
        for text in job.shown:
            info("Engine inference:")
            for line in text.splitlines():
                info(shown(line))
        for where in job.outputs:
            out.print(shown(where))
        if job.reason:
            info(shown(job.reason))
    if wait and job.status != "finished":
        raise typer.Exit(1)


@samples_app.command("list")
def list_cmd(json: bool = JsonOption) -> None:
    """Every samples job, oldest first."""
    jobs = list_sample_jobs()
    if json:
        emit_json([_summary(j) for j in jobs])
        return
    if not jobs:
        info("No samples jobs yet; `cosmos-tui samples JOB` starts one.")
        return
    rows = [
        [
            shown(j.id),
            j.status,
            f"{len(j.done)}/{len(j.targets)}",
            shown(", ".join(j.targets)),
            shown(j.job_dir),
        ]
        for j in jobs
    ]
    cols = [
        Col("ID", key=True),
        Col("STATUS", keep=3),
        Col("DONE", keep=2),
        Col("TARGETS", keep=1),
        Col("JOB"),
    ]
    print_table(out, cols, rows, err)


@samples_app.command("stop")
def stop_cmd(
    job_id: str = typer.Argument(..., help="Samples job id (or a unique prefix, or latest)."),
    json: bool = JsonOption,
) -> None:
    """Stop a samples job (the engine is ended; finished targets keep their samples)."""
    job = stop_sample_job(job_id)
    if json:
        emit_json(_summary(job))
        return
    info(f"Samples job {job.id}: {job.status}{f' ({job.reason})' if job.reason else ''}.")
