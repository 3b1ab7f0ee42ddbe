"""The help names the real keys of every screen, the command palette's Screenshot saves where it
can and says where, and every command the TUI shows is a real, quoted ``cosmos-tui`` command."""

from __future__ import annotations

import re
import shlex

import pytest
import typer
from helpers import wait_for
from typer.testing import CliRunner

from cosmos_tui.cli.app import app as cli_app
from cosmos_tui.tui import commands
from cosmos_tui.tui.app import CosmosApp
from cosmos_tui.tui.screens.dashboard import DashboardScreen
from cosmos_tui.tui.screens.dialogs import ConfirmDialog
from cosmos_tui.tui.screens.help import HELP
from cosmos_tui.tui.screens.job import JobScreen
from cosmos_tui.tui.screens.queue import QueueScreen
from cosmos_tui.tui.screens.runs import RunsScreen
from cosmos_tui.tui.screens.samples import SamplesScreen

SECTIONS = {
    "Runs (home)": RunsScreen,
    "Queue": QueueScreen,
    "Job": JobScreen,
    "Dashboard": DashboardScreen,
    "Samples": SamplesScreen,
    "Dialogs": ConfirmDialog,
}
SHOWN = {"slash": "/", "question_mark": "?"}
"""How the help spells a binding's key."""


def _help_keys(title: str) -> set[str]:
    body = HELP.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `"):
            keys |= set(re.findall(r"`([^`]+)`", cells[0]))
    return keys


def _binding_keys(screen: type) -> set[str]:
    return {SHOWN.get(k.strip(), k.strip()) for b in screen.BINDINGS for k in b.key.split(",")}


@pytest.mark.parametrize("title", SECTIONS)
def test_help_names_exactly_the_keys_each_screen_binds(title: str) -> None:
    assert _help_keys(title) == _binding_keys(SECTIONS[title])


def test_help_names_the_app_wide_keys() -> None:
    everywhere = HELP.split("## Everywhere\n", 1)[1]
    for key in {*_binding_keys(CosmosApp), CosmosApp.COMMAND_PALETTE_BINDING}:
        assert f"`{key}`" in everywhere, key


async def test_the_palette_screenshot_is_saved_under_the_state_folder(
    make_app, monkeypatch, tmp_path
) -> None:
    from cosmos_tui.core.paths import state_root

    monkeypatch.setenv("HOME", str(tmp_path / "no-downloads-here"))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded)
        (shot,) = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        shot.callback()
        await wait_for(pilot, lambda: app.last_screenshot is not None)
        saved = app.last_screenshot
        assert saved.parent == state_root() / "screenshots" and saved.read_text().startswith("<svg")
        await wait_for(pilot, lambda: any(str(saved) in str(n.message) for n in app._notifications))


def _help_commands() -> list[str]:
    return [c for c in re.findall(r"`([^`]+)`", HELP) if c.startswith("cosmos-tui ")]


def _shown_commands() -> list[str]:
    """Every command line the TUI can show, with hostile names from disk."""
    lines = commands.every_command()
    lines += commands.every_command("run with 'quotes' $(x)", "/data/my job", "owner/model;rm")
    return [*lines, *_help_commands()]


def _parse(argv: list[str]) -> None:
    """Parse ``argv`` with the real CLI down to its command, converting every parameter (and
    invoking nothing): a missing command, an unknown option or a bad value raises."""
    command = typer.main.get_command(cli_app)  # a group (typer carries its own click)
    ctx = command.make_context("cosmos-tui", list(argv), resilient_parsing=False)
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        assert command is not None, argv
        ctx = command.make_context(name, rest, parent=ctx)


def test_every_shown_command_exists_and_parses() -> None:
    shown = _shown_commands()
    assert len(shown) > 20
    runner = CliRunner()
    for line in shown:
        argv = shlex.split(line)
        assert argv[0] == "cosmos-tui", line
        res = runner.invoke(cli_app, [*argv[1:], "--help"])
        assert res.exit_code == 0, f"{line}: {res.output}"
        _parse(argv[1:])


def test_names_from_disk_stay_one_word() -> None:
    hostile = "run with 'quotes' $(x)"
    cmds = commands.runs_commands(hostile)
    assert shlex.split(cmds["show"]) == ["cosmos-tui", "runs", "show", hostile]
    job = commands.dashboard_commands("r1", "/data/my job")
    assert shlex.split(job["export"])[-1] == "/data/my job/export"
    assert shlex.split(commands.runs_commands("a\x1bb")["show"])[-1] == "a\x1bb"  # still one word
