"""Can this machine post-train a model? GPUs are detected with nvidia-ml-py, lazily."""

from __future__ import annotations

from dataclasses import dataclass

from cosmos_tui.core.catalog import ModelSpec
from cosmos_tui.core.monitor.gpus import default_sampler


@dataclass(frozen=True)
class Gpu:
    """One GPU as NVML reports it."""

    index: int
    name: str
    memory_gb: float
    compute_capability: float


@dataclass(frozen=True)
class FitVerdict:
    """Whether the machine can run the model, and why."""

    can_run: bool
    summary: str  # one sentence
    reasons: tuple[str, ...]
    gpus: tuple[Gpu, ...]


def detect_gpus() -> tuple[Gpu, ...]:
    """The GPUs NVML sees (through the process's one NVML user); empty when there is no NVIDIA
    driver or no GPU."""
    devices = default_sampler().inventory() or ()
    return tuple(
        Gpu(d.index, d.name, (d.mem_total_bytes or 0) / 1024**3, d.compute_capability or 0.0) for d in devices
    )


def machine_fit(model: ModelSpec, gpus: tuple[Gpu, ...] | None = None) -> FitVerdict:
    """Compare the model's compute needs with this machine's GPUs (detected when not given)."""
    gpus = detect_gpus() if gpus is None else tuple(gpus)
    need = model.compute
    if need.min_gpus == 0:
        where = f"{len(gpus)} GPU(s)" if gpus else "the CPU"
        return FitVerdict(True, f"Yes: {model.id} runs on {where}.", (), gpus)
    reasons = []
    if not gpus:
        reasons.append("no NVIDIA GPU was found (nvidia-ml-py sees none)")
    else:
        if len(gpus) < need.min_gpus:
            reasons.append(f"needs {need.min_gpus} GPUs, this machine has {len(gpus)}")
        small = [
            g for g in gpus if g.memory_gb + 0.5 < need.gpu_memory_gb * 0.93
        ]  # "80GB" cards show ~79.6 GiB
        if small:
            reasons.append(
                f"needs {need.gpu_memory_gb} GB per GPU, {small[0].name} has {small[0].memory_gb:.0f} GB"
            )
        old = [g for g in gpus if g.compute_capability < need.min_compute_capability]
        if old:
            reasons.append(
                f"needs compute capability {need.min_compute_capability:g} (Ampere or newer), "
                f"{old[0].name} is {old[0].compute_capability:g}"
            )
    want = f"{need.min_gpus} GPU(s) with {need.gpu_memory_gb} GB each"
    if reasons:
        return FitVerdict(False, f"No: {model.id} needs {want}; {'; '.join(reasons)}.", tuple(reasons), gpus)
    return FitVerdict(True, f"Yes: {len(gpus)} GPU(s) meet the {want} that {model.id} needs.", (), gpus)
