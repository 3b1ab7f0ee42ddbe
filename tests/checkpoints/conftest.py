"""Fixtures for the checkpoint tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ckpt_dir(tmp_path: Path) -> Path:
    """An empty ``job/checkpoints`` folder."""
    path = tmp_path / "job" / "checkpoints"
    path.mkdir(parents=True)
    return path
