"""Runners for real engine processes in tests: ``torchrun --standalone`` or plain ``python -m``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
TINY = [
    "experiment=s2mv_text2world_tiny",
    "trainer.logging_iter=1",
    "scheduler.cycle_lengths=[6]",  # the schedule must not depend on max_iter for resume comparisons
]


def engine_env(output_root: Path, **extra: str) -> dict[str, str]:
    """A clean environment for an engine process: no secrets, one thread, W&B offline, own output root."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")
    }
    env.update(
        {
            "IMAGINAIRE_OUTPUT_ROOT": str(output_root),
            "OMP_NUM_THREADS": "1",
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(output_root / "wandb"),
        }
    )
    env.update(extra)
    return env


def torchrun_cmd(overrides: list[str], nproc: int = 2) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N -m cosmos_engine.train -- overrides``."""
    return [
        TORCHRUN,
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "cosmos_engine.train",
        "--",
        *overrides,
    ]


def python_cmd(overrides: list[str], *flags: str) -> list[str]:
    """The engine as one plain process: ``python -m cosmos_engine.train [flags] -- overrides``."""
    return [sys.executable, "-m", "cosmos_engine.train", *flags, "--", *overrides]


def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run to completion, capturing stdout and stderr."""
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def metrics(job_dir: Path) -> list[dict]:
    """The metrics.jsonl records of a job."""
    path = job_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
