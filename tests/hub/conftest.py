"""Fixtures for the hub tests: a running ``HfTestServer`` the real huggingface_hub client talks to,
and a small catalog whose models point at repos on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hub_world import ENCODER_FILES, GOOD_TOKEN, OTHER_TOKEN, TEST_CATALOG, WEIGHTS
from support.hf_test_server import HfTestServer

from cosmos_tui.core.catalog import Catalog, parse_catalog


@pytest.fixture
def hf_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HfTestServer]:
    """A Hub test server with two users and the repos of TEST_CATALOG; HF_ENDPOINT points at it."""
    from huggingface_hub import constants

    server = HfTestServer()
    server.add_user(GOOD_TOKEN, "alice")
    server.add_user(OTHER_TOKEN, "bob")
    server.add_repo(
        "acme/World-2B", {"ckpt/model_ema_bf16.pt": WEIGHTS, "README.md": b"x"}, gated=True, granted={"alice"}
    )
    server.add_repo("acme/Encoder-7B", ENCODER_FILES)
    server.add_repo("acme/Guard", {"guard.bin": b"g" * 5000}, gated=True, granted={"alice"})
    with server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        # Stream in 16 KiB chunks instead of 10 MiB, so small test files show progress and can be
        # interrupted mid-file (the library's knob, read at call time).
        monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
        yield server


@pytest.fixture
def catalog() -> Catalog:
    return parse_catalog(TEST_CATALOG)


@pytest.fixture
def logged_in(hf_server: HfTestServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Log in as alice through the real login path; returns the token."""
    from cosmos_tui.core import hub

    hub.login(GOOD_TOKEN)
    return GOOD_TOKEN
