"""Fixtures of the samples tests: a synthetic Waymo dataset and tiny builtin jobs trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_jobs import ITERS, train
from support.waymo import synth_waymo


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
