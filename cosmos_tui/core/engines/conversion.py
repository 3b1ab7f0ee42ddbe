"""Turn an upstream training checkpoint into what the upstream inference scripts load.

- Transfer2.5 / Predict2.5 (DCP ``iter_%09d/``): the checkout's own
  ``python scripts/convert_distcp_to_pt.py ITER/model ITER`` when the script is there, else our
  export (:mod:`cosmos_tui.core.checkpoints.export`) with the same three outputs in ``ITER/``:
  ``model.pt``, ``model_ema_fp32.pt`` and ``model_ema_bf16.pt``.
- Predict1 (``.pt`` sets): no conversion; ``iter_%09d_ema_model.pt`` is placed where the
  inference script can load it. The doc (examples/post-training_diffusion_single2multiview.md,
  2b446eb) copies it to ``checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained/model.pt``
  and passes ``--diffusion_transformer_dir Cosmos-Predict1-7B-SingleToMultiView_post-trained``,
  which ``video2world_view_extend_multiview.py``'s argparse rejects: its ``choices`` are only
  ``Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``, loaded from
  ``<checkpoint_dir>/<that path>``. Following the code, the doc's folder becomes a checkpoint dir
  of its own: ``model.pt`` (the doc's file), the same file (hard link) at
  ``Cosmos-Predict1-7B-Video2World-Sample-AV-Single2MultiView/{t2w,v2w}_model.pt``, and links to
  the shared folders of ``checkpoints/`` (tokenizer, T5, guardrails), so
  ``--checkpoint_dir checkpoints/Cosmos-Predict1-7B-SingleToMultiView_post-trained`` runs the
  post-trained model and the downloaded base weights stay untouched.

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
from cosmos_tui.core.engines.predict1 import POSTTRAINED_DIR, S2MV_DIR, S2MV_WEIGHTS
from cosmos_tui.core.errors import UserError

CONVERT_SCRIPT = "scripts/convert_distcp_to_pt.py"
DCP_OUTPUTS: tuple[str, ...] = ("model.pt", "model_ema_fp32.pt", "model_ema_bf16.pt")
P1_INFERENCE_SCRIPT = "cosmos_predict1/diffusion/inference/video2world_view_extend_multiview.py"
P1_ACCEPTED_TRANSFORMERS: tuple[str, ...] = tuple(f"{S2MV_DIR}/{w}" for w in ("t2w_model.pt", "v2w_model.pt"))
"""The only ``--diffusion_transformer_dir`` values the inference script's argparse accepts (2b446eb)."""
P1_POSTTRAINED_ROOT = f"checkpoints/{POSTTRAINED_DIR}"
"""The ``--checkpoint_dir`` (relative to the checkout) that holds the placed post-trained model."""
P1_SHARED_DIRS: tuple[str, ...] = ("Cosmos-Tokenize1-CV8x8x8-720p", "google-t5", "meta-llama", "nvidia")
"""Folders of ``checkpoints/`` the inference reads besides the transformer (tokenizer, T5, Llama
Guard, Guardrail1: the catalog's local_dirs), linked into :data:`P1_POSTTRAINED_ROOT`."""
P1_DOC_NOTE = (
    f"The post-training doc passes --diffusion_transformer_dir {POSTTRAINED_DIR}, which the script's "
    f"argparse rejects (it accepts only {' or '.join(P1_ACCEPTED_TRANSFORMERS)}); this command follows "
    f"the code: --checkpoint_dir {P1_POSTTRAINED_ROOT} holds the post-trained weights under that name."
)
"""Said next to the Predict1 inference command wherever it is shown."""

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
    links: tuple[tuple[Path, str], ...] = ()
    """``(link, target)`` symbolic links it makes (``place-ema`` only)."""

    def shell(self) -> str:
        """The equivalent shell command(s)."""
        if self.method == "upstream-script":
            return shell.command(str(self.cwd), {}, self.argv)
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


