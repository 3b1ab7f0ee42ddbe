"""plan_download / download: only the needed files, sizes and disk checked first, resume after an
interruption (a Range request), HF cache and checkpoint-dir layouts, offline use without network."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hub_world import ENCODER_FILES, WEIGHTS

from cosmos_tui.core import hub
from cosmos_tui.core.errors import UserError
from cosmos_tui.core.hub import DownloadCancelled, settings


def test_plan_lists_exactly_the_needed_files_with_sizes(hf_server, catalog, logged_in) -> None:
    plan = hub.plan_download(catalog.get("acme-2b"))
    names = sorted((f.repo_id, f.filename) for f in plan.files)
    assert names == [
        ("acme/Encoder-7B", "config.json"),
        ("acme/Encoder-7B", "model-00001.safetensors"),  # big.safetensors excluded, README not included
        ("acme/World-2B", "ckpt/model_ema_bf16.pt"),
    ]
    assert plan.missing_bytes == len(WEIGHTS) + 200_000 + len(ENCODER_FILES["config.json"])
    assert plan.mode == "hf-cache" and plan.target == settings.hub_cache()
    assert plan.fits and not plan.blocked and not plan.unresolved
    assert not any(r.method == "GET" and "/resolve/" in r.path for r in hf_server.requests)  # nothing fetched


def test_download_into_hf_cache_then_present_offline(hf_server, catalog, logged_in, monkeypatch) -> None:
    model = catalog.get("acme-2b")
    events = []
    paths = hub.download(hub.plan_download(model), progress=events.append)
    weights = next(p for p in paths if p.name == "model_ema_bf16.pt")
    assert weights.read_bytes() == WEIGHTS
    assert "models--acme--World-2B" in str(weights) and "/snapshots/" in str(weights)
    assert events[-1].done == events[-1].total > 0
    assert any(e.finished for e in events)
    assert hub.weights_present(model)

    # The upstream code can now load it offline, through huggingface_hub's own cache lookup.
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache("acme/World-2B", "ckpt/model_ema_bf16.pt", cache_dir=settings.hub_cache())
    assert cached == str(weights)

    before = len(hf_server.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = hub.plan_download(model)
    assert plan.offline and plan.complete
    assert hub.download(plan) == [f.dest for f in plan.files]
    assert len(hf_server.requests) == before  # offline: no network at all


def test_second_download_fetches_nothing(hf_server, catalog, logged_in) -> None:
    model = catalog.get("acme-2b")
    hub.download(hub.plan_download(model))
    gets = len(hf_server.seen("GET", "/resolve/"))
    plan = hub.plan_download(model)
    assert plan.complete and plan.missing_bytes == 0 and not plan.access
    hub.download(plan)
    assert len(hf_server.seen("GET", "/resolve/")) == gets


def test_checkpoint_dir_layout(hf_server, catalog, logged_in, tmp_path: Path) -> None:
    model = catalog.get("acme-2b")
    plan = hub.plan_download(model, checkpoint_dir=tmp_path / "checkpoints")
    hub.download(plan)
    root = tmp_path / "checkpoints"
    assert (root / "acme/World-2B/ckpt/model_ema_bf16.pt").read_bytes() == WEIGHTS  # default: repo id
    assert (root / "encoders/Encoder-7B/config.json").exists()  # local_dir from the catalog
    assert not list(root.rglob("*.cosmos-partial"))
    assert hub.weights_present(model, checkpoint_dir=root)
    assert not hub.weights_present(model)  # nothing went to the HF cache


def test_dropped_connection_resumes_with_range(hf_server, catalog, logged_in) -> None:
    hf_server.drop_once.add(("acme/World-2B", "ckpt/model_ema_bf16.pt"))
    paths = hub.download(hub.plan_download(catalog.get("acme-2b")))
    assert next(p for p in paths if p.name == "model_ema_bf16.pt").read_bytes() == WEIGHTS
    gets = hf_server.seen("GET", "/acme/World-2B/resolve/")
    assert gets[0].range is None
    assert gets[1].range is not None and gets[1].range.startswith("bytes=")
    assert int(gets[1].range[6:].rstrip("-")) > 0


def test_interrupted_download_resumes_in_the_next_run(hf_server, catalog, logged_in) -> None:
    model = catalog.get("acme-2b")
    cancel = threading.Event()

    def stop_after_some(event) -> None:
        if event.file.filename == "ckpt/model_ema_bf16.pt" and event.file_done >= 100_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        hub.download(hub.plan_download(model), progress=stop_after_some, cancel=cancel)
    plan = hub.plan_download(model)
    weights = next(f for f in plan.files if f.filename == "ckpt/model_ema_bf16.pt")
    assert not weights.present and 0 < weights.partial_bytes < len(WEIGHTS)
    assert plan.missing_bytes < plan.total_bytes

    hub.download(plan)
    assert weights.dest.read_bytes() == WEIGHTS
    last = hf_server.seen("GET", "/acme/World-2B/resolve/")[-1]
    assert last.range == f"bytes={weights.partial_bytes}-"


def test_corrupted_partial_is_detected_and_removed(hf_server, catalog, logged_in) -> None:
    model = catalog.get("acme-2b")
    plan = hub.plan_download(model)
    weights = next(f for f in plan.files if f.filename == "ckpt/model_ema_bf16.pt")
    partial = settings.hub_cache() / "models--acme--World-2B" / "blobs" / f"{weights.etag}.cosmos-partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\xff" * 1000)  # bytes that are not the file's first 1000
    with pytest.raises(UserError, match="corrupted"):
        hub.download(hub.plan_download(model))
    assert not partial.exists()
    hub.download(hub.plan_download(model))
    assert weights.dest.read_bytes() == WEIGHTS


def test_not_enough_disk_space_refuses_before_fetching(hf_server, catalog, logged_in, monkeypatch) -> None:
    import cosmos_tui.core.hub.plan as plan_mod

    monkeypatch.setattr(plan_mod, "_free_bytes", lambda path: 1000)
    plan = hub.plan_download(catalog.get("acme-2b"))
    assert not plan.fits
    with pytest.raises(UserError, match="Not enough disk space"):
        hub.download(plan)
    assert not hf_server.seen("GET", "/resolve/")


def test_gated_without_access_refuses_before_fetching(hf_server, catalog) -> None:
    plan = hub.plan_download(catalog.get("acme-2b"))
    assert [a.repo_id for a in plan.blocked] == ["acme/World-2B"]
    with pytest.raises(UserError, match="not-logged-in"):
        hub.download(plan)
    assert not hf_server.seen("GET", "/resolve/")


def test_offline_with_missing_files_says_what_to_do(hf_server, catalog, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plan = hub.plan_download(catalog.get("acme-2b"))
    with pytest.raises(UserError, match="HF_HUB_OFFLINE=1"):
        hub.download(plan)
    assert not hf_server.requests


def test_missing_file_in_repo_is_unresolved(hf_server, catalog, logged_in) -> None:
    hf_server.repos["acme/World-2B"].files.pop("ckpt/model_ema_bf16.pt")
    plan = hub.plan_download(catalog.get("acme-2b"))
    assert any("ckpt/model_ema_bf16.pt" in u for u in plan.unresolved)
    with pytest.raises(UserError, match="Cannot plan"):
        hub.download(plan)
