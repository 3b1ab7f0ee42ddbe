"""cosmos-framework (Cosmos 3) around its training: the pipeline steps, the stop sentinel, the
sample images and the parallel layout. Mixed into the cosmos-framework adapter; every fact is
read from upstream's code at 5eee9ed:

- ``scripts/convert_model_to_dcp.py`` (tyro: ``-o/--output-path``, ``--checkpoint-path``) writes
  ``OUT/model`` with ``dcp.save`` and then ``OUT/model/config.json`` (``save_pretrained``, its last
  write): both there means the base checkpoint is converted.
- ``scripts/export_model.py`` (``--checkpoint-path`` takes ``ITER`` and uses ``ITER/model``,
  ``--config-file``, ``-o``, ``--verify``) writes ``checkpoint.json`` last "to indicate that the
  model is complete", holding the ``checkpoint_path`` it exported; ``--verify`` skips itself
  without CUDA and, when it fails, exits non-zero keeping the export.
- ``scripts/convert_model_to_diffusers.py`` (``--checkpoint-path HF_DIR -o OUT``) copies
  ``checkpoint.json`` into ``OUT`` last, after ``model_index.json``.
- ``callbacks/termination_signal_checkpoint.py`` only logs SIGTERM; it polls
  ``$SLURM_LOG_DIR/SIGUSR1_RECEIVED`` at each step end, saves, touches
  ``SIGUSR1_CHECKPOINT_SUCCEEDED`` and exits 0 (in the ``job_monitor`` callbacks of the vision
  SFT recipes).
- ``callbacks/every_n_draw_sample.py`` writes ``EveryNDrawSample/{reg|ema}_ReplicateID%04d_
  {Sample|x0}_Iter%09d`` + ``_resize.jpg`` / ``.gif`` / ``_frame_*_resize.jpg``.
- ``utils/generator/parallelism.py``: ``data_parallel_shard_degree <= 0`` means the whole world;
  ``replicate x shard = WORLD_SIZE``; CP and CFG-parallel are overlays, so the data-parallel
  width is ``WORLD_SIZE / (cp x cfgp)``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from cosmos_tui.core import jobconfig
from cosmos_tui.core.checkpoints.scan import CheckpointInfo, scan_checkpoints
from cosmos_tui.core.engines import conversion
from cosmos_tui.core.engines.base import StopSentinel
from cosmos_tui.core.engines.steps import TRAIN, StepSpec
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.monitor.samples import SampleLayout
from cosmos_tui.core.overrides import as_int, override_value
from cosmos_tui.core.presets import Preset
from cosmos_tui.core.safeio import POINTER_CAP, read_text_capped

REGISTERED_CHECKPOINTS = ("Cosmos3-Nano", "Cosmos3-Super", "Cosmos3-Edge", "Cosmos3-Nano-Policy-DROID")
"""Names ``--checkpoint-path`` resolves through upstream's checkpoint registry (the converter
downloads them)."""
EXPORT_DIR = "model"
"""``export_model -o RUN/model``, as upstream's docs write it."""
DIFFUSERS_DIR = "diffusers"
"""``convert_model_to_diffusers -o RUN/diffusers``."""
PARALLEL_KEYS = {
    "shard": "model.config.parallelism.data_parallel_shard_degree",
    "replicate": "model.config.parallelism.data_parallel_replicate_degree",
    "cp": "model.config.parallelism.context_parallel_shard_degree",
    "cfgp": "model.config.parallelism.cfg_parallel_shard_degree",
}


def _latest_complete(job_dir: Path) -> Path | None:
    found = [c for c in scan_checkpoints(job_dir / "checkpoints") if c.complete]
    chosen = [c for c in found if c.is_latest] or found[-1:]
    return chosen[0].path if chosen else None


