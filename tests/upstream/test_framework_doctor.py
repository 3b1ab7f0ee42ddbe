"""`doctor --repo` on a cosmos-framework checkout: uv version, the cuNNN group against the driver,
and the Python the checkout requires. The checkout is a folder of real files written here; ``uv``,
``nvidia-smi`` and a Python that reports a version are test doubles (shell scripts on PATH)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.core.engines.framework_setup import framework_setup, is_framework_checkout

runner = CliRunner()

# The parts of cosmos-framework 5eee9ed's pyproject.toml that the checks read, as upstream writes them.
PYPROJECT = """\
[project]
name = "cosmos-framework"
version = "1.2.2"
requires-python = ">=3.10"

[dependency-groups]
dev = ["pytest"]
cu128 = ["torch==2.10.0+cu128"]
cu128-train = [{include-group = "cu128"}, "triton==3.6.0"]
cu130 = ["torch==2.10.0+cu130"]
cu130-train = [{include-group = "cu130"}, "triton==3.6.0"]
cu130-torch213 = ["torch==2.13.0+cu130"]
cu130-torch213-train = [{include-group = "cu130-torch213"}]

[tool.uv]
required-version = ">=0.11.3"
"""


def _checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "cosmos-framework"
    (repo / "cosmos_framework").mkdir(parents=True)
    (repo / "cosmos_framework" / "__init__.py").write_text("")
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / ".python-version").write_text("3.13\n")
    return repo


def _script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n# test double for {name}\n{body}\n")
    path.chmod(0o755)
    return path


def _doubles(
    tmp_path: Path,
    *,
    uv: str | None = "0.11.15",
    driver: str | None = "580.82.07",
    python: str | None = "3.13.2",
) -> dict[str, str]:
    """An environment whose PATH holds only the test doubles asked for."""
    bin_dir = tmp_path / "test-doubles"
    bin_dir.mkdir(exist_ok=True)
    if python is not None:
        _script(bin_dir, "fake-python", f"echo {python}")
    if uv is not None:
        find = (
            f'echo "{bin_dir / "fake-python"}"'
            if python
            else 'echo "error: No interpreter found" >&2; exit 2'
        )
        _script(
            bin_dir,
            "uv",
            f'echo "warning: The native-tls setting is deprecated" >&2; '
            f'if [ "$1" = "--version" ]; then echo "uv {uv} (x86_64-unknown-linux-gnu)"; '
            f'elif [ "$1 $2" = "python find" ]; then {find}; else exit 2; fi',
        )
    if driver is not None:
        _script(bin_dir, "nvidia-smi", f"echo {driver}" if driver else 'echo "No devices were found"; exit 9')
    return {"PATH": str(bin_dir)}


def _by_name(repo: Path, env: dict[str, str]):
    return {c.name: c for c in framework_setup(repo, env)}


def test_a_good_machine_passes_every_check(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    assert is_framework_checkout(repo)
    checks = _by_name(repo, _doubles(tmp_path))
    assert [checks[n].ok for n in ("uv", "cuda", "python")] == [True, True, True]
    assert "uv 0.11.15 meets required-version >=0.11.3" in checks["uv"].detail
    assert (
        checks["cuda"].detail == "driver 580.82.07 runs CUDA 13.0: uv sync --all-extras --group=cu130-train"
    )
    assert "Python 3.13.2" in checks["python"].detail and ".python-version 3.13" in checks["python"].detail


@pytest.mark.parametrize(
    ("uv", "detail", "fix"),
    [
        (
            "0.9.2",
            "uv 0.9.2 is too old: the checkout's [tool.uv] required-version is >=0.11.3",
            "uv self update",
        ),
        (None, "uv is not on PATH", "astral.sh/uv/install.sh"),
    ],
)
def test_uv_missing_or_too_old(tmp_path: Path, uv: str | None, detail: str, fix: str) -> None:
    check = _by_name(_checkout(tmp_path), _doubles(tmp_path, uv=uv))["uv"]
    assert check.ok is False and detail in check.detail and fix in check.fix


@pytest.mark.parametrize(
    ("driver", "venv_torch", "ok", "detail", "fix"),
    [
        ("575.51.03", None, True, "runs CUDA 12.8: uv sync --all-extras --group=cu128-train", ""),
        ("580.159.04", None, True, "runs CUDA 13.0: uv sync --all-extras --group=cu130-train", ""),
        ("570.26", None, True, "runs CUDA 12.8", ""),
        ("565.57.01", None, False, "older than every CUDA build", "update the NVIDIA driver to >= 570.26"),
        (
            "575.51.03",
            "torch-2.10.0+cu130.dist-info",
            False,
            ".venv is synced for CUDA 13.0 (driver >= 580.65.06) but the driver is 575.51.03",
            "uv sync --all-extras --group=cu128-train --reinstall",
        ),
        ("580.65.06", "torch-2.10.0+cu130.dist-info", True, ".venv is synced for CUDA 13.0", ""),
    ],
)
def test_cuda_group_against_the_driver(
    tmp_path: Path, driver: str, venv_torch: str | None, ok: bool, detail: str, fix: str
) -> None:
    repo = _checkout(tmp_path)
    if venv_torch:
        (repo / ".venv" / "lib" / "python3.13" / "site-packages" / venv_torch).mkdir(parents=True)
    check = _by_name(repo, _doubles(tmp_path, driver=driver))["cuda"]
    assert check.ok is ok and detail in check.detail and fix in check.fix


@pytest.mark.parametrize("driver", [None, ""])  # no nvidia-smi at all; nvidia-smi sees no GPU
def test_no_gpu_is_said_plainly_and_does_not_fail(tmp_path: Path, driver: str | None) -> None:
    check = _by_name(_checkout(tmp_path), _doubles(tmp_path, driver=driver))["cuda"]
    assert check.ok is None and check.detail.startswith("no GPU here")
    assert "cu130-train needs driver >= 580.65.06, cu128-train needs driver >= 570.26" in check.detail


def test_python_from_the_venv_must_be_the_pinned_one(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    (repo / ".venv").mkdir()
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.11.7\n")
    check = _by_name(repo, _doubles(tmp_path))["python"]
    assert check.ok is False and "Python 3.11.7 (.venv) is not the 3.13 of .python-version" in check.detail
    assert "uv python install 3.13" in check.fix and "rm -rf .venv" in check.fix
    (repo / ".venv" / "pyvenv.cfg").write_text("version = 3.13.1\n")
    assert _by_name(repo, _doubles(tmp_path))["python"].ok is True


def test_python_that_uv_cannot_find(tmp_path: Path) -> None:
    check = _by_name(_checkout(tmp_path), _doubles(tmp_path, python=None))["python"]
    assert check.ok is False and "`uv python find` found none" in check.detail
    assert check.fix.startswith("uv python install 3.13")


def test_requires_python_is_checked_too(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    (repo / ".python-version").unlink()
    check = _by_name(repo, _doubles(tmp_path, python="3.9.18"))["python"]
    assert check.ok is False and "outside requires-python >=3.10" in check.detail


def _venv_python(repo: Path) -> None:
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (repo / ".venv" / "pyvenv.cfg").write_text("version_info = 3.13.1\n")


def test_doctor_cli_one_line_per_check_and_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _checkout(tmp_path)
    _venv_python(repo)
    monkeypatch.setenv("PATH", _doubles(tmp_path, driver="575.51.03")["PATH"] + os.pathsep + "/usr/bin:/bin")
    res = runner.invoke(app, ["doctor", "--repo", str(repo), "--no-imports"], env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    lines = {ln.split()[0]: ln for ln in res.stdout.splitlines() if ln.startswith("  ") and ln.split()}
    assert "ok" in lines["uv"] and "ok" in lines["cuda"] and "cu128-train" in lines["cuda"]
    assert "ok" in lines["python"] and "3.13.1" in lines["python"]

    (repo / ".venv" / "lib" / "python3.13" / "site-packages" / "torch-2.10.0+cu130.dist-info").mkdir(
        parents=True
    )
    res = runner.invoke(app, ["doctor", "--repo", str(repo), "--no-imports", "--json"])
    assert res.exit_code == 1
    setup = json.loads(res.stdout)["framework_setup"][str(repo.resolve())]
    cuda = next(c for c in setup if c["name"] == "cuda")
    assert cuda["ok"] is False and "--group=cu128-train --reinstall" in cuda["fix"]


def test_doctor_on_a_missing_folder_a_file_and_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    for name, says in [
        ("absent", "does not exist"),
        ("a-file", "is a file, not a folder"),
        ("loop1", "is a symlink loop"),
    ]:
        res = runner.invoke(app, ["doctor", "--repo", str(tmp_path / name)])
        assert res.exit_code == 1, res.output
        assert says in res.stdout and "Traceback" not in res.output
        assert not any(
            c in res.stdout for c in ("uv       ", "cuda     ")
        )  # no setup checks without a checkout


def test_an_unreadable_pyproject_and_a_junk_pin(tmp_path: Path) -> None:
    repo = _checkout(tmp_path)
    (repo / "pyproject.toml").unlink()
    (repo / "pyproject.toml").symlink_to("/dev/zero")
    (repo / ".python-version").write_text("3.13\x1b[31mX\n")
    checks = _by_name(repo, _doubles(tmp_path))
    assert checks["cuda"].ok is False and "pyproject.toml cannot be read" in checks["cuda"].detail
    assert "character device" in checks["cuda"].detail
    assert checks["python"].ok is True and "\x1b" not in checks["python"].detail  # the junk pin is ignored
