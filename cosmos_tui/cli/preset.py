"""`cosmos-tui preset`: list, show, validate, create and render run presets."""

from __future__ import annotations

from pathlib import Path

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out, warn

SetOption = typer.Option(
    [],
    "--set",
    "-s",
    help="Override: SECTION.key=value sets a preset field (launch.nproc_per_node=2); anything else "
    "is an engine override (trainer.max_iter=100). Repeatable; later wins.",
)


def load_with_sets(name_or_path: str, sets: list[str]):
    """The preset named or at ``name_or_path`` with ``sets`` applied, and its path."""
    from cosmos_tui.core.presets import apply_sets, load_preset, resolve_preset

    path = resolve_preset(name_or_path)
    preset = load_preset(path)
    return (apply_sets(preset, sets) if sets else preset), path


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Presets: list, show, validate, create and render run presets.", no_args_is_help=True
    )

    @sub.command("list")
    def list_(json: bool = JsonOption) -> None:
        """List the shipped presets."""
        from cosmos_tui.core.presets import load_preset, shipped_presets

        rows = []
        for name, path in shipped_presets().items():
            p = load_preset(path)
            rows.append(
                {
                    "name": name,
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
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("NAME", "ENGINE", "EXPERIMENT", "GPUS", "DESCRIPTION"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(
                r["name"], r["engine"], r["experiment"], str(r["nproc_per_node"]), r["description"] or ""
            )
        out.print(table)

    @sub.command("show")
    def show(
        preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
        sets: list[str] = SetOption,
        json: bool = JsonOption,
    ) -> None:
        """Print a preset (with --set applied) as TOML, or as JSON with --json."""
        from cosmos_tui.core.presets import dump_preset

        p, path = load_with_sets(preset, sets)
        if json:
            emit_json({"path": str(path), "preset": p.to_dict()})
            return
        info(f"# {path}")
        out.print(dump_preset(p), end="", markup=False)

    @sub.command("validate")
    def validate(
        presets: list[str] = typer.Argument(..., help="Preset names or .toml files."),
        sets: list[str] = SetOption,
        json: bool = JsonOption,
    ) -> None:
        """Check presets: schema, engine problems and warnings. Exit 1 if any is invalid."""
        from cosmos_tui.core.engines.base import get_adapter
        from cosmos_tui.core.errors import UserError

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
                    out.print(f"[green]ok[/green]   {r['preset']}")
                else:
                    out.print(f"[red]bad[/red]  {r['preset']}")
                for problem in r["problems"]:
                    err.print(f"  [red]error:[/red] {problem}", markup=True)
                for w in r["warnings"]:
                    warn(f"{r['preset']}: {w}")
        if not all(r["valid"] for r in results):
            raise typer.Exit(1)

    @sub.command("new")
    def new(
        path: Path = typer.Argument(..., help="Where to write the new preset (.toml)."),
        base: str = typer.Option("builtin-demo", "--from", help="Shipped preset name or file to start from."),
        sets: list[str] = SetOption,
        yes: bool = typer.Option(False, "--yes", "-y", help="Replace the file if it exists."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the TOML instead of writing it."),
    ) -> None:
        """Create a preset file from another one, with --set changes."""
        from cosmos_tui.core.errors import UsageError
        from cosmos_tui.core.presets import dump_preset, save_preset

        if path.suffix != ".toml":
            raise UsageError(f"{path}: a preset file name must end in .toml")
        p, _ = load_with_sets(base, sets)
        if dry_run:
            out.print(dump_preset(p), end="", markup=False)
            return
        save_preset(p, path, overwrite=yes)
        info(f"wrote {path}; check it with `cosmos-tui preset render {path}`")

    @sub.command("render")
    def render(
        preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
        sets: list[str] = SetOption,
        json: bool = JsonOption,
    ) -> None:
        """Print the exact command and environment a run of this preset would use."""
        from cosmos_tui.core import launch

        p, _ = load_with_sets(preset, sets)
        spec = launch.render(p)
        job_dir = spec.job_dir
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
                }
            )
            return
        out.print(spec.shell(multiline=True), markup=False)
        if p.launch.master_port is None and p.launch.nnodes == 1:
            info("# `cosmos-tui run` adds --master_port=<a free port> when launching")
        if job_dir:
            info(f"# job folder: {job_dir}")

    app.add_typer(sub, name="preset")
