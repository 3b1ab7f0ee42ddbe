"""GPUs via NVML (nvidia-ml-py), through one choke point.

:class:`GpuSampler` is the only code that calls NVML: it initialises lazily on the first poll,
serialises calls with a lock (NVML calls serialise in the driver anyway), caches what never
changes (name, UUID, memory total, power limit), and refreshes the slow per-device process lists
at most every ``process_interval_s`` (2 s; ``nvmlDeviceGetComputeRunningProcesses`` costs
milliseconds where utilisation costs microseconds). No driver, no library or no GPU gives an
empty snapshot with a reason, never an exception.

Runs are matched to devices by the pids of their process trees; inside a container NVML reports
host pids that match nothing, so a run whose pids are never seen falls back to its assigned
devices (``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NOT_SUPPORTED = 3  # NVML_ERROR_NOT_SUPPORTED


@dataclass(frozen=True)
class GpuClaim:
    """What a run holds: the pids of its process tree and the device indices it was given."""

    pids: frozenset[int] = frozenset()
    """Pids of the run's processes (the whole tree)."""
    devices: frozenset[int] | None = None
    """Device indices assigned to the run; ``None`` when unknown."""


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a device."""

    pid: int
    """The pid as NVML reports it (a host pid inside containers)."""
    used_memory_bytes: int | None
    """Device memory it holds, when the driver tells."""
    run_id: str | None = None
    """The run whose tree holds this pid."""


@dataclass(frozen=True)
class GpuDevice:
    """One device at one moment. A reading the device does not support is ``None``."""

    index: int
    """NVML index."""
    name: str
    """Product name."""
    uuid: str
    """``GPU-...`` UUID."""
    util_percent: float | None = None
    """GPU utilisation over the last sample period, %."""
    mem_util_percent: float | None = None
    """Memory-controller utilisation, %."""
    mem_used_bytes: int | None = None
    """Device memory in use."""
    mem_total_bytes: int | None = None
    """Device memory in total."""
    temperature_c: float | None = None
    """Core temperature, °C."""
    power_w: float | None = None
    """Power draw, W."""
    power_limit_w: float | None = None
    """Enforced power limit, W."""
    sm_clock_mhz: int | None = None
    """SM clock, MHz."""
    mem_clock_mhz: int | None = None
    compute_capability: float | None = None
    """CUDA compute capability (9.0 for Hopper)."""
    """Memory clock, MHz."""
    processes: tuple[GpuProcess, ...] = ()
    """Compute processes (refreshed at most every ``process_interval_s``)."""
    runs: tuple[str, ...] = ()
    """Runs using this device."""
    error: str | None = None
    """Why the device could not be read (e.g. fell off the bus)."""


@dataclass(frozen=True)
class GpuSnapshot:
    """All devices at one moment; ``available`` is False with a ``reason`` when there is no GPU."""

    available: bool
    """Whether NVML answered."""
    reason: str | None = None
    """Why there are no devices (no driver, no library, no GPU)."""
    driver_version: str | None = None
    """NVIDIA driver version."""
    devices: tuple[GpuDevice, ...] = field(default=())
    """The devices, by index."""
    taken_at: float = 0.0
    """Wall-clock time of the sample."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, ImportError):
        return "nvidia-ml-py is not installed, so GPUs cannot be read (pip install nvidia-ml-py)"
    if "LibraryNotFound" in name:
        return "no NVIDIA driver found on this machine (libnvidia-ml.so is missing)"
    if "DriverNotLoaded" in name:
        return "the NVIDIA driver is not loaded (is this a GPU machine? try nvidia-smi)"
    if "NoPermission" in name:
        return "no permission to query the NVIDIA driver"
    return f"NVML failed to start: {exc}"


