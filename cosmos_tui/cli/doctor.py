"""`cosmos-tui doctor`: this machine (Python, torch, GPUs, disk) and each upstream checkout
(version, git commit, its Python, whether its package imports) and what else its engine needs from
the machine, as the engine's adapter checks it (``setup_checks``: uv, CUDA and Python for Cosmos 3)."""

from __future__ import annotations

import platform
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, out, shown
from cosmos_tui.core.engines.checkout import inspect_checkout, setup_checks
from cosmos_tui.core.engines.registry import get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.paths import state_root
from cosmos_tui.core.preflight import visible_gpus
from cosmos_tui.core.presets import load_preset, resolve_preset
from cosmos_tui.core.units import human_bytes


def _machine() -> dict[str, object]:
    try:
        torch_version: str | None = version("torch")
    except PackageNotFoundError:
        torch_version = None
    root = state_root()
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch_version,
        "gpus": visible_gpus(),
        "state_root": str(root),
        "disk_free_gb": round(usage.free / 1e9, 1),
        "disk_total_gb": round(usage.total / 1e9, 1),
        "disk_free_bytes": usage.free,
        "disk_total_bytes": usage.total,
    }


def doctor(
    repo: list[Path] = typer.Option(
        [], "--repo", help="An upstream checkout to check (repeatable).", show_default=False
    ),
    preset: list[str] = typer.Option(
        [],
        "--preset",
        help="Check the checkout a preset names in engine.repo (repeatable).",
        show_default=False,
    ),
    imports: bool = typer.Option(
        True, "--imports/--no-imports", help="Try importing each checkout's package."
    ),
    json_: bool = JsonOption,
) -> None:
    """Check this machine and upstream checkouts. Exit 1 when a checkout has a problem."""

    targets: list[tuple[Path, str | None, str | None]] = [(r, None, None) for r in repo]
    for name in preset:
        p = load_preset(resolve_preset(name))
        if not get_adapter(p.engine.kind).runs_from_checkout or not p.engine.repo:
            raise UserError(
                f"preset {name} names no upstream checkout (engine.repo); pass --repo PATH instead"
            )
        targets.append((Path(p.engine.repo), p.engine.kind, p.engine.python))
    checkouts = [
        inspect_checkout(path, kind=kind, python=python, check_imports=imports)
        for path, kind, python in targets
    ]
    setups = {str(c.repo): checks for c in checkouts if c.exists and (checks := setup_checks(c.repo))}
    machine = _machine()
    if json_:
        emit_json({"machine": machine, "checkouts": checkouts, "framework_setup": setups})
    else:
        gpus = machine["gpus"]
        out.print(f"python   {machine['python']}  ({machine['platform']})")
        out.print(f"torch    {machine['torch'] or 'not installed'}")
        out.print(f"gpus     {gpus if gpus is not None else 'none (NVML not available)'}")
        out.print(
            f"disk     {human_bytes(machine['disk_free_bytes'])} free of "
            f"{human_bytes(machine['disk_total_bytes'])} "
            f"at {machine['state_root']}"
        )
        if not checkouts:
            out.print("checkouts  none given (use --repo PATH or --preset NAME)")
        for c in checkouts:
            mark = "[green]ok[/green]" if c.ok else "[red]problem[/red]"
            out.print(f"\n{shown(c.repo)}  {mark}")
            if c.exists:
                out.print(f"  kind     {shown(c.kind or 'unknown')}")
                out.print(f"  version  {shown(c.version or 'unknown')}")
                commit = f"{c.commit[:12]} ({c.branch or 'detached'})" if c.commit else "not a git checkout"
                out.print(f"  commit   {shown(commit)}")
                out.print(f"  python   {shown(c.python or 'not found')} \\[{c.python_source}]")
                state = {True: "ok", False: "FAILED", None: "not checked"}[c.imports_ok]
                out.print(f"  import   {c.package or '?'}: {state}")
            for problem in c.problems:
                out.print(f"  [red]-[/red] {shown(problem)}")
            for check in setups.get(str(c.repo), ()):
                mark = {True: "[green]ok[/green]", False: "[red]FAIL[/red]", None: "[yellow]n/a[/yellow]"}[
                    check.ok
                ]
                fix = f" -> {shown(check.fix)}" if check.ok is False and check.fix else ""
                out.print(f"  {check.name:<8} {mark}  {shown(check.detail)}{fix}")
    failed_setup = any(check.ok is False for checks in setups.values() for check in checks)
    if any(not c.ok for c in checkouts) or failed_setup:
        raise typer.Exit(1)
