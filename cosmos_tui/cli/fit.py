"""`cosmos-tui fit PRESET`: will the run fit, how long will it take, how much disk and money.

Exit codes: 0 it fits, 1 it does not (or the probe failed), 2 usage.
"""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, out, shown
from cosmos_tui.cli.preset import SetOption, load_with_sets
from cosmos_tui.core import fit as core_fit
from cosmos_tui.core.errors import UsageError
from cosmos_tui.core.notify_config import load_gpu_hour_price
from cosmos_tui.core.units import human_bytes


def fit(
    preset: str = typer.Argument(..., help="Preset name or path."),
    sets: list[str] = SetOption,
    json: bool = JsonOption,
    price: float | None = typer.Option(
        None,
        "--price",
        min=0,
        help="Price of one GPU-hour (default: gpu_hour_price of the cost table in config.toml).",
    ),
    timeout: float = typer.Option(300.0, "--timeout", min=1, help="Seconds the probe may run."),
    try_fixes: bool = typer.Option(
        False, "--try-fixes", help="When it does not fit, re-probe each suggested change (slower; measured)."
    ),
    memory_gb: float | None = typer.Option(
        None,
        "--memory-gb",
        min=0,
        help="Compare with this much memory per GPU (CPU runs: for the host) instead of what is detected.",
    ),
) -> None:
    """Probe the run (builtin engine: two real training steps at its shape; upstream: the
    requirements table) and say whether it fits, what makes it fit, the ETA, disk and cost."""
    if not preset.strip():
        raise UsageError("name a preset: cosmos-tui fit PRESET (see cosmos-tui preset list)")
    p, _path = load_with_sets(preset, sets)
    configured, currency = load_gpu_hour_price()
    report = core_fit.assess(
        p,
        preset,
        timeout_s=timeout,
        memory_gb=memory_gb,
        try_fixes=try_fixes,
        price=configured if price is None else price,
        currency=currency,
    )
    if report.method == "probe" and report.probe is not None and report.probe.get("ok") and memory_gb is None:
        core_fit.save_cached(p, report)
    if json:
        emit_json(report.to_json())
        raise typer.Exit(0 if report.fits else 1)
    colour = "green" if report.fits else "red"
    out.print(f"[{colour}]{shown(report.summary)}[/{colour}]")
    probe = report.probe
    if probe and probe.get("ok"):
        mfu = (
            f"{probe['mfu']:.1%}" if probe.get("mfu") is not None else f"unknown ({probe.get('peak_source')})"
        )
        per_rank = ", ".join(human_bytes(r["peak_mem_bytes"]) for r in probe["ranks"])
        out.print(
            f"  measured on {shown(probe['device'])} x {probe['world_size']}: step {probe['step_s']:.3f} s, "
            f"{probe['tokens_per_s']:,.0f} tokens/s, MFU {mfu}, {probe['params']:,} parameters, "
            f"peak per rank {per_rank}"
        )
        out.print(f"  memory compared with: {shown(report.budget_source)}")
    if report.fixes:
        out.print(f"  changes, cheapest first ({shown(report.fixes_source)}):")
        for f in report.fixes:
            mark = "fits" if f.fits else "not enough"
            sets_text = " ".join(f"--set {s}" for s in f.overrides)
            note = f"; {shown(f.note)}" if f.note else ""
            out.print(
                f"    {shown(f.label)}: {human_bytes(f.peak_bytes)} per rank ({mark}), step "
                f"{f.step_cost:+.0%} [{f.source}]{note}  {shown(sets_text)}"
            )
    if report.requirement and report.requirement.get("h200_command"):
        out.print(
            f"  H200: {shown(report.requirement['h200'])} "
            f"(measure: {shown(report.requirement['h200_command'])})"
        )
    if report.eta_s is not None:
        out.print(f"  ETA: {core_fit.hours(report.eta_s)} for {report.iterations_left:,} iterations")
    if report.gpu_hours is not None:
        cost = f", ~{report.cost:.2f} {shown(report.currency)}" if report.cost is not None else ""
        out.print(f"  GPU-hours: {report.gpu_hours:.1f}{cost}")
    if report.disk:
        out.print(f"  disk: {shown(report.disk)}")
    for note in report.notes:
        out.print(f"  note: {shown(note)}")
    raise typer.Exit(0 if report.fits else 1)
