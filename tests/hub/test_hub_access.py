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


PIN = "0123456789abcdef0123456789abcdef01234567"


def _pinned(model, *repo_ids: str):
    """``model`` with the repos ``repo_ids`` at the commit PIN, as an engine adapter pins them."""
    repos = tuple(r.model_copy(update={"revision": PIN}) if r.repo_id in repo_ids else r for r in model.repos)
    return model.model_copy(update={"repos": repos})


def test_a_pinned_revision_that_answers_403_is_not_a_licence_problem(hf_server, catalog, logged_in) -> None:
    """After the Hub's storage migration an old pin can answer a plain 403 (no GatedRepo code)
    while main reads: the verdict names the revision and says to update or drop the pin."""
    for repo_id in ("acme/World-2B", "acme/Encoder-7B"):
        hf_server.repos[repo_id].revisions.add(PIN)
        hf_server.repos[repo_id].forbidden_revisions.add(PIN)
    model = _pinned(catalog.get("acme-2b"), "acme/World-2B", "acme/Encoder-7B")
    res = _by_repo(hub.check_access(model))
    for repo_id in ("acme/World-2B", "acme/Encoder-7B"):  # one exact file; one whole repo
        verdict = res[repo_id]
        assert verdict.status is AccessStatus.REVISION_FORBIDDEN, (repo_id, verdict.detail)
        assert PIN in verdict.detail and "main" in verdict.detail
        assert "cosmos-predict2.5 checkout" in verdict.detail and "licence" not in verdict.detail
    # What was asked: the file at the pin, then the same file at main.
    asked = [r.path for r in hf_server.seen("HEAD", "acme/World-2B/resolve")]
    assert asked == [
        f"/acme/World-2B/resolve/{PIN}/ckpt/model_ema_bf16.pt",
        "/acme/World-2B/resolve/main/ckpt/model_ema_bf16.pt",
    ]


def test_gated_403_at_a_pin_is_still_the_licence(hf_server, catalog, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", OTHER_TOKEN)  # bob has not accepted World-2B's licence
    hf_server.repos["acme/World-2B"].revisions.add(PIN)
    hf_server.repos["acme/World-2B"].forbidden_revisions.add(PIN)
    world = _by_repo(hub.check_access(_pinned(catalog.get("acme-2b"), "acme/World-2B")))["acme/World-2B"]
    assert world.status is AccessStatus.LICENCE_NOT_ACCEPTED
    assert f"accept the licence at {hf_server.url}/acme/World-2B" == world.detail


def test_a_403_at_the_pin_and_at_main_is_the_token(hf_server, catalog, logged_in) -> None:
    hf_server.repos["acme/World-2B"].revisions.add(PIN)
    hf_server.repos["acme/World-2B"].forbidden.add("alice")
    world = _by_repo(hub.check_access(_pinned(catalog.get("acme-2b"), "acme/World-2B")))["acme/World-2B"]
    assert world.status is AccessStatus.DENIED and "permissions" in world.detail


def test_a_pin_the_repo_does_not_have_says_so(hf_server, catalog, logged_in) -> None:
    res = _by_repo(hub.check_access(_pinned(catalog.get("acme-2b"), "acme/World-2B", "acme/Encoder-7B")))
    for repo_id in ("acme/World-2B", "acme/Encoder-7B"):
        assert res[repo_id].status is AccessStatus.NOT_FOUND
        assert f"revision {PIN} is not in {repo_id}" in res[repo_id].detail


def test_datasets_are_checked_at_the_revision_upstream_pins(hf_server, logged_in) -> None:
    """A model's training data is a dataset repo (``/api/datasets/...``, ``/datasets/.../resolve``);
    its pinned revision can answer 403 like a model's, and the fix is about the download command."""
    from support.catalog_toml import ACME_WEIGHTS, catalog, model

    from cosmos_tui.core.catalog import parse_catalog

    text = catalog(
        ACME_WEIGHTS,
        f'[datasets.clips]\nrepo_id = "acme/Clips"\nrevision = "{PIN}"\nsubdir = "sft"\n',
        '[datasets.filter]\nrepo_id = "acme/Filters"\nrepo_type = "model"\nfiles = ["keep.json"]\n',
        model(
            "acme-2b",
            "cosmos-framework",
            "cosmos3-vision-jsonl",
            uses=["weights"],
            datasets=["clips", "filter"],
        ),
    )
    m = parse_catalog(text).get("acme-2b")
    clips = hf_server.add_repo("datasets/acme/Clips", {"README.md": b"r", "sft/a.jsonl": b"{}"})
    clips.revisions.add(PIN)
    hf_server.add_repo("acme/Filters", {"keep.json": b"{}"})
    assert [r.repo_id for r in hub.check_access(m)] == ["acme/World-2B"]  # datasets only when asked

    res = _by_repo(hub.check_access(m, datasets=True))
    assert res["acme/Clips"].status is AccessStatus.OK and res["acme/Clips"].repo_type == "dataset"
    assert res["acme/Clips"].page_url == f"{hf_server.url}/datasets/acme/Clips"
    assert res["acme/Filters"].status is AccessStatus.OK and res["acme/Filters"].repo_type == "model"
    assert hf_server.seen("HEAD", f"/datasets/acme/Clips/resolve/{PIN}/README.md")

    clips.forbidden_revisions.add(PIN)
    verdict = _by_repo(hub.check_access(m, datasets=True))["acme/Clips"]
    assert verdict.status is AccessStatus.REVISION_FORBIDDEN
    assert f"drop --revision {PIN}" in verdict.detail and "--repo-type dataset acme/Clips" in verdict.detail
    del hf_server.repos["datasets/acme/Clips"]
    assert _by_repo(hub.check_access(m, datasets=True))["acme/Clips"].status is AccessStatus.NOT_FOUND
