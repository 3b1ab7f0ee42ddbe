"""`cosmos-tui ckpt`: list, verify, export, prune, pin and forecast checkpoints.

Every command takes TARGET: a job dir, its ``checkpoints/`` folder, one ``iter_N`` folder, or a run
id. Exit codes: 0 ok, 1 a checkpoint is bad / the disk will fill / nothing to do, 2 usage.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown, to_jsonable, warn
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core.checkpoints.convert import convert_checkpoint, verify_conversion
from cosmos_tui.core.checkpoints.export import checkpoint_to_export, export_checkpoint, find_checkpoint
from cosmos_tui.core.checkpoints.job_forecast import forecast_job
from cosmos_tui.core.checkpoints.locate import names_run, open_checkpoints
from cosmos_tui.core.checkpoints.pins import set_pinned
from cosmos_tui.core.checkpoints.prune import apply_prune, plan_prune
from cosmos_tui.core.checkpoints.verify import checkpoint_state, verify_checkpoint
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.runs import get_run
from cosmos_tui.core.runs.disk_forecast import forecast_run
from cosmos_tui.core.sampling.exportcheck import verify_files
from cosmos_tui.core.sampling.jobs import engine_kind_of
from cosmos_tui.core.units import human_bytes

ckpt_app = typer.Typer(
    help="Checkpoints: list, verify, export for inference, prune, pin, disk forecast.",
    no_args_is_help=True,
    add_completion=False,
)

TargetArg = typer.Argument(..., help="Job dir, its checkpoints/ folder, an iter_N folder, or a run id.")
LatestIterOption = typer.Option(None, "--iter", help="Iteration (default: latest complete).")


def _scan(target: str, *, need_pointer: bool = False):
    """The checkpoints folder meant by ``target`` and its checkpoints; a pointer that cannot be
    read is warned about (or, with ``need_pointer``, refused: see ``open_checkpoints``)."""

    folder = open_checkpoints(target, need_pointer=need_pointer)
    if folder.warning:
        warn(folder.warning)
    return folder.directory, folder.checkpoints


@ckpt_app.command("list")
def list_cmd(target: str = TargetArg, json: bool = JsonOption) -> None:
    """Every checkpoint: iteration, time, size, complete or not, latest, pinned, EMA."""

    directory, found = _scan(target)
    if json:
        emit_json([{**to_jsonable(c), "state": checkpoint_state(c)} for c in found])
        return
    if not found:
        info(f"No checkpoints in {shown(directory)} yet.")
        return
    columns = (
        Col("ITER", key=True, justify="right"),
        Col("SAVED", 2),
        Col("SIZE", 4, justify="right"),
        Col("STATE", 5),
        Col("LATEST", 3),
        Col("PINNED", 3),
        Col("EMA", 1),
        Col("LAYOUT", 0),
    )
    rows = [
        [
            str(c.iteration),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(c.mtime)),
            human_bytes(c.size_bytes),
            checkpoint_state(c),
            "*" if c.is_latest else "",
            "pin" if c.pinned else "",
            "yes" if c.has_ema else "no",
            shown(c.layout),
        ]
        for c in found
    ]
    print_table(out, columns, rows, err)
    info(f"{len(found)} checkpoint(s) in {shown(directory)}, {human_bytes(sum(c.size_bytes for c in found))}")


@ckpt_app.command("verify")
def verify_cmd(
    target: str = TargetArg,
    iteration: int | None = typer.Option(None, "--iter", help="Only this iteration (default: all)."),
    deep: bool = typer.Option(False, "--deep", help="Also deserialise every model tensor chunk."),
    json: bool = JsonOption,
) -> None:
    """Check that every shard the metadata names is there, whole; a verdict per checkpoint."""

    directory, found = _scan(target)
    chosen = found if iteration is None else [find_checkpoint(found, iteration)]
    verdicts = [verify_checkpoint(c, deep=deep) for c in chosen]
    if json:
        emit_json([{**to_jsonable(v), "ok": v.ok} for v in verdicts])
    else:
        if not verdicts:
            info(f"No checkpoints in {shown(directory)} yet.")
        for v in verdicts:
            out.print(f"{'ok ' if v.ok else 'BAD'} {shown(v.message)}")
            for p in v.problems[1:]:
                out.print(f"      {shown(p)}")
    if any(not v.ok for v in verdicts):
        raise typer.Exit(1)


VERIFY_HELP = (
    "Check each written file: builtin draws one tiny sample from it and from the base weights; "
    "upstream engines (or with --base) get a tensor check: loads, finite, differs from --base."
)
BaseOption = typer.Option(None, "--base", help="With --verify: starting weights to compare the tensors with.")


def _check_base(base: Path | None, verify: bool) -> None:
    if base is not None and not verify:
        raise UsageError("--base is the reference of --verify; add --verify.")
    if base is not None and not base.is_file():
        raise UsageError(f"--base {base} is not a file; pass the starting weights (.pt or .safetensors).")


@ckpt_app.command("export")
def export_cmd(
    target: str = TargetArg,
    out_dir: Path = typer.Option(..., "--out", help="Folder for the exported files."),
    iteration: int | None = LatestIterOption,
    dtype: str | None = typer.Option(
        None, "--dtype", help="bf16 or fp32: only that EMA file (default both)."
    ),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Export EMA weights (model_ema_*.pt)."),
    full: bool = typer.Option(True, "--full/--no-full", help="Also write model.pt with every key."),
    fmt: str = typer.Option("pt", "--format", help="pt or safetensors."),
    yes: bool = typer.Option(False, "--yes", help="Overwrite existing output files."),
    verify: bool = typer.Option(False, "--verify", help=VERIFY_HELP),
    base: Path | None = BaseOption,
    json: bool = JsonOption,
) -> None:
    """Consolidate a checkpoint into upstream's inference files (model.pt, model_ema_{fp32,bf16}.pt)."""

    if dtype not in (None, "bf16", "fp32"):
        raise UsageError(f"--dtype must be bf16 or fp32, not {dtype!r}.")
    if fmt not in ("pt", "safetensors"):
        raise UsageError(f"--format must be pt or safetensors, not {fmt!r}.")
    _check_base(base, verify)
    _, found = _scan(target)
    chosen = checkpoint_to_export(found, iteration)
    if not json:
        info(
            f"Exporting iteration {chosen.iteration} ({human_bytes(chosen.size_bytes)}) "
            f"to {shown(out_dir)} ..."
        )
    result = export_checkpoint(
        chosen,
        out_dir,
        ema=ema,
        dtype=dtype,
        full=full,
        fmt=fmt,
        overwrite=yes,  # type: ignore[arg-type]
    )
    rate = result.bytes_read / max(result.seconds, 1e-9)
    if not json:
        for path in result.files:
            out.print(shown(path))
        if result.skipped:
            warn(f"left out non-tensor entries: {', '.join(result.skipped)}")
        info(
            f"Done in {result.seconds:.1f} s ({human_bytes(result.bytes_written)} written, "
            f"{human_bytes(rate)}/s read)."
        )
    if verify and not json:
        info("Verifying each exported file ...")
    job_dir = chosen.path.parent.parent  # <job>/checkpoints/iter_N
    kind = engine_kind_of(job_dir.resolve())
    checks = verify_files(job_dir, list(result.files), kind, base) if verify else None
    if json:
        emit_json({**to_jsonable(result), "verify": checks} if verify else result)
    for check in checks or ():
        if not json:
            (info if check.ok else warn)(shown(check.message))
    if checks and not all(c.ok for c in checks):
        raise typer.Exit(1)


