"""Fixtures of the engine tests: a small synthetic dataset with real mp4s."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from support.waymo import synth_waymo


@pytest.fixture(scope="session")
def waymo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Predict1 Waymo dataset: 3 clips x 12 frames of 64x96 video per view, T5 pickles."""
    return synth_waymo(tmp_path_factory.mktemp("data") / "waymo", clips=3, frames=12, workers=2)


@pytest.fixture(autouse=True)
def engine_logger_reset():
    """In-process ``main()`` calls bind the engine logger to the captured stdout of that test; unbind it."""
    yield
    logger = logging.getLogger("cosmos_engine")
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
