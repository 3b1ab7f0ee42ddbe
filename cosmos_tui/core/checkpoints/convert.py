"""Make one scanned checkpoint ready for its engine's inference: find the checkpoint, the engine
and checkout it belongs to, and hand it to the conversion that its layout needs
(the ``convert`` of the adapter whose checkpoints have that layout: a DCP step folder is
converted, an upstream ``.pt`` set may be placed in the checkout instead), and say the inference
command the adapter knows for the result (Predict1: the one upstream's argparse accepts, with the
note on where its doc differs).

The faces call :func:`convert_checkpoint`; they print, this decides.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cosmos_tui.core.checkpoints.export import find_checkpoint
from cosmos_tui.core.checkpoints.scan import CheckpointInfo
from cosmos_tui.core.engines import conversion
from cosmos_tui.core.engines.checkout import detect_python
from cosmos_tui.core.engines.registry import DEFAULT_KIND, adapter_for_layout, get_adapter
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.runs import get_run
from cosmos_tui.core.sampling.exportcheck import ExportCheck, verify_files


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert_checkpoint` did (or, with ``dry_run``, would do)."""

    kind: str
    """The engine kind the checkpoint belongs to (the default kind for a folder without
    ``--repo``, ``upstream`` for one with it)."""
    checkpoint: CheckpointInfo
    plan: conversion.ConversionPlan
    inference: str | None = None
    """The shell text that runs the engine's inference on the result (``None``: we print none)."""
    inference_note: str | None = None
    """Where that command departs from the upstream doc, and why."""


def engine_of(target: str, repo: Path | None) -> tuple[str, Path | None, str]:
    """(engine kind, checkout, its python) for a run id; for a folder, what ``repo`` says
    (``upstream`` with a checkout, else the default kind)."""
    if repo is not None or "/" in target or Path(target).exists():
        return ("upstream" if repo else DEFAULT_KIND), repo, sys.executable
    record = get_run(target, reconcile_=False)
    preset = record.launched_preset()
    adapter = get_adapter(preset.engine.kind)
    if not adapter.runs_from_checkout:
        return preset.engine.kind, None, sys.executable
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
    if kind == "upstream" and checkout is not None:  # a folder with --repo: the checkout's interpreter
        python = detect_python(checkout)[0] or "python"
    adapter = get_adapter(kind) if kind != "upstream" else None
    if adapter is None or adapter.checkpoint_layout != chosen.layout:
        adapter = adapter_for_layout(chosen.layout)  # a folder: the first engine of that layout
    # Rendered first: a checkout path no shell line can hold is refused before anything moves.
    inference = adapter.inference_command(chosen, checkout, python)
    plan = adapter.convert(chosen, conversion.ConvertRequest(checkout, python, yes=yes, dry_run=dry_run))
    shell_text, note = inference if inference is not None else (None, None)
    return Conversion(kind, chosen, plan, shell_text, note)


def verify_conversion(done: Conversion, base: Path | None = None) -> list[ExportCheck]:
    """``ckpt convert --verify``: each weights file the conversion wrote, checked the deepest way
    this machine can. An engine whose sampler runs here (builtin) draws one tiny sample from each
    file and from the job's base weights; the others get the tensor-level check against ``base``
    (the starting weights), since their inference needs the upstream model on a GPU."""
    files = [p for p in done.plan.outputs if Path(p).suffix in (".pt", ".safetensors")]
    if not files:
        raise UserError("the conversion wrote no weights file to check.")
    kind = done.kind if done.kind != "upstream" else adapter_for_layout(done.checkpoint.layout).kind
    job_dir = done.checkpoint.path.parent.parent  # <job>/checkpoints/<step>
    return verify_files(job_dir, files, kind, base)
