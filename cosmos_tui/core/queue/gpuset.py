"""What a queued run asks for: a GPU set (``0-3``, ``4``, ``0,2``), ``any:N`` GPUs, or slots."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cosmos_tui.core.errors import UsageError

_ITEM = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?$")
_ANY = re.compile(r"^any(?::(\d{1,3}))?$")
MAX_GPU_INDEX = 255


@dataclass(frozen=True)
class GpuRequest:
    """A GPU request: exactly ``devices``, or any ``count`` free GPUs when ``devices`` is ``None``."""

    devices: tuple[int, ...] | None
    """The GPU indices asked for (sorted), or ``None`` for any free ones."""
    count: int
    """How many GPUs."""

    def text(self) -> str:
        """The request as the command line spells it (``0-3``, ``0,2``, ``any:2``)."""
        if self.devices is None:
            return f"any:{self.count}"
        return ",".join(str(d) for d in self.devices)


def parse_gpus(text: str, default_count: int) -> GpuRequest:
    """``0-3``, ``4``, ``0,2``, ``0-1,4``, ``any`` (``default_count`` GPUs: the preset's
    ``launch.nproc_per_node``) or ``any:N``; :class:`UsageError` for anything else."""
    value = text.strip()
    found = _ANY.match(value)
    if found:
        count = int(found.group(1)) if found.group(1) else default_count
        if count < 1:
            raise UsageError(f"--gpus {text!r}: any:N needs N of 1 or more")
        return GpuRequest(None, count)
    devices: set[int] = set()
    for part in value.split(","):
        m = _ITEM.match(part.strip())
        if not m:
            raise UsageError(f"--gpus {text!r}: expected GPU indices such as 0-3, 4, 0,2, or any / any:N")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo or hi > MAX_GPU_INDEX:
            raise UsageError(
                f"--gpus {text!r}: {part} is not a range of GPU indices (low-high, 0-{MAX_GPU_INDEX})"
            )
        devices.update(range(lo, hi + 1))
    return GpuRequest(tuple(sorted(devices)), len(devices))


def visible_devices(devices: tuple[int, ...]) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` value for ``devices``."""
    return ",".join(str(d) for d in devices)
