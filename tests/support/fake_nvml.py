"""``FakeNvml``: a TEST DOUBLE for the ``pynvml`` module, for machines without an NVIDIA GPU.

It answers the handful of NVML functions :class:`~cosmos_tui.core.monitor.gpus.GpuSampler` calls,
from a list of device dicts the test controls, counts every call (so tests can check the 2 s
process-list rate limit), and can fail the way a machine without a driver fails. It is shipped so
the tests, the benchmarks and the TUI's snapshot tests share one double; nothing in the product
uses it unless a caller passes it in explicitly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2


class NVMLError(Exception):
    """Stand-in for ``pynvml.NVMLError`` (``value`` is the NVML return code)."""

    def __init__(self, value: int, message: str = "") -> None:
        super().__init__(message or f"NVML error {value}")
        self.value = value


class NVMLError_LibraryNotFound(NVMLError):
    """No libnvidia-ml.so (no driver installed)."""


class NVMLError_DriverNotLoaded(NVMLError):
    """The kernel driver is not loaded."""


class NVMLError_NotSupported(NVMLError):
    """The device does not support this query."""


@dataclass
class _Util:
    gpu: float
    memory: float


@dataclass
class _Mem:
    total: int
    used: int
    free: int


@dataclass
class _Proc:
    pid: int
    usedGpuMemory: int | None


def fake_device(index: int, **over: Any) -> dict[str, Any]:
    """A plausible H100 reading; ``over`` replaces fields (``processes`` is a list of (pid, bytes))."""
    dev = {
        "name": "NVIDIA H100 80GB HBM3 (FakeNvml)",
        "uuid": f"GPU-fake-{index:04d}",
        "util": 97.0,
        "mem_util": 41.0,
        "mem_total": 80 << 30,
        "mem_used": 61 << 30,
        "temp": 61.0,
        "power_mw": 512_000,
        "power_limit_mw": 700_000,
        "sm_clock": 1980,
        "mem_clock": 2619,
        "compute_capability": (9, 0),
        "processes": [],
        "unsupported": set(),
    }
    dev.update(over)
    return dev


@dataclass
class FakeNvml:
    """TEST DOUBLE of the ``pynvml`` module. ``init_error`` is ``"library"`` or ``"driver"`` to
    fail like a machine without a driver."""

    devices: list[dict[str, Any]] = field(default_factory=list)
    init_error: str | None = None
    driver_version: str = "570.124.06"
    calls: Counter = field(default_factory=Counter)

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVML_CLOCK_SM = NVML_CLOCK_SM
    NVML_CLOCK_MEM = NVML_CLOCK_MEM

    def _dev(self, handle: int, what: str) -> dict[str, Any]:
        self.calls[what] += 1
        dev = self.devices[handle]
        if what in dev["unsupported"]:
            raise NVMLError_NotSupported(3, "Not Supported")
        if dev.get("lost"):
            raise NVMLError(15, "GPU is lost")
        return dev

    def nvmlInit(self) -> None:
        self.calls["init"] += 1
        if self.init_error == "library":
            raise NVMLError_LibraryNotFound(12, "NVML Shared Library Not Found")
        if self.init_error == "driver":
            raise NVMLError_DriverNotLoaded(9, "Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.calls["shutdown"] += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, h: int) -> str:
        return self._dev(h, "name")["name"]

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return self._dev(h, "uuid")["uuid"]

    def nvmlDeviceGetUtilizationRates(self, h: int) -> _Util:
        d = self._dev(h, "util")
        return _Util(d["util"], d["mem_util"])

    def nvmlDeviceGetMemoryInfo(self, h: int) -> _Mem:
        d = self._dev(h, "memory")
        return _Mem(d["mem_total"], d["mem_used"], d["mem_total"] - d["mem_used"])

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> float:
        return self._dev(h, "temperature")["temp"]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        return self._dev(h, "power")["power_mw"]

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:
        return self._dev(h, "power_limit")["power_limit_mw"]

    def nvmlDeviceGetClockInfo(self, h: int, clock: int) -> int:
        d = self._dev(h, "clock")
        return d["sm_clock"] if clock == NVML_CLOCK_SM else d["mem_clock"]

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:
        return self._dev(h, "compute_capability")["compute_capability"]

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[_Proc]:
        d = self._dev(h, "processes")
        return [_Proc(pid, used) for pid, used in d["processes"]]
