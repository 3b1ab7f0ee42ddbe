"""Every CLI command and group is a module-level attribute of its own module in cosmos_tui/cli/
(importable, patchable and readable one by one), and app.py only assembles them (issue 21, item 5)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import typer

from cosmos_tui.cli.app import app


def _commands(parent: typer.Typer, path: str = "cosmos-tui") -> Iterator[tuple[str, object]]:
    """(command path, callback) for every command below ``parent``, groups descended."""
    for info in parent.registered_commands:
        yield f"{path} {info.name or info.callback.__name__}", info.callback
    for group in parent.registered_groups:
        yield from _commands(group.typer_instance, f"{path} {group.name}")


def _groups(parent: typer.Typer, path: str = "cosmos-tui") -> Iterator[tuple[str, typer.Typer]]:
    for group in parent.registered_groups:
        yield f"{path} {group.name}", group.typer_instance
        yield from _groups(group.typer_instance, f"{path} {group.name}")


def test_every_command_is_a_module_level_function() -> None:
    found = list(_commands(app))
    assert len(found) >= 36  # every command of DESIGN.md's CLI shape, not an empty walk
    for path, callback in found:
        qualname = callback.__qualname__  # type: ignore[attr-defined]
        module_name = callback.__module__  # type: ignore[attr-defined]
        assert "<locals>" not in qualname, f"`{path}` is a closure ({qualname})"
        assert module_name.startswith("cosmos_tui.cli."), f"`{path}` lives in {module_name}"
        assert module_name != "cosmos_tui.cli.app", f"`{path}` is defined in app.py, which only assembles"
        module = importlib.import_module(module_name)
        assert getattr(module, qualname, None) is callback, f"`{path}`: {module_name}.{qualname} is not it"


def test_every_group_is_a_module_level_typer() -> None:
    groups = list(_groups(app))
    assert {p.split()[-1] for p, _ in groups} >= {"models", "hf", "data", "preset", "runs", "jobs", "ckpt"}
    for path, group in groups:
        commands = list(_commands(group, path))
        assert commands, f"`{path}` has no commands"
        module_name = commands[0][1].__module__  # type: ignore[attr-defined]
        module = importlib.import_module(module_name)
        assert any(value is group for value in vars(module).values()), (
            f"`{path}` is not a module-level Typer of {module_name}"
        )
