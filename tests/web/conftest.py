"""Fixtures for the web tests: ``cosmos-tui web`` as a real subprocess on a free port, and a real
headless Chromium (skipped with a reason where it is not installed, unless
``COSMOS_TUI_REQUIRE_BROWSER=1``, which .ci/run sets once it has installed it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tui_world (tests/tui): runs written as the registry writes them, shared with the tmux tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui"))

from support.browser import Browser, chromium_paths
from web_helpers import WebServer


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebServer]:
    """A running ``cosmos-tui web`` with a fresh random token."""
    server = WebServer(tmp_path)
    yield server
    server.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    paths = chromium_paths()
    if paths is None:
        if os.environ.get("COSMOS_TUI_REQUIRE_BROWSER") == "1":
            pytest.fail("COSMOS_TUI_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed")
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them from apt)")
    b = Browser(*paths)
    yield b
    b.close()
