"""login / logout / whoami through the real huggingface_hub client against HfTestServer."""

from __future__ import annotations

import stat

import pytest
from hub_world import GOOD_TOKEN

from cosmos_tui.core import hub
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.hub import settings


def test_login_stores_token_0600_and_whoami_reads_it(hf_server) -> None:
    assert hub.whoami() is None
    account = hub.login(GOOD_TOKEN)
    assert account.name == "alice"
    assert account.token_source == "file"
    path = settings.token_path()
    assert path.read_text().strip() == GOOD_TOKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path).startswith(str(settings.hf_home()))
    again = hub.whoami()
    assert again is not None and again.name == "alice"
    assert hf_server.seen("GET", "/api/whoami-v2")[-1].token == GOOD_TOKEN


def test_login_with_bad_token_is_a_user_error_without_the_token(hf_server) -> None:
    bad = "hf_NotARealTokenAtAll1234567"
    with pytest.raises(UserError) as info:
        hub.login(bad)
    assert "rejected" in info.value.message
    assert bad not in info.value.message
    assert not settings.token_path().exists()


def test_logout_removes_token(hf_server) -> None:
    hub.login(GOOD_TOKEN)
    assert hub.logout() == "logged-out"
    assert not settings.token_path().exists()
    assert hub.whoami() is None
    assert hub.logout() == "not-logged-in"


def test_hf_token_env_takes_precedence_and_invalid_env_token_is_explained(hf_server, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    account = hub.whoami()
    assert account is not None and account.token_source == "env"
    monkeypatch.setenv("HF_TOKEN", "hf_ExpiredTokenValue000000")
    with pytest.raises(UserError) as info:
        hub.whoami()
    assert "HF_TOKEN" in info.value.message and "hf_Expired" not in info.value.message


def test_whoami_unreachable_endpoint_is_a_user_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    with pytest.raises(UserError) as info:
        hub.whoami()
    assert "Cannot reach" in info.value.message


def test_scrub_masks_tokens() -> None:
    text = f"failed with {GOOD_TOKEN} and hf_abcdefghij"
    assert GOOD_TOKEN not in settings.scrub(text)
    assert "hf_abcdefghij" not in settings.scrub(text)
