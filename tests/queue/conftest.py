"""Fixtures of the queue tests: a small synthetic dataset, shared by the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.waymo import synth_waymo


@pytest.fixture(scope="session")
def queue_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Predict1 Waymo dataset: 2 clips x 12 frames per view (the tiny builtin model's input)."""
    return synth_waymo(tmp_path_factory.mktemp("queuedata") / "waymo", clips=2, frames=12)