class GpuSampler:
    """The NVML choke point. ``nvml`` is the ``pynvml`` module (imported on first use) or a test
    double with the same functions, such as ``FakeNvml`` (tests/support/fake_nvml.py)."""

    def __init__(
        self,
        nvml: Any | None = None,
        *,
        process_interval_s: float = 2.0,
        retry_init_s: float = 30.0,
        clock=time.monotonic,
    ) -> None:
        self._nvml = nvml
        self.process_interval_s = process_interval_s
        self.retry_init_s = retry_init_s
        self._clock = clock
        self._lock = threading.Lock()
        self._ready = False
        self._failed: tuple[float, str] | None = None
        self._handles: list[Any] = []
        self._static: list[dict[str, Any]] = []
        self._driver: str | None = None
        self._procs: list[tuple[GpuProcess, ...]] = []
        self._procs_at: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def _init(self) -> str | None:
        now = self._clock()
        if self._ready:
            return None
        if self._failed and now - self._failed[0] < self.retry_init_s:
            return self._failed[1]
        try:
            if self._nvml is None:
                import pynvml  # deferred: pynvml, only when GPUs are sampled

                self._nvml = pynvml
            nv = self._nvml
            nv.nvmlInit()
            count = nv.nvmlDeviceGetCount()
            self._handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._driver = _text(self._call(nv.nvmlSystemGetDriverVersion))
            self._static = [self._read_static(h) for h in self._handles]
        except Exception as e:  # any NVML failure means "no GPUs here", never a crash
            self._failed = (now, _reason(e))
            return self._failed[1]
        self._ready = True
        self._failed = None
        if not self._handles:
            return "NVML found no NVIDIA GPUs"
        return None

    def close(self) -> None:
        """Shut NVML down (safe to call twice; a later poll starts it again)."""
        with self._lock:
            if self._ready and self._nvml is not None:
                try:
                    self._nvml.nvmlShutdown()
                except Exception:
                    pass
            self._ready = False
            self._procs_at = None

    # -- reads ---------------------------------------------------------------------------------
    def _call(self, fn, *args) -> Any:
        """One NVML call; ``None`` when the device does not support it."""
        try:
            return fn(*args)
        except self._nvml.NVMLError as e:
            if getattr(e, "value", None) == NOT_SUPPORTED or "NotSupported" in type(e).__name__:
                return None
            raise

    def _read_static(self, h: Any) -> dict[str, Any]:
        nv = self._nvml
        mem = self._call(nv.nvmlDeviceGetMemoryInfo, h)
        limit = self._call(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        cc = self._call(nv.nvmlDeviceGetCudaComputeCapability, h)
        return {
            "compute_capability": None if cc is None else cc[0] + cc[1] / 10,
            "name": _text(self._call(nv.nvmlDeviceGetName, h) or "NVIDIA GPU"),
            "uuid": _text(self._call(nv.nvmlDeviceGetUUID, h) or ""),
            "mem_total_bytes": None if mem is None else int(mem.total),
            "power_limit_w": None if limit is None else limit / 1000.0,
        }

    def _read_processes(self, h: Any) -> tuple[GpuProcess, ...]:
        infos = self._call(self._nvml.nvmlDeviceGetComputeRunningProcesses, h) or []
        out = []
        for info in infos:
            used = getattr(info, "usedGpuMemory", None)
            out.append(GpuProcess(int(info.pid), None if used is None else int(used)))
        return tuple(out)

    def _read_device(self, i: int, h: Any, procs: tuple[GpuProcess, ...]) -> GpuDevice:
        nv = self._nvml
        st = self._static[i]
        try:
            util = self._call(nv.nvmlDeviceGetUtilizationRates, h)
            mem = self._call(nv.nvmlDeviceGetMemoryInfo, h)
            temp = self._call(nv.nvmlDeviceGetTemperature, h, getattr(nv, "NVML_TEMPERATURE_GPU", 0))
            power = self._call(nv.nvmlDeviceGetPowerUsage, h)
            sm = self._call(nv.nvmlDeviceGetClockInfo, h, getattr(nv, "NVML_CLOCK_SM", 1))
            memclk = self._call(nv.nvmlDeviceGetClockInfo, h, getattr(nv, "NVML_CLOCK_MEM", 2))
        except Exception as e:
            return GpuDevice(
                i,
                st["name"],
                st["uuid"],
                mem_total_bytes=st["mem_total_bytes"],
                compute_capability=st["compute_capability"],
                error=str(e),
            )
        return GpuDevice(
            index=i,
            name=st["name"],
            uuid=st["uuid"],
            util_percent=None if util is None else float(util.gpu),
            mem_util_percent=None if util is None else float(util.memory),
            mem_used_bytes=None if mem is None else int(mem.used),
            mem_total_bytes=st["mem_total_bytes"],
            temperature_c=None if temp is None else float(temp),
            power_w=None if power is None else power / 1000.0,
            power_limit_w=st["power_limit_w"],
            sm_clock_mhz=None if sm is None else int(sm),
            mem_clock_mhz=None if memclk is None else int(memclk),
            compute_capability=st["compute_capability"],
            processes=procs,
        )

    def inventory(self) -> tuple[GpuDevice, ...] | None:
        """The devices with what never changes (name, UUID, memory total, power limit, compute
        capability), without reading them; ``None`` when NVML cannot start here."""
        with self._lock:
            self._init()
            if not self._ready:
                return None
            return tuple(
                GpuDevice(
                    i,
                    st["name"],
                    st["uuid"],
                    mem_total_bytes=st["mem_total_bytes"],
                    power_limit_w=st["power_limit_w"],
                    compute_capability=st["compute_capability"],
                )
                for i, st in enumerate(self._static)
            )

    def memory_of(self, pids: set[int]) -> int | None:
        """Bytes of device memory ``pids`` hold now, over every device (read fresh, not from the
        process-list cache); ``None`` when NVML cannot start here."""
        with self._lock:
            self._init()
            if not self._ready:
                return None
            try:
                procs = [p for h in self._handles for p in self._read_processes(h)]
            except Exception:
                return None
        return sum(p.used_memory_bytes or 0 for p in procs if p.pid in pids)

    def poll(self, claims: Mapping[str, GpuClaim] | None = None) -> GpuSnapshot:
        """One snapshot of every device, with runs attributed from ``claims`` (run id -> claim)."""
        with self._lock:
            reason = self._init()
            if not self._ready or not self._handles:
                return GpuSnapshot(False, reason=reason, driver_version=self._driver, taken_at=time.time())
            now = self._clock()
            if self._procs_at is None or now - self._procs_at >= self.process_interval_s:
                procs: list[tuple[GpuProcess, ...]] = []
                for h in self._handles:
                    try:
                        procs.append(self._read_processes(h))
                    except Exception:
                        procs.append(())
                self._procs, self._procs_at = procs, now
            devices = [self._read_device(i, h, self._procs[i]) for i, h in enumerate(self._handles)]
        if claims:
            devices = attribute_runs(devices, claims)
        return GpuSnapshot(True, driver_version=self._driver, devices=tuple(devices), taken_at=time.time())


def attribute_runs(devices: list[GpuDevice], claims: Mapping[str, GpuClaim]) -> list[GpuDevice]:
    """Mark which run uses which device: by pid where NVML's pids match a run's tree; for a run
    none of whose pids NVML reports (a container's pid namespace), by its assigned devices."""
    owner = {pid: run for run, claim in claims.items() for pid in claim.pids}
    matched_runs = {owner[p.pid] for d in devices for p in d.processes if p.pid in owner}
    out = []
    for d in devices:
        procs = tuple(
            GpuProcess(p.pid, p.used_memory_bytes, owner.get(p.pid)) if p.pid in owner else p
            for p in d.processes
        )
        runs = {p.run_id for p in procs if p.run_id}
        for run, claim in claims.items():
            if run not in matched_runs and claim.devices is not None and d.index in claim.devices:
                runs.add(run)
        out.append(dataclasses.replace(d, processes=procs, runs=tuple(sorted(runs))))
    return out


_default: GpuSampler | None = None
_default_lock = threading.Lock()


def default_sampler() -> GpuSampler:
    """The process-wide sampler every caller shares (one NVML user per process): NVML starts on
    its first poll and is shut down when the process exits."""
    global _default
    with _default_lock:
        if _default is None:
            _default = GpuSampler()
            atexit.register(_default.close)
        return _default
