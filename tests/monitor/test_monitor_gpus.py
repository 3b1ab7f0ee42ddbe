"""The NVML choke point, against the FakeNvml test double and the real pynvml on this machine."""

from __future__ import annotations

from support.fake_nvml import FakeNvml, fake_device

from cosmos_tui.core.monitor.gpus import GpuClaim, GpuSampler


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_real_nvml_without_a_gpu_is_an_empty_state() -> None:
    # This machine has nvidia-ml-py but no driver: the real library must fail softly.
    snap = GpuSampler().poll()
    if snap.available:  # running on a GPU machine: devices are real
        assert snap.devices and snap.devices[0].mem_total_bytes
    else:
        assert snap.devices == () and snap.reason


def test_no_driver_reason_and_retry_later() -> None:
    fake = FakeNvml([fake_device(0)], init_error="library")
    clock = Clock()
    sampler = GpuSampler(fake, clock=clock, retry_init_s=30)
    snap = sampler.poll()
    assert not snap.available and "no NVIDIA driver" in (snap.reason or "")
    sampler.poll()
    assert fake.calls["init"] == 1  # no retry storm
    fake.init_error = None
    clock.t += 31
    assert sampler.poll().available
    assert (
        GpuSampler(FakeNvml(init_error="driver")).poll().reason.startswith("the NVIDIA driver is not loaded")
    )
    assert GpuSampler(FakeNvml([])).poll().reason == "NVML found no NVIDIA GPUs"


def test_readings_units_and_unsupported_fields() -> None:
    fake = FakeNvml([fake_device(0), fake_device(1, unsupported={"power", "temperature"}, util=3.0)])
    snap = GpuSampler(fake).poll()
    d0, d1 = snap.devices
    assert snap.driver_version == "570.124.06"
    assert (d0.util_percent, d0.mem_used_bytes, d0.mem_total_bytes) == (97.0, 61 << 30, 80 << 30)
    assert (d0.power_w, d0.power_limit_w, d0.sm_clock_mhz, d0.temperature_c) == (512.0, 700.0, 1980, 61.0)
    assert d1.power_w is None and d1.temperature_c is None and d1.util_percent == 3.0


def test_process_lists_at_most_every_two_seconds_and_cached_static_fields() -> None:
    fake = FakeNvml([fake_device(i, processes=[(1000 + i, 1 << 30)]) for i in range(8)])
    clock = Clock()
    sampler = GpuSampler(fake, clock=clock)
    for _ in range(5):
        sampler.poll()
        clock.t += 0.5
    assert fake.calls["processes"] == 8 * 2  # at t=0 and t=2.0
    assert fake.calls["util"] == 8 * 5
    assert fake.calls["name"] == 8  # static: read once
    fake.devices[3]["processes"] = [(4242, 5)]
    clock.t += 2
    assert [p.pid for p in sampler.poll().devices[3].processes] == [4242]


def test_lost_device_is_reported_not_raised() -> None:
    fake = FakeNvml([fake_device(0), fake_device(1)])
    sampler = GpuSampler(fake)
    sampler.poll()
    fake.devices[1]["lost"] = True
    snap = sampler.poll()
    assert snap.devices[0].error is None and "lost" in (snap.devices[1].error or "")


def test_runs_by_pid_and_by_assigned_devices_in_containers() -> None:
    fake = FakeNvml([fake_device(i, processes=[(900 + i, 1)]) for i in range(4)])
    claims = {
        "run-a": GpuClaim(pids=frozenset({900, 901, 55}), devices=frozenset({0, 1})),
        # a container: NVML shows host pids 902/903 that the run's own pids never match
        "run-b": GpuClaim(pids=frozenset({7, 8}), devices=frozenset({2, 3})),
        "run-c": GpuClaim(pids=frozenset({9})),
    }
    snap = GpuSampler(fake).poll(claims)
    assert [d.runs for d in snap.devices] == [("run-a",), ("run-a",), ("run-b",), ("run-b",)]
    assert snap.devices[0].processes[0].run_id == "run-a"
    assert snap.devices[2].processes[0].run_id is None


def test_every_nvml_user_goes_through_the_one_sampler(monkeypatch) -> None:
    """Preflight's GPU count, the machine-fit check and stop's memory reading share the process's
    sampler: NVML starts once, and no other module of the product calls it."""
    import ast
    from pathlib import Path

    import cosmos_tui
    from cosmos_tui.core import machine_fit, preflight
    from cosmos_tui.core.monitor import gpus
    from cosmos_tui.core.runs import stop

    fake = FakeNvml([fake_device(0, processes=[(4242, 3 << 30)]), fake_device(1, compute_capability=(8, 0))])
    monkeypatch.setattr(gpus, "_default", GpuSampler(fake))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert preflight.visible_gpus() == 1
    found = machine_fit.detect_gpus()
    assert [(g.index, g.memory_gb, g.compute_capability) for g in found] == [(0, 80.0, 9.0), (1, 80.0, 8.0)]
    assert stop._gpu_memory({4242, 1}) == 3 << 30
    assert fake.calls["init"] == 1 and fake.calls["name"] == 2  # started once, static read once

    monkeypatch.setattr(gpus, "_default", GpuSampler(FakeNvml(init_error="driver")))
    assert (
        preflight.visible_gpus() is None and machine_fit.detect_gpus() == () and stop._gpu_memory({1}) is None
    )

    root = Path(cosmos_tui.__file__).parent
    callers = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if "pynvml" in names:
                    callers.add(path.relative_to(root).as_posix())
    assert callers == {"core/monitor/gpus.py"}
