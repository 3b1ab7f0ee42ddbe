"""Fixtures of the samples tests: a synthetic Waymo dataset and tiny builtin jobs trained on it
with real engine processes (``torchrun`` on CPU over gloo)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.waymo import synth_waymo

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


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic Waymo clips of 16 frames (64x96), their rule known (``paint.render_frames``)."""
    return synth_waymo(tmp_path_factory.mktemp("sdata") / "waymo", clips=2, frames=16, workers=2)


@pytest.fixture(scope="session")
def trained_job(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny job trained :data:`ITERS` iterations on two CPU ranks, one checkpoint at the end."""
    root = tmp_path_factory.mktemp("sout")
    return train(sample_data, root, "trained", f"trainer.max_iter={ITERS}", f"checkpoint.save_iter={ITERS}")


@pytest.fixture(scope="session")
def untouched_job(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A job whose one iteration ran at learning rate 0: its checkpoint holds the initial weights
    (a fine-tune that did not take)."""
    root = tmp_path_factory.mktemp("sout0")
    return train(
        sample_data,
        root,
        "untouched",
        "trainer.max_iter=1",
        "checkpoint.save_iter=1",
        "optimizer.lr=0",
        nproc=1,
    )