def p1_weights_name(ema_file: Path) -> str:
    """``t2w_model.pt`` or ``v2w_model.pt``: the name the experiment whose job folder holds
    ``ema_file`` loads (text2world when the path names neither)."""
    for part in Path(ema_file).parts:
        if part in S2MV_WEIGHTS:
            return S2MV_WEIGHTS[part]
    return "t2w_model.pt"


def plan_p1_placement(ema_file: Path, repo: Path) -> ConversionPlan:
    """Where a Predict1 ``iter_%09d_ema_model.pt`` goes for the multiview inference script (see the
    module docstring): the doc's ``model.pt`` and the name the script's argparse accepts, in a
    checkpoint dir of its own that links the shared folders of ``checkpoints/``."""
    checkpoints = Path(repo) / "checkpoints"
    root = checkpoints / POSTTRAINED_DIR
    dest = root / "model.pt"
    accepted = root / S2MV_DIR / p1_weights_name(ema_file)
    shared = set(P1_SHARED_DIRS)
    if checkpoints.is_dir():
        shared |= {
            p.name
            for p in checkpoints.iterdir()
            if p.is_dir()
            and p.name not in (POSTTRAINED_DIR, S2MV_DIR, "posttraining")
            and not p.name.startswith(".")
        }
    links = tuple((root / name, f"../{name}") for name in sorted(shared))
    return ConversionPlan("place-ema", Path(ema_file), (dest, accepted), links=links)


def place_p1_ema(ema_file: Path, repo: Path, *, yes: bool = False, dry_run: bool = False) -> ConversionPlan:
    """Put ``ema_file`` where Predict1's inference expects a post-trained ``model.pt``: a hard link
    when on the same file system (no copy, and it survives pruning), else a copy; the file appears
    under its final name only when complete."""
    ema_file = Path(ema_file)
    if not ema_file.is_file() or not ema_file.name.endswith("_ema_model.pt"):
        raise UserError(f"{ema_file} is not a Predict1 iter_NNNNNNNNN_ema_model.pt file; check the path")
    plan = plan_p1_placement(ema_file, repo)
    dest, accepted = plan.outputs
    _refuse_existing(plan.outputs, yes)
    for link, _ in plan.links:
        if link.exists() and not link.is_symlink():
            raise UserError(f"{link} is a real folder, not a link to ../{link.name}; move it away first")
    if dry_run:
        return plan
    for path, source in ((dest, ema_file), (accepted, dest)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        tmp.replace(path)
    for link, target in plan.links:
        if link.is_symlink():
            if os.readlink(link) == target:
                continue
            link.unlink()
        link.symlink_to(target, target_is_directory=True)
    return plan


def p1_inference_argv(
    view_condition_video: str,
    prompts: dict[str, str],
    video_save_name: str,
    *,
    checkpoint_dir: str = P1_POSTTRAINED_ROOT,
    weights: str = "t2w_model.pt",
    python: str = "python",
) -> list[str]:
    """The Single2MultiView inference command for the placed post-trained model, as the script's
    argparse accepts it (the doc's ``--diffusion_transformer_dir`` is rejected; show
    :data:`P1_DOC_NOTE` next to it). ``weights``: :func:`p1_weights_name` of the placed file.
    ``prompts`` keys: ``prompt``, ``prompt_left``, ``prompt_right``, ``prompt_back``,
    ``prompt_back_left``, ``prompt_back_right``."""
    transformer = f"{S2MV_DIR}/{weights}"
    if transformer not in P1_ACCEPTED_TRANSFORMERS:
        raise UserError(f"weights must be t2w_model.pt or v2w_model.pt, not {weights!r}")
    argv = [
        python,
        P1_INFERENCE_SCRIPT,
        "--checkpoint_dir",
        checkpoint_dir,
        "--diffusion_transformer_dir",
        transformer,
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
