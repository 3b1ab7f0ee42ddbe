"""The wheel installs under unique names: cosmos_tui, cosmos_engine, presets as package data."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"cosmos_tui": "cosmos_tui", "cosmos_engine": "engine"}


def _packages_on_disk() -> set[str]:
    found = set()
    for name, folder in ROOTS.items():
        base = REPO / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([name, *rel.parts]))
    found.add("cosmos_tui.presets")
    return found


def test_package_list_matches_the_folders() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    missing = _packages_on_disk() - listed
    extra = listed - _packages_on_disk()
    assert not missing, f"add to [tool.setuptools].packages in pyproject.toml: {sorted(missing)}"
    assert not extra, f"remove from [tool.setuptools].packages in pyproject.toml: {sorted(extra)}"


def test_wheel_has_unique_top_level_names_and_presets(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cosmos_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"cosmos_tui", "cosmos_engine"}, tops
    assert "cosmos_engine/__init__.py" in names
    shipped = {Path(n).name for n in names if n.startswith("cosmos_tui/presets/") and n.endswith(".toml")}
    on_disk = {p.name for p in (REPO / "presets").glob("*.toml")}
    assert shipped == on_disk