def exported_from(export_dir: Path) -> str | None:
    """The ``checkpoint_path`` an export's ``checkpoint.json`` names (``None``: no complete
    export there, or a file that is not what export_model writes)."""
    try:
        data = json.loads(
            read_text_capped(export_dir / "checkpoint.json", POINTER_CAP * 16, what="checkpoint.json")
        )
    except (OSError, ValueError, UnicodeDecodeError, Exception):
        return None
    value = data.get("checkpoint_path") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class FrameworkPipeline:
    """The cosmos-framework facts beyond launching (a mixin of its adapter, which supplies
    ``cwd``, ``python``, ``env``)."""

    stop_sentinel = StopSentinel("SLURM_LOG_DIR", "SIGUSR1_RECEIVED", "SIGUSR1_CHECKPOINT_SUCCEEDED")
    sample_layout = SampleLayout(
        "EveryNDrawSample",
        re.compile(
            r"(?P<tag>reg|ema)_ReplicateID\d{4}_(?:Sample|x0)_Iter(?P<iteration>\d{9})(?:_[a-z_]+)?\.(?:jpg|gif)"
        ),
    )
    job_files = (
        "config.yaml",
        "config.pkl",
        "launch_info.yaml",
        "job_env.yaml",
        "wandb_id.txt",
        "wandb",
        "EveryNDrawSample",
        "DeviceMonitor",
        "norm_monitor",
        EXPORT_DIR,
        DIFFUSERS_DIR,
    )

    def base_checkpoint(self, preset: Preset, environ: dict[str, str]) -> tuple[str, Path] | None:
        """``(NAME, OUT)`` of the converter's ``--checkpoint-path NAME -o OUT``: ``OUT`` is
        ``BASE_CHECKPOINT_PATH`` (what the recipe's ``[checkpoint].load_path`` reads), ``NAME``
        its folder name when upstream registers it; ``None`` when there is nothing to convert."""
        env = {**environ, **self.env(preset)}  # type: ignore[attr-defined]
        given = env.get("BASE_CHECKPOINT_PATH")
        if not given:
            return None
        out = Path(given).expanduser()
        out = out if out.is_absolute() else self.cwd(preset) / out  # type: ignore[attr-defined]
        return (out.name, out) if out.name in REGISTERED_CHECKPOINTS else None

    def export_argv(
        self, preset: Preset, step_dir: Path, job_dir: Path, *, verify: bool = True
    ) -> tuple[str, ...]:
        argv = [self.python(preset), "-m", "cosmos_framework.scripts.export_model"]  # type: ignore[attr-defined]
        argv += ["--checkpoint-path", str(step_dir), "--config-file", str(job_dir / "config.yaml")]
        argv += ["-o", str(job_dir / EXPORT_DIR)]
        return (*argv, "--verify") if verify else tuple(argv)

    def diffusers_argv(self, preset: Preset, job_dir: Path) -> tuple[str, ...]:
        return (
            self.python(preset),  # type: ignore[attr-defined]
            "-m",
            "cosmos_framework.scripts.convert_model_to_diffusers",
            "--checkpoint-path",
            str(job_dir / EXPORT_DIR),
            "-o",
            str(job_dir / DIFFUSERS_DIR),
        )

    def pipeline(self, preset: Preset, job_dir: Path | None, environ: dict[str, str]) -> tuple[StepSpec, ...]:
        """convert (when the base checkpoint is a registered name), train, export with
        ``--verify``, Diffusers (``pipeline.diffusers``)."""
        cwd = self.cwd(preset)  # type: ignore[attr-defined]
        steps: list[StepSpec] = []
        base = self.base_checkpoint(preset, environ)
        if base is not None:
            name, out = base
            argv = (self.python(preset), "-m", "cosmos_framework.scripts.convert_model_to_dcp")  # type: ignore[attr-defined]
            argv += ("-o", str(out), "--checkpoint-path", name)
            done = None
            if (out / "model" / ".metadata").is_file() and (out / "model" / "config.json").is_file():
                done = f"{out}/model holds the DCP .metadata and config.json (the converter's last write)"
            steps.append(StepSpec("convert", argv, cwd, {}, done, str(out), f"convert {name} to DCP"))
        steps.append(StepSpec(TRAIN, done=self._trained(preset, job_dir), describe="train"))
        if preset.pipeline.export and job_dir is not None:
            latest = _latest_complete(job_dir)
            step_dir = latest or job_dir / "checkpoints" / "<latest_checkpoint.txt>"
            export = job_dir / EXPORT_DIR
            done = None
            if latest is not None and exported_from(export) in (str(latest), str(latest / "model")):
                done = f"{export} already exports {latest.name} (its checkpoint.json, written last)"
            argv = self.export_argv(preset, step_dir, job_dir, verify=preset.pipeline.verify)
            steps.append(StepSpec("export", argv, cwd, {}, done, str(export), "export DCP to safetensors"))
            if preset.pipeline.diffusers:
                out = job_dir / DIFFUSERS_DIR
                source = exported_from(out) if (out / "model_index.json").is_file() else None
                done = (
                    f"{out} already converts this export"
                    if source and source == exported_from(export)
                    else None
                )
                argv = self.diffusers_argv(preset, job_dir)
                steps.append(StepSpec("diffusers", argv, cwd, {}, done, str(out), "convert to Diffusers"))
        return tuple(steps)

    def _trained(self, preset: Preset, job_dir: Path | None) -> str | None:
        if job_dir is None:
            return None
        latest = _latest_complete(job_dir)
        max_iter = jobconfig.settings(job_dir, self.planned_overrides(preset)).max_iter  # type: ignore[attr-defined]
        given = as_int(override_value(preset.experiment.overrides, "trainer.max_iter"))
        max_iter = given if given is not None else max_iter
        if latest is None or max_iter is None:
            return None
        iteration = int(latest.name.removeprefix("iter_"))
        if iteration < max_iter:
            return None
        return f"the job's checkpoint {latest.name} is at trainer.max_iter={max_iter}"

    def convert(
        self, checkpoint: CheckpointInfo, request: conversion.ConvertRequest
    ) -> conversion.ConversionPlan:
        """``ckpt convert`` for Cosmos 3: the DCP step folder exported to Hugging Face safetensors
        (``export_model ... -o JOB/model --verify``), then converted to Diffusers
        (``convert_model_to_diffusers ... -o JOB/diffusers``), as upstream's docs order them."""
        step = Path(checkpoint.path)
        job = step.parent.parent
        if not checkpoint.complete:
            raise UserError(f"{step} is incomplete (a part lacks .metadata); pick a complete checkpoint")
        if request.checkout is None or not (Path(request.checkout) / "cosmos_framework").is_dir():
            raise UserError(f"converting {step} needs the cosmos-framework checkout; pass --repo CHECKOUT")
        if not (job / "config.yaml").is_file():
            raise UserError(f"{job} has no config.yaml (export_model's --config-file); is it a job folder?")
        export, diffusers = job / EXPORT_DIR, job / DIFFUSERS_DIR
        outputs = (export / "checkpoint.json", diffusers / "model_index.json")
        conversion.refuse_existing(outputs, request.yes)
        head = (request.python, "-m", "cosmos_framework.scripts.")
        commands = (
            (
                *head[:2],
                head[2] + "export_model",
                "--checkpoint-path",
                str(step),
                "--config-file",
                str(job / "config.yaml"),
                "-o",
                str(export),
                "--verify",
            ),
            (
                *head[:2],
                head[2] + "convert_model_to_diffusers",
                "--checkpoint-path",
                str(export),
                "-o",
                str(diffusers),
            ),
        )
        plan = conversion.ConversionPlan(
            "upstream-steps", step, outputs, cwd=Path(request.checkout), commands=commands
        )
        if request.dry_run:
            return plan
        for argv in commands:
            done = subprocess.run(list(argv), cwd=request.checkout, capture_output=True, text=True)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [
                    f"exit code {done.returncode}"
                ]
                raise UserError(f"{argv[2]} failed on {step}: {tail[0][:300]}")
        return plan

    def parallelism(self, preset: Preset, job_dir: Path | None, world_size: int) -> str | None:
        """``DP 4 x CP 2 (FSDP shard 8 x replicate 1)`` from the job's composed config, the
        launch's overrides winning."""
        data = jobconfig.load(job_dir) if job_dir is not None else None
        values: dict[str, int] = {}
        for short, dotted in PARALLEL_KEYS.items():
            given = override_value(preset.experiment.overrides, dotted)
            value = as_int(given if given is not None else jobconfig.lookup(data, dotted))
            values[short] = value if value is not None else (-1 if short == "shard" else 1)
        shard, replicate = values["shard"], values["replicate"]
        cp, cfgp = max(1, values["cp"]), max(1, values["cfgp"])
        if shard <= 0:
            shard = world_size // max(1, replicate) if replicate > 0 else world_size
        if replicate < 0:
            replicate = world_size // max(1, shard)
        dp = world_size // (cp * cfgp) if world_size % (cp * cfgp) == 0 else None
        text = f"DP {dp if dp is not None else '?'} x CP {cp}" + (f" x CFG {cfgp}" if cfgp > 1 else "")
        text += f" (FSDP shard {shard} x replicate {replicate})"
        if dp is None or shard * replicate != world_size:
            text += f"; does not divide world size {world_size}: the engine refuses it"
        return text
