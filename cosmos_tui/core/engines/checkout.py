"""An upstream checkout on disk: which repo it is, its Python, its version and git commit, and
whether its package imports with that Python.

Nothing here raises for a missing or broken checkout: :func:`inspect_checkout` returns a
:class:`CheckoutInfo` whose ``problems`` say, one sentence each, what is wrong and what to do.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cosmos_tui.core.engines.base import SetupCheck
from cosmos_tui.core.engines.registry import adapters

PythonSource = Literal["given", ".venv", "conda", "none"]


@dataclass(frozen=True)
class CheckoutInfo:
    """What is known about one checkout. Unknown values are ``None``."""

    repo: Path
    """The checkout folder as given (resolved)."""
    exists: bool
    """Whether the folder exists."""
    kind: str | None = None
    """The engine kind its package folder says it is (an upstream adapter's ``kind``)."""
    package: str | None = None
    """The package that must import (that adapter's ``package``)."""
    python: str | None = None
    """The interpreter that runs it."""
    python_source: PythonSource = "none"
    """Where ``python`` came from: given in the preset, the checkout's ``.venv``, or ``$CONDA_PREFIX``."""
    version: str | None = None
    """Version from pyproject.toml / setup.py, else ``git describe``."""
    commit: str | None = None
    """The full git commit of HEAD."""
    branch: str | None = None
    """The checked-out branch (``None`` when detached)."""
    imports_ok: bool | None = None
    """Whether ``python -c "import PACKAGE"`` succeeded (``None`` when not checked)."""
    import_error: str | None = None
    """The last line of the import's stderr when it failed."""
    problems: tuple[str, ...] = field(default=())
    """Sentences saying what is wrong and what to do (empty when all is well)."""

    @property
    def ok(self) -> bool:
        """A usable checkout: it exists, has a Python, and (when checked) imports."""
        return self.exists and self.python is not None and self.imports_ok is not False and not self.problems


def checkout_packages() -> dict[str, str]:
    """The importable package of each engine kind that runs from a checkout (its adapter's
    ``package``), in registry order."""
    return {a.kind: a.package for a in adapters() if getattr(a, "package", None)}


def detect_kind(repo: Path) -> str | None:
    """The engine kind whose package folder sits at the checkout root."""
    for kind, package in checkout_packages().items():
        if (repo / package).is_dir():
            return kind
    return None


def setup_checks(repo: Path) -> tuple[SetupCheck, ...]:
    """What the engine checked out at ``repo`` needs from this machine beyond its package (the
    first adapter that claims ``repo``, :meth:`~.base.EngineAdapter.setup_checks`); often none."""
    for adapter in adapters():
        if checks := adapter.setup_checks(repo):
            return checks
    return ()


def detect_python(
    repo: Path, given: str | None = None, environ: dict[str, str] | None = None
) -> tuple[str | None, PythonSource]:
    """The checkout's interpreter: the one given, else ``REPO/.venv/bin/python`` (uv, the
    Transfer2.5/Predict2.5 setup), else ``$CONDA_PREFIX/bin/python`` (the Predict1 setup)."""
    environ = os.environ if environ is None else environ
    if given:
        return given, "given"
    venv = repo / ".venv" / "bin" / "python"
    if venv.exists():
        return str(venv), ".venv"
    conda = environ.get("CONDA_PREFIX")
    if conda and (Path(conda) / "bin" / "python").exists():
        return str(Path(conda) / "bin" / "python"), "conda"
    return None, "none"


_SETUP_VERSION = re.compile(r"""version\s*=\s*["']([^"']+)["']""")


def read_version(repo: Path) -> str | None:
    """The project version: ``[project].version`` in pyproject.toml, ``version=`` in setup.py,
    else ``git describe --tags --always`` (``None`` when none of them says)."""
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        try:
            version = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("version")
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            version = None
        if isinstance(version, str):
            return version
    setup = repo / "setup.py"
    if setup.is_file():
        m = _SETUP_VERSION.search(setup.read_text(encoding="utf-8", errors="replace"))
        if m:
            return m.group(1)
    if _git_dir(repo) is not None:
        try:
            done = subprocess.run(
                ["git", "-C", str(repo), "describe", "--tags", "--always"],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


def _git_dir(repo: Path) -> Path | None:
    """The git directory of a checkout (``.git`` folder, or the target of a worktree's ``.git`` file)."""
    dot = repo / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            return target if target.is_absolute() else (repo / target)
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text().strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line.startswith(("#", "^")):
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    return None


def read_git_commit(repo: Path) -> tuple[str | None, str | None]:
    """``(commit, branch)`` of HEAD, read from the git files without running git."""
    git_dir = _git_dir(repo)
    if git_dir is None or not (git_dir / "HEAD").is_file():
        return None, None
    head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    if head.startswith("ref:"):
        ref = head.split(":", 1)[1].strip()
        return _resolve_ref(git_dir, ref), ref.removeprefix("refs/heads/")
    return (head or None), None


def check_import(
    python: str, package: str, repo: Path, *, timeout: float = 120.0, env: dict[str, str] | None = None
) -> tuple[bool, str | None]:
    """Run ``python -c "import PACKAGE"`` in the checkout; ``(ok, last stderr line)``."""
    try:
        done = subprocess.run(
            [python, "-c", f"import {package}"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except FileNotFoundError:
        return False, f"{python}: no such interpreter"
    except PermissionError:
        return False, f"{python}: not executable"
    except subprocess.TimeoutExpired:
        return False, f"importing {package} took longer than {timeout:.0f} s"
    if done.returncode == 0:
        return True, None
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    return False, (lines[-1] if lines else f"exit code {done.returncode}")


def _checkout_folder(given: Path) -> tuple[Path, str]:
    """The checkout folder (resolved) and, when it is not a usable folder, one sentence saying why."""
    fix = "clone the upstream repo there or set engine.repo to its path"
    try:
        path = given.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError on a symlink loop
        where = given.absolute()
        return (
            where,
            f"{where} is a symlink loop (it never reaches a folder); pass the checkout's root folder",
        )
    try:
        if path.is_dir():
            return path, ""
        if path.exists():
            return path, f"{path} is a file, not a folder; pass the checkout's root folder instead"
    except OSError as e:  # ELOOP on 3.13, permissions, ...
        return path, f"{path} cannot be read ({e.strerror or e}); {fix}"
    return path, f"{path} does not exist; {fix}"


def inspect_checkout(
    repo: str | Path,
    *,
    kind: str | None = None,
    python: str | None = None,
    check_imports: bool = True,
    timeout: float = 120.0,
    environ: dict[str, str] | None = None,
) -> CheckoutInfo:
    """Everything about the checkout at ``repo``; ``kind`` (when given) is the engine it must be."""
    path, problem = _checkout_folder(Path(repo).expanduser())
    if problem:
        return CheckoutInfo(repo=path, exists=False, problems=(problem,))
    problems: list[str] = []
    found_kind = detect_kind(path)
    if kind is not None and found_kind is not None and found_kind != kind:
        problems.append(f"{path} holds {found_kind}, not {kind}; point engine.repo at a {kind} checkout")
    packages = checkout_packages()
    package = packages.get(kind or found_kind or "")
    if package is None or not (path / package).is_dir():
        names = list(packages.values())
        expected = f"a '{package}' folder" if package else f"a {', '.join(names[:-1])} or {names[-1]} folder"
        problems.append(f"{path} has no {expected}; is it the root of an upstream Cosmos checkout?")
    py, source = detect_python(path, python, environ)
    if py is None:
        problems.append(
            f"no Python found for {path}: create its .venv (`uv sync` in the checkout), activate its "
            "conda env, or set engine.python"
        )
    commit, branch = read_git_commit(path)
    imports_ok = error = None
    if check_imports and py is not None and package is not None:
        imports_ok, error = check_import(py, package, path, timeout=timeout)
        if not imports_ok:
            problems.append(
                f"`{py} -c 'import {package}'` fails in {path} ({error}); finish the checkout's setup"
            )
    return CheckoutInfo(
        repo=path,
        exists=True,
        kind=found_kind,
        package=package,
        python=py,
        python_source=source,
        version=read_version(path),
        commit=commit,
        branch=branch,
        imports_ok=imports_ok,
        import_error=error,
        problems=tuple(problems),
    )