@ckpt_app.command("prune")
def prune_cmd(
    target: str = TargetArg,
    keep_last: int = typer.Option(..., "--keep-last", help="Keep the newest N complete checkpoints."),
    keep_every: int | None = typer.Option(None, "--keep-every", help="Also keep iterations divisible by K."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show the plan (the default without --yes)."),
    yes: bool = typer.Option(False, "--yes", help="Delete what the plan says."),
    json: bool = JsonOption,
) -> None:
    """Delete old checkpoints; never the latest, a pinned one, or one being written."""

    directory, found = _scan(target, need_pointer=True)
    plan = plan_prune(found, keep_last=keep_last, keep_every=keep_every)
    really = yes and not dry_run
    removed = apply_prune(plan, directory) if really else []
    if json:
        emit_json(
            {
                "deleted": really,
                "bytes_freed": plan.bytes_freed,
                "decisions": [
                    {
                        "iteration": d.checkpoint.iteration,
                        "keep": d.keep,
                        "reason": d.reason,
                        "unverified": d.unverified,
                    }
                    for d in plan.decisions
                ],
            }
        )
        return
    for d in plan.decisions:
        verb = "keep  " if d.keep else ("delete" if really else "would delete")
        out.print(
            f"{verb} {d.checkpoint.iteration:>10}  {human_bytes(d.checkpoint.size_bytes):>9}  "
            f"({shown(d.reason)})"
        )
    if plan.unverified:
        warn(
            f"{len(plan.unverified)} checkpoint(s) look complete but fail verification "
            "(`cosmos-tui ckpt verify` says more); they never count as one of the --keep-last"
        )
    if really:
        info(
            f"Deleted {len(removed)} checkpoint(s), freed {human_bytes(sum(c.size_bytes for c in removed))}."
        )
    elif plan.to_delete:
        info(f"Dry run: would free {human_bytes(plan.bytes_freed)}; run again with --yes to delete.")
    else:
        info("Nothing to prune.")


def _pin(target: str, iteration: int, pinned: bool) -> None:
    directory, found = _scan(target)
    find_checkpoint(found, iteration)
    set_pinned(directory, iteration, pinned)
    info(f"{'Pinned' if pinned else 'Unpinned'} iteration {iteration} in {shown(directory)}.")


@ckpt_app.command("pin")
def pin_cmd(target: str = TargetArg, iteration: int = typer.Argument(..., help="Iteration to pin.")) -> None:
    """Pin a checkpoint so prune never removes it."""
    _pin(target, iteration, True)


@ckpt_app.command("unpin")
def unpin_cmd(
    target: str = TargetArg, iteration: int = typer.Argument(..., help="Iteration to unpin.")
) -> None:
    """Remove a pin."""
    _pin(target, iteration, False)


@ckpt_app.command("forecast")
def forecast_cmd(
    target: str = TargetArg,
    max_iter: int | None = typer.Option(None, "--max-iter", help="trainer.max_iter (default: config.yaml)."),
    save_iter: int | None = typer.Option(
        None, "--save-iter", help="checkpoint.save_iter (default: config.yaml)."
    ),
    keep_last_n: int | None = typer.Option(None, "--keep-last-n", help="checkpoint.keep_last_n, if pruning."),
    json: bool = JsonOption,
) -> None:
    """Will the disk hold the checkpoints still to come? (average size x saves left vs free space)

    For a run id, the settings are the run's launch overrides, else its job's config.yaml (what
    the dashboard forecasts with)."""

    directory, found = _scan(target)
    given = {"max_iter": max_iter, "save_iter": save_iter, "keep_last_n": keep_last_n}
    if names_run(target):
        fc = forecast_run(get_run(target, reconcile_=False), checkpoints=found, **given)
    else:
        fc = forecast_job(directory, found, **given)
    if json:
        emit_json(fc)
    else:
        (err.print if fc.verdict in ("warn", "fail") else out.print)(f"{fc.verdict}: {fc.message}")
    if fc.verdict == "fail":
        raise typer.Exit(1)


@ckpt_app.command("convert")
def convert_cmd(
    target: str = TargetArg,
    iteration: int | None = LatestIterOption,
    repo: Path | None = typer.Option(
        None, "--repo", help="Upstream checkout (default: the run's engine.repo when TARGET is a run)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Replace existing output files."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be done; write nothing."),
    verify: bool = typer.Option(False, "--verify", help=VERIFY_HELP),
    base: Path | None = BaseOption,
    json: bool = JsonOption,
) -> None:
    """Make a checkpoint ready for its engine's inference, the way upstream documents it.

    DCP (builtin, Transfer2.5, Predict2.5): `model.pt`, `model_ema_fp32.pt` and
    `model_ema_bf16.pt` beside the step folder's parts, by the checkout's
    `scripts/convert_distcp_to_pt.py` when there is one, else by `ckpt export`. Predict1: the
    post-trained EMA file placed at `checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained/model.pt`
    in the checkout (and under the name the inference script accepts), and the inference command
    its argparse accepts printed, with where it departs from the doc.
    """

    _check_base(base, verify)
    _, found = _scan(target)
    done = convert_checkpoint(target, found, iteration, repo=repo, yes=yes, dry_run=dry_run)
    plan = done.plan
    checks = None
    if verify and not dry_run:
        if not json:
            info("Verifying the written files ...")
        checks = verify_conversion(done, base)
    if json:
        emit_json(
            {
                "method": plan.method,
                "source": plan.source,
                "outputs": plan.outputs,
                "shell": plan.shell(),
                "inference": done.inference,
                "inference_note": done.inference_note,
                **({"verify": to_jsonable(checks)} if checks is not None else {}),
            }
        )
        if checks and not all(c.ok for c in checks):
            raise typer.Exit(1)
        return
    verb = "Would write" if dry_run else "Wrote"
    for path in plan.outputs:
        out.print(shown(path))
    what = f"{done.kind} checkpoint, iteration {done.checkpoint.iteration}"
    info(f"{verb} {len(plan.outputs)} file(s) by {plan.method} ({what}).")
    info("Equivalent commands:\n" + "\n".join(shown(line) for line in plan.shell().splitlines()))
    if done.inference:
        lines = "\n".join(shown(line) for line in done.inference.splitlines())
        info(f"Run inference (replace the <...> prompts and the input video):\n{lines}")
        if done.inference_note:
            info(f"Note: {done.inference_note}")
    for check in checks or ():
        (info if check.ok else warn)(shown(check.message))
    if checks and not all(c.ok for c in checks):
        raise typer.Exit(1)
