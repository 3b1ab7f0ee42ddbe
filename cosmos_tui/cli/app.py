"""The ``cosmos-tui`` command: no arguments opens the TUI; groups run everything headlessly.

Command modules are imported here but keep their heavy imports (torch, textual, av, wandb,
huggingface_hub) inside the command functions, so ``--help`` stays fast and light.
"""

from __future__ import annotations

import contextlib
import os
import sys

import typer
from typer.core import TyperGroup

from cosmos_tui import __version__
from cosmos_tui.cli import (
    ckpt,
    data,
    demo,
    doctor,
    fit,
    gpus,
    hf,
    jobs,
    models,
    preset,
    queue,
    run,
    runs,
    samples,
    web,
)
from cosmos_tui.core.display import printable
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.fserrors import describe_os_error

DEBUG_ENV = "COSMOS_TUI_DEBUG"
"""Set to keep the traceback of a file-system error (for bug reports)."""


class _Root(TyperGroup):
    """The root group: a user's mistake raised anywhere below becomes one line on stderr and its
    exit code, never a traceback (the same under CliRunner and the console script). So does a
    file-system error (a symlink loop, permission denied, a read-only disk, a file where a folder
    should be): its path, cause and fix in one sentence (set ``COSMOS_TUI_DEBUG=1`` for the
    traceback)."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except UserError as e:
            typer.echo(f"error: {printable(e.message)}", err=True)
            raise typer.Exit(e.exit_code) from None
        except BrokenPipeError:  # `cosmos-tui ... | head`: the reader has gone, say nothing more
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except OSError as e:  # a file the user pointed at: one sentence with the path and a fix
            if os.environ.get(DEBUG_ENV):
                raise
            typer.echo(f"error: {describe_os_error(e)}", err=True)
            raise typer.Exit(1) from None
        except RecursionError:  # a file nested deeper than any real one (a hostile preset, YAML)
            if os.environ.get(DEBUG_ENV):
                raise
            typer.echo(
                "error: the input is nested too deeply to read (thousands of levels); "
                "it is damaged or hostile: check the file you passed",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Root,
    name="cosmos-tui",
    help="Post-train NVIDIA Cosmos world models: a guided TUI and headless commands.\n\n"
    "Run with no arguments to open the TUI.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cosmos-tui {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            # Drawn into a pipe the TUI would hang unseen, waiting for keys that never come.
            typer.echo(
                "error: the TUI needs a terminal (stdin and stdout are not one here); "
                "run it in a terminal, or use the commands: cosmos-tui --help",
                err=True,
            )
            raise typer.Exit(2)
        from cosmos_tui.tui.app import run_app  # deferred: textual, the TUI loads only when it is opened

        run_app()


# One module per group, in the order of DESIGN.md's CLI shape. Each module holds its commands at
# module level (importable, patchable one by one); this file only assembles them.
app.command("demo")(demo.demo)
app.add_typer(models.models_app, name="models")
app.add_typer(hf.hf_app, name="hf")
app.add_typer(data.data_app, name="data")
app.add_typer(preset.preset_app, name="preset")
app.command("fit")(fit.fit)
app.command("run")(run.run)
app.add_typer(runs.runs_app, name="runs")
app.add_typer(queue.queue_app, name="queue")
app.command("sweep")(queue.sweep)
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(ckpt.ckpt_app, name="ckpt")
app.add_typer(samples.samples_app, name="samples")
app.command("gpus")(gpus.gpus)
app.command("doctor")(doctor.doctor)
app.command("web")(web.web)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="cosmos-tui")
    except SystemExit as e:
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
