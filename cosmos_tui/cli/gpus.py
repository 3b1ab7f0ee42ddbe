"""`cosmos-tui gpus`: utilisation, memory, temperature, power, clocks, processes and the runs on
each GPU (matched from the running runs of the registry: their process trees, else their
``CUDA_VISIBLE_DEVICES``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, out, shown
from cosmos_tui.core.monitor.claims import claims_for
from cosmos_tui.core.monitor.gpus import default_sampler
from cosmos_tui.core.runs import list_runs
from cosmos_tui.core.units import human_bytes

if TYPE_CHECKING:
    from rich.table import Table

    from cosmos_tui.core.monitor.gpus import GpuSnapshot


def _gib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.1f}"


def _num(v: float | int | None, fmt: str = "{:.0f}") -> str:
    return "-" if v is None else fmt.format(v)


def render_table(snap: GpuSnapshot) -> Table:
    """A Rich table of one snapshot (one row per device)."""
    from rich.table import Table  # deferred: rich renderables, only when that output is printed

    table = Table(title=f"GPUs (driver {snap.driver_version})", title_justify="left")
    for name, justify in [
        ("#", "right"),
        ("name", "left"),
        ("util %", "right"),
        ("mem GiB", "right"),
        ("temp °C", "right"),
        ("power W", "right"),
        ("SM MHz", "right"),
        ("processes", "left"),
        ("runs", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for d in snap.devices:
        if d.error:
            table.add_row(str(d.index), shown(d.name), f"[red]{shown(d.error)}[/red]", "", "", "", "", "", "")
            continue
        procs = ", ".join(
            f"{p.pid}" + (f" ({human_bytes(p.used_memory_bytes)})" if p.used_memory_bytes else "")
            for p in d.processes
        )
        power = _num(d.power_w) + ("" if d.power_limit_w is None else f"/{d.power_limit_w:.0f}")
        table.add_row(
            str(d.index),
            shown(d.name),
            _num(d.util_percent),
            f"{_gib(d.mem_used_bytes)}/{_gib(d.mem_total_bytes)}",
            _num(d.temperature_c),
            power,
            _num(d.sm_clock_mhz),
            procs or "-",
            shown(", ".join(d.runs) or "-"),
        )
    return table


def gpus(
    json_: bool = JsonOption,
    watch: bool = typer.Option(False, "--watch", "-w", help="Refresh until Ctrl-C."),
    interval: float = typer.Option(
        1.0, "--interval", min=0.25, help="Seconds between refreshes with --watch."
    ),
    count: int = typer.Option(0, "--count", min=0, help="With --watch, stop after this many refreshes."),
) -> None:
    """GPUs: utilisation, memory, temperature, power, clocks, and the processes and runs on each.

    With no NVIDIA driver or GPU this prints why and exits 0.
    """

    sampler = default_sampler()

    def poll() -> GpuSnapshot:
        claims = claims_for(r for r in list_runs() if r.active)
        return sampler.poll(claims)

    def show(snap: GpuSnapshot) -> None:
        if json_:
            emit_json(snap)
        elif not snap.available:
            err.print(f"No GPUs to show: {snap.reason}.")
        else:
            out.print(render_table(snap))

    if not watch:
        show(poll())
        return
    n = 0
    try:
        while True:
            snap = poll()
            if not json_ and snap.available and out.is_terminal:
                out.clear()
            show(snap)
            n += 1
            if count and n >= count:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        sampler.close()
