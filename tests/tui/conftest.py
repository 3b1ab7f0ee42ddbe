"""Fixtures for the TUI tests: a fixed runs directory written through the real run registry, a
fixed clock, a fixed free-space probe, and the NVML test double (``FakeNvml``) behind the real
``GpuSampler``, so images are the same on every machine."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.fake_nvml import FakeNvml
from tui_world import FREE_DISK, NOW, RUN_FAILED, RUN_OK, fake_gpus, write_run

from cosmos_tui.core.monitor.gpus import GpuSampler
from cosmos_tui.core.monitor.notify import NotifyConfig
from cosmos_tui.core.runs.record import RunRecord
from cosmos_tui.tui.app import CosmosApp
from cosmos_tui.tui.backend import Backend


@pytest.fixture
def fixed_runs() -> list[RunRecord]:
    """Two ended runs: one finished with checkpoints, one failed."""
    return [
        write_run(
            RUN_FAILED,
            status="failed",
            iters=12,
            max_iter=40,
            exit_code=1,
            reason="rank 1 exited with code 1",
            experiment="s2mv_video2world_tiny",
            started=NOW - 3000,
        ),
        write_run(
            RUN_OK, status="finished", iters=40, max_iter=40, exit_code=0, checkpoints=(10, 20, 30, 40)
        ),
    ]


@pytest.fixture
def make_app() -> Callable[..., CosmosApp]:
    """The app with a fixed clock, fixed free space, no notifications and two fake GPUs (or none:
    a machine without a driver)."""

    def factory(
        *,
        gpus: int = 2,
        initial_run_id: str | None = None,
        nvml: FakeNvml | None = None,
        notify: NotifyConfig | None = None,
        free: int = FREE_DISK,
    ) -> CosmosApp:
        nvml = nvml or (fake_gpus(gpus) if gpus else FakeNvml(init_error="library"))
        backend = Backend(
            clock=lambda: NOW,
            gpu_sampler=GpuSampler(nvml),
            disk_free=lambda path: free,
            notify=notify or NotifyConfig(),
        )
        return CosmosApp(backend, initial_run_id=initial_run_id)

    return factory


@pytest.fixture(autouse=True)
def halfcell_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample images drawn as half-blocks with a fixed cell size (10x20 pixels, textual-image's
    own default), so a snapshot never depends on the terminal pytest runs in."""
    from textual_image._terminal import CellSize, get_cell_size

    monkeypatch.setenv("COSMOS_TUI_IMAGES", "halfcell")
    monkeypatch.setattr(get_cell_size, "_result", CellSize(10, 20), raising=False)
