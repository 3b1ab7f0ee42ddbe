"""What a cosmos-framework (Cosmos 3) checkout needs from the machine, checked for ``doctor``.

Read from the checkout itself, so the checks follow its version (NVIDIA/cosmos-framework at
5eee9ed, 1.2.2, says what is quoted here):

- ``pyproject.toml`` ``[tool.uv].required-version`` (``">=0.11.3"``): the uv that may sync it.
- ``[dependency-groups]`` named ``cu<major><minor>[-...]`` (``cu130``, ``cu128-train``,
  ``cu130-torch213-train``): one CUDA build each. docs/setup.md: "CUDA 13.0 (recommended)
  ``--group=cu130-train``", "CUDA 12.8 ``--group=cu128-train``", and the driver each needs is the
  one NVIDIA's CUDA release notes give (:data:`CUDA_MIN_DRIVER`).
- ``[project].requires-python`` (``">=3.10"``) and ``.python-version`` (``3.13``), which is the
  interpreter ``uv sync`` creates the venv with; the cu130 flash-attn wheels are cp313 only
  (pyproject's comment on the torch213 group), so the pin is what really counts.

:func:`framework_setup` returns one :class:`SetupCheck` per need; nothing here raises for a
broken machine or checkout. ``uv`` and ``nvidia-smi`` are found on ``PATH`` (tests put test
doubles there).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.engines.base import SetupCheck
from cosmos_tui.core.safeio import CONFIG_CAP, POINTER_CAP, read_text_capped

PROJECT_NAME = "cosmos-framework"
"""``[project].name`` of the checkout's pyproject.toml."""

CUDA_MIN_DRIVER: dict[str, str] = {"13.0": "580.65.06", "12.8": "570.26"}
"""CUDA version of a dependency group -> the oldest Linux driver that runs it (NVIDIA CUDA
Toolkit release notes, "CUDA Toolkit and Corresponding Driver Versions", GA releases)."""

_GROUP = re.compile(r"^cu(\d+)(\d)(?:-.*)?$")
_VERSION = re.compile(r"(\d+(?:\.\d+)+)")
_PIN = re.compile(r"[A-Za-z0-9@._+-]{1,40}")  # what uv accepts in .python-version: 3.13, cpython@3.13


@dataclass(frozen=True)
class _Project:
    name: str | None
    requires_python: str | None
    uv_required: str | None
    groups: tuple[str, ...]
    python_pin: str | None
    unreadable: str = ""
    """Why pyproject.toml could not be read (empty when it was)."""


def _version(text: str) -> tuple[int, ...] | None:
    m = _VERSION.search(text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def _dotted(v: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in v)


def _read_project(repo: Path) -> _Project:
    data: dict = {}
    unreadable = ""
    try:
        data = tomllib.loads(read_text_capped(repo / "pyproject.toml", CONFIG_CAP, what="pyproject.toml"))
    except FileNotFoundError:
        unreadable = "there is none"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        unreadable = str(e).splitlines()[0] if str(e) else type(e).__name__
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    uv = data.get("tool", {}).get("uv", {}) if isinstance(data.get("tool"), dict) else {}
    groups = data.get("dependency-groups", {})
    pin = None
    try:
        lines = read_text_capped(repo / ".python-version", POINTER_CAP, what=".python-version").split()
        pin = lines[0] if lines and _PIN.fullmatch(lines[0]) else None
    except (OSError, UnicodeDecodeError):
        pass
    return _Project(
        name=project.get("name") if isinstance(project.get("name"), str) else None,
        requires_python=project.get("requires-python")
        if isinstance(project.get("requires-python"), str)
        else None,
        uv_required=uv.get("required-version") if isinstance(uv, dict) else None,
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, dict) else (),
        python_pin=pin,
        unreadable=unreadable,
    )


def is_framework_checkout(repo: Path) -> bool:
    """A cosmos-framework checkout: its pyproject names the project, or it holds the package."""
    return _read_project(repo).name == PROJECT_NAME or (repo / "cosmos_framework").is_dir()


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str] | None:
    """``(exit code, stdout)`` of a short command; ``None`` when it cannot run."""
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode, done.stdout


