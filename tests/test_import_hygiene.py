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
