"""`cosmos-tui gpus` through CliRunner: the empty state here, a table and JSON with FakeNvml."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from support.fake_nvml import FakeNvml, fake_device
from typer.testing import CliRunner

from cosmos_tui.cli.app import app
from cosmos_tui.cli.gpus import render_table
from cosmos_tui.core.monitor import gpus as gpus_mod
from cosmos_tui.core.monitor.gpus import GpuSampler


@pytest.fixture
def fake_sampler(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    fake = FakeNvml([fake_device(0, processes=[(4321, 3 << 30)]), fake_device(1, unsupported={"power"})])
    monkeypatch.setattr(gpus_mod, "_default", GpuSampler(fake))
    return fake


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpus_mod, "_default", GpuSampler(FakeNvml(init_error="library")))


def test_empty_state_exits_zero(no_gpu: None) -> None:
    result = CliRunner().invoke(app, ["gpus"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "No GPUs to show: no NVIDIA driver found" in result.stderr
    result = CliRunner().invoke(app, ["gpus", "--json"])
    data = json.loads(result.stdout)
    assert data["available"] is False and data["devices"] == [] and "driver" in data["reason"]


def test_this_machine_never_crashes() -> None:
    monkey_free = CliRunner().invoke(app, ["gpus", "--json"])
    assert monkey_free.exit_code == 0
    assert "available" in json.loads(monkey_free.stdout)


def test_table_and_json(fake_sampler: FakeNvml) -> None:
    result = CliRunner().invoke(app, ["gpus"])
    assert result.exit_code == 0, result.output
    assert "GPUs (driver 570.124.06)" in result.stdout and result.stderr == ""
    wide = Console(width=200, record=True, file=io.StringIO())
    wide.print(render_table(gpus_mod.default_sampler().poll()))
    text = wide.export_text()
    assert "H100" in text and "4321 (3.0 GiB)" in text and "61.0/80.0" in text and "512/700" in text
    data = json.loads(CliRunner().invoke(app, ["gpus", "--json"]).stdout)
    assert [d["index"] for d in data["devices"]] == [0, 1]
    assert data["devices"][1]["power_w"] is None and data["devices"][0]["processes"][0]["pid"] == 4321


def test_watch_with_count(fake_sampler: FakeNvml) -> None:
    result = CliRunner().invoke(app, ["gpus", "--watch", "--interval", "0.25", "--count", "2", "--json"])
    assert result.exit_code == 0
    assert result.stdout.count('"available": true') == 2
    assert fake_sampler.calls["shutdown"] == 1
    bad = CliRunner().invoke(app, ["gpus", "--interval", "0.01"])
    assert bad.exit_code == 2
