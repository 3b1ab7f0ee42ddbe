"""`cosmos-tui run PRESET`: preflight, record, supervisor, then follow the log (or detach)."""

from __future__ import annotations

import typer

from cosmos_tui.cli.common import JsonOption, emit_json, err, info, out
from cosmos_tui.cli.preset import SetOption, load_with_sets

LEVEL_STYLE = {"ok": "[green]ok[/green]  ", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        preset: str = typer.Argument(..., help="Preset name (shipped) or path to a .toml file."),
        sets: list[str] = SetOption,
        detach: bool = typer.Option(
            False, "--detach", "-d", help="Start the run and return; it goes on in the background."
        ),
        force: bool = typer.Option(False, "--force", help="Launch even if a preflight check fails."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Run the preflight checks and print the command; launch nothing."
        ),
        stop_on_interrupt: bool = typer.Option(
            False, "--stop-on-interrupt", help="Ctrl-C stops the run (default: Ctrl-C only detaches)."
        ),
        json: bool = JsonOption,
    ) -> None:
        """Launch a run from a preset. Without --detach, follow its log and exit with its exit code;
        Ctrl-C then detaches (the run goes on) unless --stop-on-interrupt."""
        from cosmos_tui.cli.runs import exit_code_for, follow_run, print_notes, status_text
        from cosmos_tui.core.runs import launch_prepared, prepare, stop_run

        base, path = load_with_sets(preset, sets)
        prepared = prepare(base)
        if not json or dry_run:
            for check in prepared.checks:
                err.print(f"{LEVEL_STYLE[check.level]} {check.name:<8} {check.message}", highlight=False)
        if dry_run:
            if json:
                emit_json(
                    {
                        "argv": list(prepared.spec.argv),
                        "env": prepared.spec.env,
                        "cwd": str(prepared.spec.cwd),
                        "job_dir": str(prepared.job_dir) if prepared.job_dir else None,
                        "checks": list(prepared.checks),
                    }
                )
            else:
                out.print(prepared.spec.shell(multiline=True), markup=False)
            return
        record = launch_prepared(prepared, base=base, preset_path=path, sets=sets, force=force)
        if json and detach:
            emit_json(record.to_dict())
            return
        err.print(f"started run [bold]{record.id}[/bold]; job folder {record.job_dir or 'unknown'}")
        print_notes(record)
        if detach:
            info(f"follow: cosmos-tui runs logs -f {record.id}   stop: cosmos-tui runs stop {record.id}")
            return
        try:
            final = follow_run(record, to_stderr=json)
        except KeyboardInterrupt:
            if stop_on_interrupt:
                info(f"\nstopping {record.id} (the engine saves first)...")
                report = stop_run(record.id)
                info(f"run {record.id}: {status_text(report.record)} — {report.record.reason}")
                if json:
                    emit_json(report.record.to_dict())
                raise typer.Exit(exit_code_for(report.record)) from None
            info(
                f"\ndetached; run {record.id} goes on. Reattach: cosmos-tui runs logs -f {record.id}   "
                f"stop: cosmos-tui runs stop {record.id}"
            )
            return
        info(f"run {final.id}: {status_text(final)}" + (f" — {final.reason}" if final.reason else ""))
        if json:
            emit_json(final.to_dict())
        raise typer.Exit(exit_code_for(final))
