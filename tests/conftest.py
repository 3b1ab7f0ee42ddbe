"""Test isolation shared by every level: each test gets its own state root, HF home and W&B dir,
so nothing touches the developer's real ~/.cache or ~/.local/state, and W&B never goes online."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COSMOS_TUI_HOME", str(home / "state"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(home / "wandb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("IMAGINAIRE_OUTPUT_ROOT", str(home / "output"))
    for secret in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY"):
        monkeypatch.delenv(secret, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    return home


@pytest.fixture
def term(tmp_path: Path):
    """A real terminal (tmux, 120x36) for the tests that drive the app or a shell through one;
    skipped without tmux unless ``COSMOS_TUI_REQUIRE_TMUX=1`` (``.ci/run`` installs it)."""
    import shutil

    from support.tmux import Tmux

    if shutil.which("tmux") is None:
        if os.environ.get("COSMOS_TUI_REQUIRE_TMUX") == "1":
            pytest.fail("COSMOS_TUI_REQUIRE_TMUX=1 but tmux is not installed")
        pytest.skip("tmux is not installed (.ci/run installs it)")
    t = Tmux(tmp_path, width=120, height=36)
    yield t
    t.close()
