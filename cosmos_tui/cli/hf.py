"""`cosmos-tui hf`: Hugging Face login, gated access checks, downloads.

A token is never accepted as a command-line argument: it comes from a masked prompt, from stdin
(``--stdin``) or from ``HF_TOKEN``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown, warn
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core import catalog as catalog_mod
from cosmos_tui.core import hub
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.checkout import detect_kind
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.presets import load_preset, resolve_preset
from cosmos_tui.core.units import human_bytes

hf_app = typer.Typer(help="Hugging Face: login, gated access checks, downloads.", no_args_is_help=True)

ModelArg = typer.Argument(
    None, metavar="MODEL", help="Catalog id (see 'models list'); default: the --preset's model.id."
)
RepoOption = typer.Option(
    None,
    "--repo",
    help="The engine checkout whose code picks the revisions (default: the --preset's engine.repo, "
    "else the version cosmos-tui targets).",
)
PresetOption = typer.Option(None, "--preset", help="A preset (name or file): its model.id and engine.repo.")


def _model_and_checkout(model_id: str | None, repo: Path | None, preset_name: str | None):
    """The catalog model and the engine checkout its revisions are read for (``None``: the
    version cosmos-tui targets), from MODEL, ``--repo`` and ``--preset``."""

    preset = load_preset(resolve_preset(preset_name)) if preset_name else None
    if model_id is None and preset is None:
        raise UserError("name a MODEL (see 'cosmos-tui models list') or pass --preset NAME")
    model = catalog_mod.load_catalog().get(model_id or preset.model.id)
    if preset is not None and preset.engine.kind != model.engine:
        raise UserError(
            f"preset {preset_name} runs {preset.engine.kind} but {model.id} is post-trained by "
            f"{model.engine}; drop MODEL or pick a preset of {model.engine}"
        )
    source = "--repo"
    from_checkout = get_adapter(model.engine).runs_from_checkout
    if repo is None and preset is not None and preset.engine.repo and from_checkout:
        repo, source = get_adapter(model.engine).repo(preset), f"engine.repo of preset {preset_name}"
    if repo is None:
        return model, None
    if not from_checkout:
        raise UserError(f"{model.id} runs on the {model.engine} engine, which has no checkout; drop --repo")
    repo = repo.expanduser().resolve()
    if not repo.is_dir():
        what = "is a file, not a folder" if repo.exists() else "does not exist"
        raise UserError(f"{source} {repo} {what}; pass the folder of your {model.engine} checkout")
    found = detect_kind(repo)
    if found is not None and found != model.engine:
        raise UserError(
            f"{source} {repo} is a {found} checkout but {model.id} is post-trained by "
            f"{model.engine}; pass a {model.engine} checkout"
        )
    return model, repo


@hf_app.command("login")
def login(
    stdin: bool = typer.Option(False, "--stdin", help="Read the token from standard input."),
    json_: bool = JsonOption,
) -> None:
    """Store a Hugging Face token (masked prompt, --stdin, or HF_TOKEN) with huggingface_hub."""

    if stdin:
        token = sys.stdin.readline().strip()
    elif os.environ.get("HF_TOKEN"):
        info("Using the token in HF_TOKEN.")
        token = os.environ["HF_TOKEN"]
    elif not sys.stdin.isatty():
        raise UsageError(
            "hf login needs a terminal to ask for the token; pipe it with --stdin or set HF_TOKEN."
        )
    else:
        info("Create a Read token at https://huggingface.co/settings/tokens")
        token = typer.prompt("Token", hide_input=True, err=True)
    account = hub.login(token)
    if json_:
        emit_json(account)
        return
    info(f"Logged in as [bold]{shown(account.name)}[/bold]; the token is stored under HF_HOME (mode 0600).")


@hf_app.command("logout")
def logout() -> None:
    """Remove the stored token."""

    outcome = hub.logout()
    if outcome == "env-remains":
        warn("No stored token is left, but HF_TOKEN still logs this shell in; unset it too.")
    elif outcome == "not-logged-in":
        info("Not logged in.")
    else:
        info("Logged out.")


@hf_app.command("whoami")
def whoami(json_: bool = JsonOption) -> None:
    """Show which account the active token belongs to (exit 1 when not logged in)."""

    account = hub.whoami()
    if json_:
        emit_json({"logged_in": account is not None, "account": account})
    elif account is None:
        err.print("Not logged in; run 'cosmos-tui hf login'.")
    else:
        src = "HF_TOKEN" if account.token_source == "env" else "stored token"
        out.print(
            f"{shown(account.name)} ({src}, {shown(account.token_role or 'unknown')} access) "
            f"on {shown(account.endpoint)}"
        )
    if account is None:
        raise typer.Exit(1)


@hf_app.command("access")
def access(
    model_id: str | None = ModelArg,
    inference: bool = typer.Option(False, "--inference", help="Also check inference-only repos."),
    repo: Path | None = RepoOption,
    preset: str | None = PresetOption,
    json_: bool = JsonOption,
) -> None:
    """Check, repo by repo, whether you can download what MODEL needs, at the revisions its
    engine checkout loads, and the datasets its recipes train on (exit 1 if any cannot)."""

    model, checkout = _model_and_checkout(model_id, repo, preset)
    results = hub.check_access(model, inference=inference, checkout=checkout, datasets=True)
    if json_:
        emit_json(
            {"model": model.id, "checkout": checkout, "ok": all(r.ok for r in results), "repos": results}
        )
    elif not results:
        out.print(f"{model.id} needs no Hugging Face downloads.")
    else:
        columns = (
            Col("repo", key=True),
            Col("revision", 1),
            Col("role", 0),
            Col("for", 2),
            Col("status", 5),
            Col("what to do", 4, prose=True),
        )
        rows = []
        for r in results:
            colour = "green" if r.ok else "red"
            todo = "" if r.ok else shown(r.detail)
            status = f"[{colour}]{r.status.value}[/{colour}]"
            rows.append(
                [shown(r.repo_id), shown(r.revision[:12]), shown(r.role), shown(r.needed_for), status, todo]
            )
        print_table(out, columns, rows, err)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@hf_app.command("download")
def download(
    model_id: str | None = ModelArg,
    checkpoint_dir: Path | None = typer.Option(
        None, "--checkpoint-dir", help="Put files under DIR/<model folder> instead of the HF cache."
    ),
    inference: bool = typer.Option(False, "--inference", help="Also fetch inference-only repos."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be fetched; fetch nothing."),
    repo: Path | None = RepoOption,
    preset: str | None = PresetOption,
    json_: bool = JsonOption,
) -> None:
    """Download only the files MODEL's engine loads, at the revisions its checkout asks for
    (sizes and disk checked first; resumable)."""

    model, checkout = _model_and_checkout(model_id, repo, preset)
    if not model.needs_hub:
        info(f"{model.id} runs on the builtin engine and needs no downloads.")
        return
    plan = hub.plan_download(model, checkpoint_dir, inference=inference, checkout=checkout)
    if dry_run or not json_:
        _print_plan(plan, json_, checkout)
    if dry_run:
        if plan.blocked or plan.unresolved or not plan.fits:
            raise typer.Exit(1)
        return
    paths = _run_download(plan, quiet=json_)
    if json_:
        emit_json({"model": model.id, "target": plan.target, "files": [str(p) for p in paths]})
    else:
        info(f"{model.id}: {len(paths)} file(s) ready under {shown(plan.target)}")


def _print_plan(plan, json_: bool, checkout: Path | None = None) -> None:
    if json_:
        emit_json(
            {
                "model": plan.model_id,
                "checkout": checkout,
                "mode": plan.mode,
                "target": plan.target,
                "offline": plan.offline,
                "total_bytes": plan.total_bytes,
                "missing_bytes": plan.missing_bytes,
                "free_bytes": plan.free_bytes,
                "fits": plan.fits,
                "files": plan.files,
                "blocked": plan.blocked,
                "unresolved": plan.unresolved,
            }
        )
        return
    info(f"{plan.model_id} -> {shown(plan.target)} ({plan.mode}{', offline' if plan.offline else ''})")
    if checkout is not None:
        info(f"revisions as the checkout {shown(checkout)} loads them")
    for f in plan.files:
        if f.present:
            state = "present"
        else:
            state = f"resume at {human_bytes(f.partial_bytes)}" if f.partial_bytes else "fetch"
        at = "" if f.revision == "main" else f"@{f.revision[:12]}"
        info(f"  {shown(f.repo_id)}/{shown(f.filename)}{shown(at)}  {human_bytes(f.size)}  {state}")
    missing, total, free = (human_bytes(n) for n in (plan.missing_bytes, plan.total_bytes, plan.free_bytes))
    info(f"to fetch: {missing} of {total}; free: {free}")
    for a in plan.blocked:
        warn(f"{a.repo_id}: {a.status.value}: {a.detail}")
    for u in plan.unresolved:
        warn(u)


def _run_download(plan, quiet: bool) -> list[Path]:
    if quiet or not err.is_terminal:
        done_files: set[str] = set()

        def line(event) -> None:
            if event.finished and event.file.filename not in done_files and not quiet:
                done_files.add(event.file.filename)
                name = f"{event.file.repo_id}/{event.file.filename}"
                info(f"fetched {shown(name)} ({human_bytes(event.file.size)})")

        return hub.download(plan, progress=line)

    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )  # deferred: rich renderables, only when that output is printed

    with Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=False,
    ) as bar:
        overall = bar.add_task("total", total=plan.missing_bytes or None)
        tasks: dict[str, int] = {}

        def update(event) -> None:
            key = f"{event.file.repo_id}/{event.file.filename}"
            if key not in tasks:
                tasks[key] = bar.add_task(event.file.filename[-40:], total=event.file_total)
            bar.update(tasks[key], completed=event.file_done)
            bar.update(overall, completed=event.done)

        try:
            return hub.download(plan, progress=update)
        except KeyboardInterrupt:
            raise UserError("Download interrupted; run the same command again to resume.") from None