def _satisfies(version: tuple[int, ...], spec: str) -> bool | None:
    """Whether ``version`` meets a PEP 440 specifier; ``None`` when the specifier does not parse."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # deferred: only for doctor

    try:
        return SpecifierSet(spec).contains(_dotted(version), prereleases=True)
    except InvalidSpecifier:
        return None


def check_uv(repo: Path, project: _Project, env: dict[str, str]) -> SetupCheck:
    """uv on PATH, at the version the checkout's ``[tool.uv].required-version`` allows."""
    install = "install it: curl -LsSf https://astral.sh/uv/install.sh | sh (docs/setup.md)"
    uv = shutil.which("uv", path=env.get("PATH"))
    if uv is None:
        return SetupCheck("uv", False, "uv is not on PATH; cosmos-framework installs with `uv sync`", install)
    ran = _run([uv, "--version"], repo, env)
    found = _version(ran[1]) if ran and ran[0] == 0 else None
    if found is None:
        return SetupCheck(
            "uv", False, f"`{uv} --version` did not print a version", f"reinstall uv; {install}"
        )
    need = project.uv_required
    if not need:
        return SetupCheck("uv", True, f"uv {_dotted(found)} (the checkout asks for no version)")
    verdict = _satisfies(found, need)
    if verdict is False:
        return SetupCheck(
            "uv",
            False,
            f"uv {_dotted(found)} is too old: the checkout's [tool.uv] required-version is {need}",
            f"update it: `uv self update` (or {install})",
        )
    return SetupCheck("uv", True, f"uv {_dotted(found)} meets required-version {need}")


def _cuda_of(group: str) -> str | None:
    m = _GROUP.match(group)
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


def _installed_cuda(repo: Path) -> str | None:
    """The CUDA build of torch in the checkout's ``.venv`` (``2.10.0+cu130`` -> ``13.0``)."""
    for dist in sorted((repo / ".venv").glob("lib/python*/site-packages/torch-*.dist-info")):
        m = re.search(r"\+cu(\d+)(\d)\.dist-info$", dist.name)
        if m:
            return f"{int(m.group(1))}.{m.group(2)}"
    return None


def driver_version(env: dict[str, str]) -> tuple[str | None, str]:
    """``(driver version, why not)`` from ``nvidia-smi``; the version is ``None`` without a GPU."""
    smi = shutil.which("nvidia-smi", path=env.get("PATH"))
    if smi is None:
        return None, "nvidia-smi is not on PATH (no NVIDIA driver on this machine)"
    ran = _run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], Path.cwd(), env)
    if ran is None or ran[0] != 0 or not ran[1].strip():
        return None, "nvidia-smi found no GPU (it failed or printed nothing)"
    return ran[1].strip().splitlines()[0].strip(), ""


def check_cuda(repo: Path, project: _Project, env: dict[str, str]) -> SetupCheck:
    """The checkout's cuNNN groups against the driver (and the one its .venv was synced with)."""
    cudas = sorted({c for g in project.groups if (c := _cuda_of(g))}, key=_version, reverse=True)
    if not cudas and project.unreadable:
        return SetupCheck(
            "cuda",
            False,
            f"pyproject.toml cannot be read ({project.unreadable})",
            "restore it: git checkout pyproject.toml",
        )
    if not cudas:
        return SetupCheck("cuda", None, "the checkout's pyproject.toml declares no cuNNN dependency groups")

    def group(cuda: str) -> str:
        name = "cu" + cuda.replace(".", "")
        return f"{name}-train" if f"{name}-train" in project.groups else name

    driver, why = driver_version(env)
    needs = ", ".join(
        f"{group(c)} needs driver >= {CUDA_MIN_DRIVER[c]}" for c in cudas if c in CUDA_MIN_DRIVER
    )
    if driver is None:
        return SetupCheck("cuda", None, f"no GPU here: {why}; on the GPU machine, {needs}")
    have = _version(driver) or ()
    runs = [c for c in cudas if c in CUDA_MIN_DRIVER and have >= (_version(CUDA_MIN_DRIVER[c]) or ())]
    installed = _installed_cuda(repo)
    if installed is not None:
        need = CUDA_MIN_DRIVER.get(installed)
        if need is None:
            return SetupCheck(
                "cuda", None, f".venv has torch for CUDA {installed}; no driver minimum known for it"
            )
        if have >= (_version(need) or ()):
            return SetupCheck(
                "cuda", True, f".venv is synced for CUDA {installed}; driver {driver} >= {need}"
            )
        alt = (
            f"re-sync for CUDA {runs[0]}: uv sync --all-extras --group={group(runs[0])} --reinstall, or "
            if runs
            else ""
        )
        return SetupCheck(
            "cuda",
            False,
            f".venv is synced for CUDA {installed} (driver >= {need}) but the driver is {driver}",
            f"{alt}update the NVIDIA driver to >= {need}",
        )
    if runs:
        return SetupCheck(
            "cuda",
            True,
            f"driver {driver} runs CUDA {runs[0]}: uv sync --all-extras --group={group(runs[0])}",
        )
    oldest = cudas[-1]
    return SetupCheck(
        "cuda",
        False,
        f"driver {driver} is older than every CUDA build the checkout ships ({needs})",
        f"update the NVIDIA driver to >= {CUDA_MIN_DRIVER.get(oldest, 'what its CUDA needs')}",
    )


