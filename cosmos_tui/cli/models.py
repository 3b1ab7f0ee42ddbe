"""`cosmos-tui models`: the model catalog."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, out, shown
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core import catalog as catalog_mod
from cosmos_tui.core.hub import weights_present
from cosmos_tui.core.machine_fit import machine_fit

models_app = typer.Typer(help="Model catalog: list models and show what each needs.", no_args_is_help=True)


@models_app.command("list")
def list_models(json_: bool = JsonOption) -> None:
    """List every model the catalog knows, with its engine, dataset layout and GPU needs."""

    catalog = catalog_mod.load_catalog()
    rows = []
    for m in catalog:
        rows.append(
            {
                "id": m.id,
                "family": m.family,
                "name": m.name,
                "engine": m.engine,
                "dataset_layout": m.dataset_layout,
                "min_gpus": m.compute.min_gpus,
                "gpu_memory_gb": m.compute.gpu_memory_gb,
                "weights_present": weights_present(m),
            }
        )
    if json_:
        emit_json(rows)
        return
    from_hub = {m.id for m in catalog if m.needs_hub}
    cells = []
    for r in rows:
        gpus = "CPU ok" if r["min_gpus"] == 0 else f"{r['min_gpus']}x{r['gpu_memory_gb']}GB"
        weights = "-" if r["id"] not in from_hub else ("on disk" if r["weights_present"] else "missing")
        cells.append([shown(r["id"]), shown(r["engine"]), shown(r["dataset_layout"]), gpus, weights])
    # The dataset layout is what tells look-alike rows apart (builtin-transfer-singleview-tiny and
    # builtin-transfer-multiview-tiny are both "builtin, CPU ok"); the engine is in the id's prefix.
    columns = (
        Col("id", key=True),
        Col("engine", 1),
        Col("dataset layout", 3),
        Col("GPUs", 2),
        Col("weights", 2),
    )
    print_table(out, columns, cells, err)


@models_app.command("show")
def show(
    model_id: str = typer.Argument(..., metavar="ID", help="Catalog id (see 'models list')."),
    json_: bool = JsonOption,
) -> None:
    """Show what a model loads, what it needs, and whether this machine can run it."""

    m = catalog_mod.load_catalog().get(model_id)
    fit = machine_fit(m)
    present = weights_present(m)
    if json_:
        data = m.model_dump(mode="json")
        data["weights_present"] = present
        data["machine_fit"] = fit
        emit_json(data)
        return
    out.print(f"[bold]{m.name}[/bold]  ({m.id})")
    out.print(f"family: {m.family}   engine: {m.engine}   dataset layout: {m.dataset_layout}")
    out.print(f"experiments: {', '.join(m.experiments)}")
    c = m.compute
    gpus = "runs on CPU" if c.min_gpus == 0 else f"{c.min_gpus} GPU(s) x {c.gpu_memory_gb} GB"
    out.print(f"compute: {gpus}" + (f"  ({c.notes})" if c.notes else ""))
    out.print(f"this machine: {fit.summary}")
    if m.repos:
        out.print(f"weights: {'on disk' if present else 'not downloaded'} (HF cache)")
        for r in m.repos:
            what = ", ".join(r.files) or ("all files" if r.whole_repo else ", ".join(r.include))
            if r.exclude:
                what += f" (except {', '.join(r.exclude)})"
            rev = r.revision if r.pinned else f"{r.revision} (not pinned)"
            gated = "\\[gated]" if r.gated else "\\[open]"
            out.print(f"  - {r.role:<12} {r.needed_for:<12} {r.repo_id}@{rev} {gated}: {what}")
    if m.datasets:
        out.print("datasets (its recipes train on; 'hf download' does not fetch them):")
        for d in m.datasets:
            what = ", ".join(d.files) or "all files"
            if d.subdir:
                what += f"; the recipe reads {d.subdir}/"
            rev = d.revision if d.pinned else f"{d.revision} (not pinned)"
            gated = {True: "\\[gated]", False: "\\[open]", None: "\\[gating not stated]"}[d.gated]
            kind = "" if d.repo_type == "dataset" else f" ({d.repo_type} repo)"
            out.print(f"  - {d.repo_id}@{rev}{kind} {gated}: {what}")
    if m.notes:
        out.print(f"notes: {m.notes}")
