"""The wizard's Hugging Face step against ``HfTestServer`` (a Hub-compatible test server on
127.0.0.1, spoken to by the real huggingface_hub client): login state, masked token entry,
per-repo access with the licence page of a gated repo, and the download with per-file progress
and the free disk shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import wait_for
from support.catalog_toml import ACME_WEIGHTS, acme_model, catalog, repo
from support.hf_test_server import HfTestServer
from support.replay_engine.checkout import make_fake_checkout
from textual.widgets import DataTable, Input

from cosmos_tui.core import catalog as catalog_mod
from cosmos_tui.tui.screens.new_run import NewRunScreen
from cosmos_tui.tui.screens.wizard_hub import DownloadStep, HubStep

ENGINE = "cosmos-predict2.5"  # acme-2b's engine: it runs from a checkout
TOKEN = "hf_WizardCanary0123456789abcdefXYZ"  # a canary: must never be shown

CATALOG = catalog(
    ACME_WEIGHTS,
    repo("encoder", "acme/Encoder-7B", "text-encoder", include=["*.json", "*.safetensors"]),
    acme_model("weights", "encoder"),
)

WEIGHTS = bytes(range(256)) * 1024  # 256 KiB: several 16 KiB chunks of progress
ENCODER = {"config.json": b'{"hidden": 8}', "model-00001.safetensors": b"s" * 100_000}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HfTestServer]:
    """The test server with one user who has not accepted the gated repo's licence yet, and the
    wizard's catalog pointing at it."""
    from huggingface_hub import constants

    server = HfTestServer()
    server.add_user(TOKEN, "bob")
    server.add_repo("acme/World-2B", {"ckpt/model_ema_bf16.pt": WEIGHTS}, gated=True)
    server.add_repo("acme/Encoder-7B", ENCODER)
    test_catalog = catalog_mod.parse_catalog(CATALOG)
    with server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)
        monkeypatch.setattr(catalog_mod, "load_catalog", lambda: test_catalog)
        yield server


def _cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


@pytest.mark.timeout(120)
async def test_login_access_licence_and_download(make_app, hub: HfTestServer, monkeypatch, tmp_path) -> None:
    steps: list[DownloadStep] = []
    original = HubStep.on_download_step

    def spy(self: HubStep, message: DownloadStep) -> None:
        steps.append(message)
        original(self, message)

    monkeypatch.setattr(HubStep, "on_download_step", spy)
    app = make_app(gpus=0)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewRunScreen))
        wizard = app.screen
        await wait_for(pilot, lambda: wizard.query_one("#model-table").row_count == 1)
        await pilot.press("ctrl+right")
        assert wizard.step == 1
        step = wizard.query_one(HubStep)
        state = wizard.query_one("#hub-state")
        access = wizard.query_one("#hub-access", DataTable)

        # Not logged in: said so, and the gated repo asks for a login first.
        await wait_for(pilot, lambda: "not logged in" in str(state.render()), timeout=30)
        assert access.row_count == 2 and not step.ready

        # The token goes into a masked field, is never drawn, and is cleared once used.
        box = wizard.query_one("#hub-token", Input)
        assert box.password
        box.focus()
        await pilot.press(*TOKEN)
        assert box.value == TOKEN
        assert TOKEN not in app.export_screenshot() and TOKEN[3:12] not in app.export_screenshot()
        await pilot.click("#hub-login")
        await wait_for(pilot, lambda: "logged in as bob" in str(state.render()), timeout=30)
        assert box.value == ""

        # Logged in, but the licence of the gated repo is not accepted: its page is shown.
        await wait_for(pilot, lambda: any("licence" in r[2] for r in _cells(access)), timeout=30)
        rows = {r[0]: r for r in _cells(access)}
        assert rows["acme/World-2B"][2] == "licence-not-accepted"
        assert f"accept the licence at {hub.url}/acme/World-2B" in rows["acme/World-2B"][3]
        assert rows["acme/Encoder-7B"][2] == "ok"
        assert not step.ready
        text = str(state.render())
        assert "files" in text and "to fetch" in text and "free" in text  # free disk before starting

        # The licence is accepted on the Hub; checking again clears the row.
        hub.repos["acme/World-2B"].granted.add("bob")
        await pilot.click("#hub-check")
        await wait_for(pilot, lambda: all(r[2] == "ok" for r in _cells(access)), timeout=30)

        # Download: progress per file, then the step is done.
        await pilot.click("#hub-download")
        await wait_for(pilot, lambda: step.ready, timeout=60)
        files = {s.filename for s in steps}
        assert {"ckpt/model_ema_bf16.pt", "config.json", "model-00001.safetensors"} <= files
        weights = [s for s in steps if s.filename == "ckpt/model_ema_bf16.pt"]
        assert len(weights) >= 2 and weights[-1].file_done == weights[-1].file_total == len(WEIGHTS)
        assert steps[-1].done == steps[-1].total == len(WEIGHTS) + sum(map(len, ENCODER.values()))
        await wait_for(pilot, lambda: "all 3 files on disk" in str(state.render()), timeout=30)
        assert TOKEN not in app.export_screenshot()
        # The weights are here; the engine's checkout is still to be given (Next says so).
        await pilot.press("ctrl+right")
        assert wizard.step == 1 and "checkout" in step.blocker
        checkout = wizard.query_one("#hub-checkout", Input)
        checkout.value = str(make_fake_checkout(tmp_path, ENGINE))
        checkout.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: step.blocker is None, timeout=30)
        await pilot.press("ctrl+right")
        assert wizard.step == 2  # on to the data step