def _python_of(repo: Path, env: dict[str, str]) -> tuple[tuple[int, ...] | None, str]:
    """The version of the interpreter the checkout runs with, and where it came from: its
    ``.venv`` (pyvenv.cfg), else the one ``uv python find`` picks in the checkout (it honours
    ``.python-version``)."""
    try:
        cfg = read_text_capped(repo / ".venv" / "pyvenv.cfg", POINTER_CAP, what="pyvenv.cfg")
    except (OSError, UnicodeDecodeError):
        cfg = ""
    for line in cfg.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info") and _version(value):
            return _version(value), ".venv"
    uv = shutil.which("uv", path=env.get("PATH"))
    if uv is None:
        return None, "no .venv and no uv to pick one"
    found = _run([uv, "python", "find"], repo, env)
    if found is None or found[0] != 0 or not found[1].strip():
        return None, "`uv python find` found none"
    path = found[1].strip().splitlines()[0]
    ran = _run([path, "-c", "import sys; print(sys.version.split()[0])"], repo, env)
    version = _version(ran[1]) if ran and ran[0] == 0 else None
    return version, f"uv python find: {path}" if version else f"{path} did not run"


def check_python(repo: Path, project: _Project, env: dict[str, str]) -> SetupCheck:
    """The interpreter against ``.python-version`` (what uv syncs with) and ``requires-python``."""
    pin, spec = project.python_pin, project.requires_python
    wanted = " and ".join(
        x for x in (f".python-version {pin}" if pin else "", f"requires-python {spec}" if spec else "") if x
    )
    install = f"uv python install {pin or '3.13'}, then uv sync in the checkout"
    version, source = _python_of(repo, env)
    if version is None:
        return SetupCheck(
            "python",
            False,
            f"no Python for the checkout ({source}); it wants {wanted or 'any version (it names none)'}",
            install,
        )
    problems = []
    if pin and _version(pin) and version[: len(_version(pin) or ())] != _version(pin):
        problems.append(f"not the {pin} of .python-version (the cu130 flash-attn wheels are cp313 only)")
    if spec and _satisfies(version, spec) is False:
        problems.append(f"outside requires-python {spec}")
    shown = f"Python {_dotted(version)} ({source})"
    if problems:
        fix = f"{install}; with a stale .venv: rm -rf .venv first" if source == ".venv" else install
        return SetupCheck("python", False, f"{shown} is " + " and ".join(problems), fix)
    return SetupCheck("python", True, f"{shown} meets {wanted or 'the checkout (it names no version)'}")


def framework_setup(repo: Path, environ: dict[str, str] | None = None) -> list[SetupCheck]:
    """The uv, CUDA-group and Python checks for the cosmos-framework checkout at ``repo``."""
    env = dict(os.environ if environ is None else environ)
    project = _read_project(repo)
    return [check_uv(repo, project, env), check_cuda(repo, project, env), check_python(repo, project, env)]
