"""Fixtures of the reliability suite: one small synthetic dataset and a per-module state root, so
module-scoped runs (shared between assertions) and the tests that read them see the same registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waymo import synth_waymo


@pytest.fixture(scope="session")
def rel_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Predict1 Waymo dataset: 2 clips x 12 frames of 64x96 video per view, with T5 pickles."""
    return synth_waymo(tmp_path_factory.mktemp("reldata") / "waymo", clips=2, frames=12)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state root, output root and W&B dir shared by one module (set while its fixtures run)."""
    home = tmp_path_factory.mktemp("relhome")
    with pytest.MonkeyPatch.context() as mp:
        _point_at(mp, home)
        yield home


@pytest.fixture
def in_module_home(isolated_home: Path, module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point this test at the module's state root (after the per-test isolation)."""
    _point_at(monkeypatch, module_home)
    return module_home


def _point_at(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("COSMOS_TUI_HOME", str(home / "state"))
    mp.setenv("IMAGINAIRE_OUTPUT_ROOT", str(home / "output"))
    mp.setenv("HF_HOME", str(home / "hf"))
    mp.setenv("WANDB_MODE", "offline")
    mp.setenv("WANDB_DIR", str(home / "wandb"))
    mp.setenv("WANDB_SILENT", "true")
    mp.setenv("OMP_NUM_THREADS", "1")
    for secret in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY"):
        mp.delenv(secret, raising=False)
