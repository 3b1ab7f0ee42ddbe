"""The wizard's steps render and post messages; what they need from core comes through
``cosmos_tui.tui.wizard_backend`` (read from the source, so a new direct import fails here)."""

from __future__ import annotations

import ast
from pathlib import Path

import cosmos_tui.tui.screens as screens

PRESENTATION = {"cosmos_tui.core.display", "cosmos_tui.core.errors"}
"""Core modules a screen may still import: markup escaping and the user-error type."""


def _runtime_core_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    typing_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            typing_only.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("cosmos_tui.core")}


def test_wizard_steps_reach_core_only_through_the_wizard_backend() -> None:
    steps = sorted(Path(screens.__file__).parent.glob("wizard_*.py"))
    assert len(steps) == 5
    direct = {p.name: sorted(_runtime_core_imports(p) - PRESENTATION) for p in steps}
    assert direct == {p.name: [] for p in steps}
