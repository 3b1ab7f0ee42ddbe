"""Fixtures of the engine tests: a small synthetic dataset with real mp4s."""

from __future__ import annotations

from pathlib import Path

import pytest

from cosmos_tui.core.datasets.synth import synthesize


@pytest.fixture(scope="session")
def waymo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Predict1 Waymo dataset: 3 clips x 12 frames of 64x96 video per view, T5 pickles."""
    return synthesize(
        tmp_path_factory.mktemp("data") / "waymo", "predict1-waymo", clips=3, frames=12, workers=2
    )
