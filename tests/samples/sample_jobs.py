"""Training tiny builtin jobs for the samples tests with real engine processes (``torchrun`` on
CPU over gloo)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # the engine tests' process runners
from engine_runs import engine_env, run, torchrun_cmd

EXPERIMENT = "s2mv_text2world_tiny"
ITERS = 16
"""Iterations the trained job runs: enough for the tiny model to learn the clips' colours."""


def train(data: Path, root: Path, name: str, *overrides: str, nproc: int = 2) -> Path:
    """Train a tiny job named ``name`` with ``torchrun --standalone``; returns its job folder."""
    overrides = (
        f"experiment={EXPERIMENT}",
        f"dataloader_train.dataset.dataset_dir={data}",
        f"job.name={name}",
        "trainer.logging_iter=8",
        *overrides,
    )
    proc = run(torchrun_cmd(list(overrides), nproc), engine_env(root), timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root / "cosmos_engine" / "s2mv_text2world" / name
