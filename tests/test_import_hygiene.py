"""Layering: core loads neither textual nor torch; the CLI's --help path neither; the engine never
imports cosmos_tui (DESIGN.md, "Layers")."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import cosmos_tui.core

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "torch", "av", "wandb", "huggingface_hub", "pynvml")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    import json

    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


def _core_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(cosmos_tui.core.__path__, "cosmos_tui.core.")]


def test_core_imports_no_heavy_library() -> None:
    imports = "\n".join(f"import {m}" for m in ["cosmos_tui.core", *_core_modules()])
    loaded = _loaded_after(imports)
    assert not loaded & set(HEAVY), f"core imported {sorted(loaded & set(HEAVY))} at import time"


def test_cli_help_path_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom cosmos_tui.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    loaded = _loaded_after(code)
    assert not loaded & set(HEAVY), f"--help imported {sorted(loaded & set(HEAVY))}"


def test_core_does_not_import_the_faces() -> None:
    for path in (REPO / "cosmos_tui" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("cosmos_tui.cli", "cosmos_tui.tui", "textual", "typer")), (
                    f"{path.relative_to(REPO)} imports {name}"
                )


def test_engine_never_imports_cosmos_tui() -> None:
    for path in (REPO / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.startswith("cosmos_tui") for n in names), (
                f"{path.relative_to(REPO)} imports {names}"
            )


def _package_modules() -> dict[str, Path]:
    mods = {}
    for path in (REPO / "cosmos_tui").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _imports_with_scope(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in ``tree`` and whether it sits inside a function body."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, in_function))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    """Imports sit at module top; one left inside a function (a heavy library such as torch or
    textual, loaded only when needed) carries ``# deferred: <reason>`` on its last line."""
    unexplained = []
    for path in _package_modules().values():
        lines = path.read_text().splitlines()
        for node, in_function in _imports_with_scope(ast.parse(path.read_text())):
            if in_function and "# deferred:" not in lines[node.end_lineno - 1]:
                unexplained.append(f"{path.relative_to(REPO)}:{node.lineno}: {ast.unparse(node)}")
    assert not unexplained, "imports inside functions without '# deferred: <reason>':\n" + "\n".join(
        unexplained
    )


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def test_the_package_import_graph_has_no_cycle() -> None:
    """Counting imports inside functions too (TYPE_CHECKING blocks aside): no module reaches itself."""
    mods = _package_modules()

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        tree = ast.parse(path.read_text())
        type_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for n in ast.walk(block)
        }
        for node, _ in _imports_with_scope(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                found = owner(target) if target.startswith("cosmos_tui") else None
                if found and found != module:
                    graph[module].add(found)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
