"""`cosmos-tui preset`: list, show, validate, create and render run presets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, shown, warn
from cosmos_tui.cli.tables import Col, print_table
from cosmos_tui.core import launch
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.errors import UsageError, UserError
from cosmos_tui.core.launch_multinode import for_node, node_commands, warnings
from cosmos_tui.core.presets import (
    apply_sets,
    dump_preset,
    load_preset,
    resolve_preset,
    save_preset,
    saved_presets,
    shipped_presets,
)
from cosmos_tui.core.slurm import render_sbatch

if TYPE_CHECKING:
    from cosmos_tui.core.presets import Preset

SetOption = typer.Option(
    [],
    "--set",
    "-s",
    help="Override: SECTION.key=value sets a preset field (launch.nproc_per_node=2); anything else "
    "is an engine override (trainer.max_iter=100). Repeatable; later wins.",
)


def load_with_sets(name_or_path: str, sets: list[str]):
    """The preset named or at ``name_or_path`` with ``sets`` applied, and its path."""

    path = resolve_preset(name_or_path)
    preset = load_preset(path)
    if not sets:
        return preset, path
    for item in sets:  # not `key=value` at all: the command line's fault (exit 2); a value the
        # preset refuses is the preset's (exit 1, as the same value in the file)
        if "=" not in item and not item.startswith("~"):
            raise UsageError(f"--set {item!r}: expected `key=value` (for example `trainer.max_iter=100`)")
    return apply_sets(preset, sets), path


preset_app = typer.Typer(
    help="Presets: list, show, validate, create and render run presets.", no_args_is_help=True
)


@preset_app.command("list")
def list_(json: bool = JsonOption) -> None:
    """List the shipped presets, then those saved by name (the wizard's "Save preset")."""

    rows = []
    found = [(n, p, "shipped") for n, p in shipped_presets().items()]
    found += [(n, p, "saved") for n, p in saved_presets().items()]
    for name, path, origin in found:
        try:
            p = load_preset(path)
        except UserError as e:  # a damaged saved preset is listed with why, not a traceback
            warn(str(e))
            continue
        rows.append(
            {
                "name": name,
                "origin": origin,
                "path": str(path),
                "engine": p.engine.kind,
                "experiment": p.experiment.name,
                "nproc_per_node": p.launch.nproc_per_node,
                "description": p.description,
            }
        )
    if json:
        emit_json(rows)
        return
    columns = (
        Col("NAME", key=True),
        Col("ENGINE", 3),
        Col("EXPERIMENT", 1),
        Col("GPUS", 2),
        Col("DESCRIPTION", 0, prose=True),
    )
    cells = [
        [
            shown(r["name"]),
            shown(r["engine"]),
            shown(r["experiment"]),
            str(r["nproc_per_node"]),
            ("(saved) " if r["origin"] == "saved" else "") + shown(r["description"] or ""),
        ]
        for r in rows
    ]
    print_table(out, columns, cells, err)


@preset_app.command("show")
def show(
    preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
    sets: list[str] = SetOption,
    json: bool = JsonOption,
) -> None:
    """Print a preset (with --set applied) as TOML, or as JSON with --json."""

    p, path = load_with_sets(preset, sets)
    if json:
        emit_json({"path": str(path), "preset": p.to_dict()})
        return
    info(f"# {shown(path)}")
    out.print(dump_preset(p), end="", markup=False)


@preset_app.command("validate")
def validate(
    presets: list[str] = typer.Argument(..., help="Preset names or .toml files."),
    sets: list[str] = SetOption,
    json: bool = JsonOption,
) -> None:
    """Check presets: schema, engine problems and warnings. Exit 1 if any is invalid."""

    results = []
    for name in presets:
        try:
            p, path = load_with_sets(name, sets)
        except UserError as e:
            results.append({"preset": name, "valid": False, "problems": [e.message], "warnings": []})
            continue
        adapter = get_adapter(p.engine.kind)
        problems = adapter.problems(p)
        warnings = adapter.warnings(p) if hasattr(adapter, "warnings") else []
        results.append(
            {"preset": str(path), "valid": not problems, "problems": problems, "warnings": warnings}
        )
    if json:
        emit_json(results)
    else:
        for r in results:
            if r["valid"]:
                out.print(f"[green]ok[/green]   {shown(r['preset'])}")
            else:
                out.print(f"[red]bad[/red]  {shown(r['preset'])}")
            for problem in r["problems"]:
                err.print(f"  [red]error:[/red] {shown(problem)}", markup=True)
            for w in r["warnings"]:
                warn(f"{shown(r['preset'])}: {shown(w)}")
    if not all(r["valid"] for r in results):
        raise typer.Exit(1)


@preset_app.command("new")
def new(
    path: Path = typer.Argument(..., help="Where to write the new preset (.toml)."),
    base: str = typer.Option("builtin-demo", "--from", help="Shipped preset name or file to start from."),
    sets: list[str] = SetOption,
    yes: bool = typer.Option(False, "--yes", "-y", help="Replace the file if it exists."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the TOML instead of writing it."),
) -> None:
    """Create a preset file from another one, with --set changes."""

    if path.suffix != ".toml":
        raise UsageError(f"{path}: a preset file name must end in .toml")
    p, _ = load_with_sets(base, sets)
    if dry_run:
        out.print(dump_preset(p), end="", markup=False)
        return
    save_preset(p, path, overwrite=yes)
    info(f"wrote {shown(path)}; check it with `cosmos-tui preset render {path}`")


@preset_app.command("render")
def render(
    preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
    sets: list[str] = SetOption,
    target: str = typer.Option(
        None,
        "--target",
        help="local: this machine's command; multinode: the command for each node; slurm: an "
        "sbatch script. Default: the preset's launch.target.",
    ),
    nnodes: int | None = typer.Option(None, "--nnodes", min=1, help="Nodes in the job."),
    rdzv_endpoint: str | None = typer.Option(
        None, "--rdzv-endpoint", help="multinode: c10d rendezvous HOST:PORT on the first node."
    ),
    rdzv_id: str | None = typer.Option(
        None, "--rdzv-id", help="multinode: rendezvous id (default: derived from the preset)."
    ),
    static: bool = typer.Option(
        False, "--static", help="multinode: --node_rank/--master_addr per node instead of c10d."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="slurm: write the script to this file instead of stdout."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="slurm: replace --output if it exists."),
    json: bool = JsonOption,
) -> None:
    """Print the exact command and environment a run of this preset would use: for this
    machine, for each node of a multi-node job, or as an sbatch script for Slurm."""

    p, path = load_with_sets(preset, sets)
    chosen = target or ("slurm" if p.launch.target == "slurm" else "local")
    if chosen not in ("local", "multinode", "slurm"):
        raise UsageError(f"--target {chosen!r}: choose local, multinode or slurm")
    if chosen != "slurm" and (output is not None or yes):
        raise UsageError("--output and --yes go with --target slurm (the sbatch script)")
    if chosen == "slurm":
        if rdzv_endpoint or rdzv_id or static:
            raise UsageError(
                "--rdzv-endpoint, --rdzv-id and --static are for --target multinode; "
                "under Slurm the script takes the rendezvous from the allocation"
            )
        p = p.model_copy(deep=True)
        p.launch.target = "slurm"
        _render_slurm(p if nnodes is None else for_node(p, nnodes=nnodes), path, output, yes, json)
        return
    if chosen == "local" and (nnodes or p.launch.nnodes) > 1:
        raise UsageError(
            f"this job has {nnodes or p.launch.nnodes} nodes; use --target multinode (a command per "
            "node) or --target slurm"
        )
    p = for_node(p, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id)
    if chosen == "multinode":
        _render_nodes(p, preset, static, json)
        return
    _render_local(p, json)


def _render_local(p: Preset, json: bool) -> None:
    """This machine's command, its environment and the engine's config file (as comments)."""
    spec = launch.render(p)
    job_dir = spec.job_dir
    adapter = get_adapter(p.engine.kind)
    document = adapter.config_document(p)
    notes = adapter.warnings(p)
    if json:
        emit_json(
            {
                "argv": list(spec.argv),
                "exec_argv": spec.exec_argv(),
                "cwd": str(spec.cwd),
                "env": spec.env,
                "python": spec.python,
                "job_dir": str(job_dir) if job_dir else None,
                "shell": spec.shell(),
                "config_file": str(document[0]) if document else None,
                "config_text": document[1] if document else None,
                "warnings": notes,
            }
        )
        return
    out.print(spec.shell(multiline=True), markup=False)
    if document:
        # As comments, so the output stays a script that runs.
        lines = [f"#   {shown(line)}".rstrip() for line in document[1].split("\n")]
        out.print(f"# {shown(document[0])}, as the engine reads it:", *lines, sep="\n")
    for note in notes:
        warn(shown(note))
    if p.launch.master_port is None and p.launch.nnodes == 1:
        info("# `cosmos-tui run` adds --standalone (torchrun binds a free port) when launching")
    if job_dir:
        info(f"# job folder: {shown(job_dir)}")


def _render_nodes(p: Preset, ref: str, static: bool, json: bool) -> None:
    nodes = node_commands(p, static=static, preset_ref=ref)
    notes = warnings(p)
    if json:
        emit_json(
            {
                "nnodes": p.launch.nnodes,
                "rdzv_id": p.launch.rdzv_id,
                "rdzv_endpoint": p.launch.rdzv_endpoint,
                "rendezvous": "static" if static else "c10d",
                "warnings": notes,
                "nodes": [
                    {
                        "node_rank": n.node_rank,
                        "argv": list(n.spec.argv),
                        "exec_argv": n.spec.exec_argv(),
                        "cwd": str(n.spec.cwd),
                        "env": n.spec.env,
                        "shell": n.spec.shell(),
                        "run": n.run_command,
                        "job_dir": str(n.spec.job_dir) if n.spec.job_dir else None,
                    }
                    for n in nodes
                ],
            }
        )
        return
    for w in notes:
        warn(w)
    world = p.launch.nnodes * p.launch.nproc_per_node
    info(
        f"# {p.launch.nnodes} nodes x {p.launch.nproc_per_node} process(es) = world size {world}; "
        f"rendezvous {'static' if static else 'c10d'} at {p.launch.rdzv_endpoint}, id {p.launch.rdzv_id}"
    )
    for n in nodes:
        out.print(f"# node {n.node_rank}  (or: {n.run_command})", markup=False)
        out.print(n.spec.shell(multiline=True), markup=False)
        out.print("")
    if nodes and nodes[0].spec.job_dir:
        info(f"# job folder: {nodes[0].spec.job_dir} (a filesystem every node shares)")


def _render_slurm(p: Preset, path: Path, output: Path | None, yes: bool, json: bool) -> None:
    script = render_sbatch(p, source=str(path))
    if output is not None:
        if output.exists() and not yes:
            raise UserError(f"{output} already exists; pass --yes to replace it or choose another name")
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(script.text, encoding="utf-8")
        output.chmod(0o755)
    if json:
        emit_json(
            {
                "script": script.text,
                "path": str(output) if output else None,
                "job_name": script.job_name,
                "nodes": script.nodes,
                "gpus_per_node": script.gpus_per_node,
                "output": script.output,
                "warnings": list(script.warnings),
            }
        )
        return
    for w in script.warnings:
        warn(w)
    if output is None:
        sys.stdout.write(script.text)
        sys.stdout.flush()
    else:
        info(f"wrote {output}; submit it with `sbatch {output}` or `cosmos-tui run PRESET --target slurm`")
