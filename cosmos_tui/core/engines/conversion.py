"""Turn an upstream training checkpoint into what the upstream inference scripts load.

- Transfer2.5 / Predict2.5 (DCP ``iter_%09d/``): the checkout's own
  ``python scripts/convert_distcp_to_pt.py ITER/model ITER`` when the script is there, else our
  export (:mod:`cosmos_tui.core.checkpoints.export`) with the same three outputs in ``ITER/``:
  ``model.pt``, ``model_ema_fp32.pt`` and ``model_ema_bf16.pt``.
- Predict1 (``.pt`` sets): no conversion; ``iter_%09d_ema_model.pt`` becomes
  ``checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained/model.pt`` in the checkout,
  where ``video2world_view_extend_multiview.py`` looks for it.

Existing outputs are never replaced without ``yes``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cosmos_tui.core import shell
from cosmos_tui.core.engines.predict1 import POSTTRAINED_DIR
from cosmos_tui.core.errors import UserError

CONVERT_SCRIPT = "scripts/convert_distcp_to_pt.py"
DCP_OUTPUTS: tuple[str, ...] = ("model.pt", "model_ema_fp32.pt", "model_ema_bf16.pt")
P1_INFERENCE_SCRIPT = "cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py"

Method = Literal["upstream-script", "export", "place-ema"]


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

    def shell(self) -> str:
        """The equivalent shell command(s)."""
        if self.method == "upstream-script":
            return shell.command(str(self.cwd), {}, self.argv)
        if self.method == "export":
            return shell.join(["cosmos-tui", "ckpt", "export", str(self.source), "--out", str(self.source)])
        dest = self.outputs[0]
        mkdir = shell.join(["mkdir", "-p", str(dest.parent)])
        return f"{mkdir}\n{shell.join(['cp', str(self.source), str(dest)])}"


def plan_dcp_conversion(step_dir: Path, repo: Path | None, python: str = "python") -> ConversionPlan:
    """How ``step_dir`` (``.../checkpoints/iter_%09d``) becomes the three inference files."""
    step_dir = Path(step_dir)
    outputs = tuple(step_dir / name for name in DCP_OUTPUTS)
    if repo is not None and (Path(repo) / CONVERT_SCRIPT).is_file():
        argv = (python, CONVERT_SCRIPT, str(step_dir / "model"), str(step_dir))
        return ConversionPlan("upstream-script", step_dir, outputs, argv, Path(repo))
    return ConversionPlan("export", step_dir, outputs)


def _refuse_existing(outputs: Sequence[Path], yes: bool) -> None:
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
    from cosmos_tui.core.checkpoints.scan import scan_checkpoints

    step_dir = Path(step_dir)
    plan = plan_dcp_conversion(step_dir, repo, python)
    info = next((c for c in scan_checkpoints(step_dir.parent) if c.path == step_dir), None)
    if info is None or info.layout != "dcp":
        raise UserError(
            f"{step_dir} is not a DCP checkpoint folder (iter_NNNNNNNNN/ with model/); check the path"
        )
    if not info.complete:
        raise UserError(f"{step_dir} is incomplete (a part lacks .metadata); pick a complete checkpoint")
    _refuse_existing(plan.outputs, yes)
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
    from cosmos_tui.core.checkpoints.export import export_checkpoint

    export_checkpoint(info, step_dir, ema=True, full=True, overwrite=yes)
    return plan


def plan_p1_placement(ema_file: Path, repo: Path) -> ConversionPlan:
    """Where a Predict1 ``iter_%09d_ema_model.pt`` goes for the multiview inference script."""
    dest = Path(repo) / "checkpoints" / POSTTRAINED_DIR / "model.pt"
    return ConversionPlan("place-ema", Path(ema_file), (dest,))


def place_p1_ema(ema_file: Path, repo: Path, *, yes: bool = False, dry_run: bool = False) -> ConversionPlan:
    """Put ``ema_file`` where Predict1's inference expects a post-trained ``model.pt``: a hard link
    when on the same file system (no copy, and it survives pruning), else a copy; the file appears
    under its final name only when complete."""
    ema_file = Path(ema_file)
    if not ema_file.is_file() or not ema_file.name.endswith("_ema_model.pt"):
        raise UserError(f"{ema_file} is not a Predict1 iter_NNNNNNNNN_ema_model.pt file; check the path")
    plan = plan_p1_placement(ema_file, repo)
    dest = plan.outputs[0]
    _refuse_existing([dest], yes)
    if dry_run:
        return plan
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    tmp.unlink(missing_ok=True)
    try:
        os.link(ema_file, tmp)
    except OSError:
        shutil.copyfile(ema_file, tmp)
    tmp.replace(dest)
    return plan


def p1_inference_argv(
    view_condition_video: str,
    prompts: dict[str, str],
    video_save_name: str,
    *,
    checkpoint_dir: str = "checkpoints",
    python: str = "python",
) -> list[str]:
    """The documented Single2MultiView inference command for the placed post-trained model.
    ``prompts`` keys: ``prompt``, ``prompt_left``, ``prompt_right``, ``prompt_back``,
    ``prompt_back_left``, ``prompt_back_right``."""
    argv = [
        python,
        P1_INFERENCE_SCRIPT,
        "--checkpoint_dir",
        checkpoint_dir,
        "--diffusion_transformer_dir",
        POSTTRAINED_DIR,
        "--view_condition_video",
        view_condition_video,
        "--num_input_frames",
        "1",
        "--condition_location",
        "first_cam",
    ]
    for key in (
        "prompt",
        "prompt_left",
        "prompt_right",
        "prompt_back",
        "prompt_back_left",
        "prompt_back_right",
    ):
        argv += [f"--{key}", prompts.get(key, "")]
    return [*argv, "--video_save_name", video_save_name]
