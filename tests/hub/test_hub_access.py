"""check_access: one verdict per repo a model needs, from the Hub's real error signals."""

from __future__ import annotations

from hub_world import OTHER_TOKEN

from cosmos_tui.core import hub
from cosmos_tui.core.hub import AccessStatus


def _by_repo(results):
    return {r.repo_id: r for r in results}


def test_not_logged_in_on_gated_repos_ok_on_open_ones(hf_server, catalog) -> None:
    res = _by_repo(hub.check_access(catalog.get("acme-2b")))
    assert set(res) == {"acme/World-2B", "acme/Encoder-7B"}  # guardrail is inference-only
    assert res["acme/World-2B"].status is AccessStatus.NOT_LOGGED_IN
    assert res["acme/Encoder-7B"].status is AccessStatus.OK


def test_logged_in_with_licence_accepted_is_ok(hf_server, catalog, logged_in) -> None:
    res = hub.check_access(catalog.get("acme-2b"), inference=True)
    assert [r.status for r in res] == [AccessStatus.OK] * 3


def test_licence_not_accepted_names_the_page(hf_server, catalog, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", OTHER_TOKEN)  # bob has not accepted
    res = _by_repo(hub.check_access(catalog.get("acme-2b")))
    world = res["acme/World-2B"]
    assert world.status is AccessStatus.LICENCE_NOT_ACCEPTED
    assert world.page_url == f"{hf_server.url}/acme/World-2B"
    assert world.page_url in world.detail


def test_denied_disabled_missing_and_offline(hf_server, catalog, logged_in, monkeypatch) -> None:
    hf_server.repos["acme/World-2B"].forbidden.add("alice")
    hf_server.repos["acme/Guard"].disabled = True
    del hf_server.repos["acme/Encoder-7B"]
    res = _by_repo(hub.check_access(catalog.get("acme-2b"), inference=True))
    assert res["acme/World-2B"].status is AccessStatus.DENIED
    assert res["acme/Guard"].status is AccessStatus.DENIED
    assert res["acme/Encoder-7B"].status is AccessStatus.NOT_FOUND

    before = len(hf_server.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = hub.check_access(catalog.get("acme-2b"))
    assert {r.status for r in res} == {AccessStatus.OFFLINE}
    assert len(hf_server.requests) == before  # offline means no network at all


def test_missing_file_at_revision_is_not_found(hf_server, catalog, logged_in) -> None:
    hf_server.repos["acme/World-2B"].files.pop("ckpt/model_ema_bf16.pt")
    res = _by_repo(hub.check_access(catalog.get("acme-2b")))
    assert res["acme/World-2B"].status is AccessStatus.NOT_FOUND
    assert "ckpt/model_ema_bf16.pt" in res["acme/World-2B"].detail


def test_unreachable_hub_is_offline(catalog, monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    res = hub.check_access(catalog.get("acme-2b"))
    assert {r.status for r in res} == {AccessStatus.OFFLINE}
