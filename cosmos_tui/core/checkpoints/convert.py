"""Make one scanned checkpoint ready for its engine's inference: find the checkpoint, the engine
and checkout it belongs to, and hand it to the conversion that its layout needs
(:mod:`cosmos_tui.core.engines.conversion`): a DCP step folder is converted, a Predict1 ``.pt``
set has its EMA file placed in the checkout, and the inference command for it is the one
upstream's argparse accepts (:func:`conversion.p1_inference_argv`), with
:data:`conversion.P1_DOC_NOTE` beside it.

The faces call :func:`convert_checkpoint`; they print, this decides.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core import shell
from cosmos_tui.core.checkpoints.export import find_checkpoint
from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.engines import conversion
from cosmos_tui.core.engines.base import get_adapter
from cosmos_tui.core.engines.checkout import detect_python
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.presets import preset_from_dict
from cosmos_tui.core.runs import get_run


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_checkpoint` did (or, with ``dry_run``, would do)."""

    kind: str
    """The engine kind the checkpoint belongs to (``builtin`` for a folder without ``--repo``)."""
    checkpoint: CheckpointInfo
    plan: conversion.ConversionPlan
    inference: str | None = None
    """The shell text that runs the engine's inference on the result (``None``: we print none)."""
    inference_note: str | None = None
    """Where that command departs from the upstream doc, and why."""


#: Placeholders a person replaces before running the Predict1 command.
P1_PLACEHOLDER_VIDEO = "assets/diffusion/sv2mv_input_view.mp4"
P1_PROMPT_KEYS = (
    "prompt",
    "prompt_left",
    "prompt_right",
    "prompt_back",
    "prompt_back_left",
    "prompt_back_right",
)


def p1_inference_shell(ema_file: Path, checkout: Path, python: str) -> str:
    """The Single2MultiView inference command for the placed ``ema_file``, run from ``checkout``
    (``PYTHONPATH`` the checkout root, as the doc sets it), with the doc's example input video and
    prompt placeholders to replace."""
    weights = conversion.p1_weights_name(ema_file)
    world = "text2world" if weights.startswith("t2w") else "video2world"
    prompts = {k: f"<{k.replace('_', ' ')}>" for k in P1_PROMPT_KEYS}
    argv = conversion.p1_inference_argv(
        P1_PLACEHOLDER_VIDEO,
        prompts,
        f"diffusion-single2multiview-{world}-posttrained",
        weights=weights,
        python=python,
    )
    return shell.command(str(checkout), {"PYTHONPATH": str(checkout)}, argv)


def engine_of(target: str, repo: Path | None) -> tuple[str, Path | None, str]:
    """(engine kind, checkout, its python) for a run id; for a folder, what ``repo`` says
    (``upstream`` with a checkout, else ``builtin``)."""
    if repo is not None or "/" in target or Path(target).exists():
        return ("upstream" if repo else "builtin"), repo, sys.executable
    record = get_run(target, reconcile_=False)
    preset = preset_from_dict(record.preset, source=f"run {record.id}")
    if preset.engine.kind == "builtin":
        return "builtin", None, sys.executable
    adapter = get_adapter(preset.engine.kind)
    try:
        return preset.engine.kind, adapter.cwd(preset), adapter.python(preset)
    except UserError:
        return preset.engine.kind, None, sys.executable


def convert_checkpoint(
    target: str,
    checkpoints: list[CheckpointInfo],
    iteration: int | None = None,
    *,
    repo: Path | None = None,
    yes: bool = False,
    dry_run: bool = False,
) -> Conversion:
    """Convert iteration ``iteration`` (default: the latest complete) of ``checkpoints``, those
    found from ``target`` (a folder or a run id), for inference. ``repo`` is the upstream checkout
    (default: the run's ``engine.repo``). Existing outputs are replaced only with ``yes``."""
    if repo is not None and not Path(repo).is_dir():
        what = "is a file, not a folder" if Path(repo).exists() else "does not exist"
        raise UserError(f"--repo {repo} {what}; pass the folder of the upstream checkout")
    chosen = find_checkpoint(checkpoints, iteration)
    kind, checkout, python = engine_of(target, repo)
    if chosen.layout == "pt":
        if checkout is None:
            raise UserError("placing a Predict1 checkpoint needs its checkout; pass --repo PATH")
        ema = chosen.path.parent / f"iter_{chosen.iteration:09d}_ema_model.pt"
        if kind == "upstream":  # a folder with --repo: the checkout's own interpreter, not ours
            python = detect_python(checkout)[0] or "python"
        # Rendered first: a checkout path no shell line can hold is refused before anything moves.
        command = p1_inference_shell(ema, checkout, python)
        plan = conversion.place_p1_ema(ema, checkout, yes=yes, dry_run=dry_run)
        return Conversion(kind, chosen, plan, command, conversion.P1_DOC_NOTE)
    plan = conversion.convert_dcp(chosen.path, repo=checkout, python=python, yes=yes, dry_run=dry_run)
    return Conversion(kind, chosen, plan)
