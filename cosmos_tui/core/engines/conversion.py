"""Turn an upstream training checkpoint into what the upstream inference scripts load.

- Transfer2.5 / Predict2.5 (DCP ``iter_%09d/``): the checkout's own
  ``python scripts/convert_distcp_to_pt.py ITER/model ITER`` when the script is there, else our
  export (:mod:`cosmos_tui.core.checkpoints.export`) with the same three outputs in ``ITER/``:
  ``model.pt``, ``model_ema_fp32.pt`` and ``model_ema_bf16.pt``.
- ``.pt`` sets (Predict1): the adapter places its EMA file instead (``convert`` of
  :class:`~cosmos_tui.core.engines.predict1.Predict1Adapter`), with :class:`ConversionPlan`.

Existing outputs are never replaced without ``yes``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core import shell
from cosmos_tui.core.checkpoints.export import export_checkpoint
from cosmos_tui.core.checkpoints.scan import scan_checkpoints
from cosmos_tui.core.errors import UserError

CONVERT_SCRIPT = "scripts/convert_distcp_to_pt.py"
DCP_OUTPUTS: tuple[str, ...] = ("model.pt", "model_ema_fp32.pt", "model_ema_bf16.pt")
Method = Literal["upstream-script", "export", "place-ema", "upstream-steps"]


@dataclass(frozen=True)
class ConvertRequest:
    """How ``ckpt convert`` asks an engine to convert one checkpoint: with the engine's checkout
    and its interpreter when known, replacing existing outputs only with ``yes``, running nothing
    with ``dry_run``."""

    checkout: Path | None
    python: str = "python"
    yes: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class ConversionPlan:
    """What converting one checkpoint will do (or did)."""

    method: Method
    """``upstream-script`` (the checkout's converter), ``export`` (ours) or ``place-ema`` (Predict1)."""
    source: Path
    """The DCP step folder, or the Predict1 ``_ema_model.pt``."""
    outputs: tuple[Path, ...]
    """The files it writes."""
    argv: tuple[str, ...] = ()
    """The upstream command (``upstream-script`` only)."""
    cwd: Path | None = None
    """Where the command runs (the checkout root)."""
    links: tuple[tuple[Path, str], ...] = ()
    """``(link, target)`` symbolic links it makes (``place-ema`` only)."""
    commands: tuple[tuple[str, ...], ...] = ()
    """The upstream commands run in order (``upstream-steps``: cosmos-framework's export, then
    its Diffusers conversion)."""

    def shell(self) -> str:
        """The equivalent shell command(s)."""
        if self.method == "upstream-script":
            return shell.command(str(self.cwd), {}, self.argv)
        if self.method == "upstream-steps":
            return "\n".join(shell.command(str(self.cwd), {}, argv) for argv in self.commands)
        if self.method == "export":
            return shell.join(["cosmos-tui", "ckpt", "export", str(self.source), "--out", str(self.source)])
        dest, *aliases = self.outputs
        lines = [shell.join(["mkdir", "-p", *(str(p.parent) for p in self.outputs)])]
        lines.append(shell.join(["cp", str(self.source), str(dest)]))
        lines += [shell.join(["ln", "-f", str(dest), str(a)]) for a in aliases]
        lines += [shell.join(["ln", "-sfn", target, str(link)]) for link, target in self.links]
        return "\n".join(lines)


def plan_dcp_conversion(step_dir: Path, repo: Path | None, python: str = "python") -> ConversionPlan:
    """How ``step_dir`` (``.../checkpoints/iter_%09d``) becomes the three inference files."""
    step_dir = Path(step_dir)
    outputs = tuple(step_dir / name for name in DCP_OUTPUTS)
    if repo is not None and (Path(repo) / CONVERT_SCRIPT).is_file():
        argv = (python, CONVERT_SCRIPT, str(step_dir / "model"), str(step_dir))
        return ConversionPlan("upstream-script", step_dir, outputs, argv, Path(repo))
    return ConversionPlan("export", step_dir, outputs)


def refuse_existing(outputs: Sequence[Path], yes: bool) -> None:
    existing = [p for p in outputs if p.exists()]
    if existing and not yes:
        raise UserError(f"{existing[0]} already exists; pass --yes to replace it")


def convert_dcp(
    step_dir: Path,
    *,
    repo: Path | None,
    python: str = "python",
    yes: bool = False,
    dry_run: bool = False,
    timeout: float | None = None,
) -> ConversionPlan:
    """Convert a DCP checkpoint for inference (see the module docstring); returns the plan it ran."""

    step_dir = Path(step_dir)
    plan = plan_dcp_conversion(step_dir, repo, python)
    info = next((c for c in scan_checkpoints(step_dir.parent) if c.path == step_dir), None)
    if info is None or info.layout != "dcp":
        raise UserError(
            f"{step_dir} is not a DCP checkpoint folder (iter_NNNNNNNNN/ with model/); check the path"
        )
    if not info.complete:
        raise UserError(f"{step_dir} is incomplete (a part lacks .metadata); pick a complete checkpoint")
    refuse_existing(plan.outputs, yes)
    if dry_run:
        return plan
    if plan.method == "upstream-script":
        done = subprocess.run(list(plan.argv), cwd=plan.cwd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            raise UserError(f"{CONVERT_SCRIPT} failed on {step_dir}: {tail[0]}")
        missing = [p for p in plan.outputs if not p.is_file()]
        if missing:
            raise UserError(f"{CONVERT_SCRIPT} finished but wrote no {missing[0].name}; check its output")
        return plan

    export_checkpoint(info, step_dir, ema=True, full=True, overwrite=yes)
    return plan
