"""Per-GPU bars (utilisation, memory, temperature, power), the runs on each device, and a history
row of each.

The widget renders the :class:`~cosmos_tui.core.monitor.gpus.GpuSnapshot` readings it is given
(from the shared NVML sampler); the history is the last readings it was shown, kept in a bounded
deque per device and drawn as a timeline that fills from the right.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widget import Widget

from cosmos_tui.core.monitor.gpus import GpuDevice, GpuSnapshot

_SPARK = "▁▂▃▄▅▆▇█"
_EMPTY = "·"


def bar(pct: float, width: int) -> Text:
    """A horizontal bar ``width`` cells wide, coloured by how full it is."""
    pct = max(0.0, min(100.0, pct))
    full = round(pct / 100 * width)
    style = "green" if pct < 60 else "yellow" if pct < 85 else "red"
    return Text.assemble(("█" * full, style), ("░" * (width - full), "dim"))


def spark(values: list[float], width: int, top: float = 100.0) -> str:
    """The last ``width`` values as block characters scaled to ``top``."""
    vals = values[-width:]
    return "".join(_SPARK[min(7, max(0, int(v / top * 7.999)))] if top else _SPARK[0] for v in vals)


def timeline(values: list[float], width: int, style: str) -> Text:
    """A history row exactly ``width`` cells wide: the newest readings on the right, dim dots where
    there is no reading yet."""
    line = spark(values, width)
    return Text.assemble((_EMPTY * (width - len(line)), "dim"), (line, style))


def mem_pct(d: GpuDevice) -> float:
    """Memory in use as a percentage of the device's memory."""
    if not d.mem_total_bytes or d.mem_used_bytes is None:
        return 0.0
    return 100.0 * d.mem_used_bytes / d.mem_total_bytes


class GpuPanel(Widget):
    """Bars and history for every GPU; an explicit empty state when there is none."""

    HISTORY = 240
    """Readings kept per device (four minutes at 1 Hz; as many as a wide terminal shows)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.snapshot = GpuSnapshot(False, reason="reading GPUs…")
        self._util: dict[int, deque[float]] = {}
        self._mem: dict[int, deque[float]] = {}

    def show(self, snapshot: GpuSnapshot) -> None:
        """Render a new reading and add it to the history."""
        self.snapshot = snapshot
        for d in snapshot.devices:
            if d.error is None:
                self._util.setdefault(d.index, deque(maxlen=self.HISTORY)).append(d.util_percent or 0.0)
                self._mem.setdefault(d.index, deque(maxlen=self.HISTORY)).append(mem_pct(d))
        self.refresh(layout=True)

    def history(self, index: int) -> tuple[list[float], list[float]]:
        """The utilisation and memory readings kept for a device, oldest first."""
        return list(self._util.get(index, ())), list(self._mem.get(index, ()))

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(2, 2 * len(self.snapshot.devices))

    def render(self) -> Text:
        snap = self.snapshot
        if not snap.devices:
            return Text.assemble(
                ("No GPU  ", "bold"),
                (snap.reason or "", "dim"),
                ("\nThe builtin tiny model trains on CPU; upstream models need NVIDIA GPUs.", "dim"),
            )
        width = self.content_size.width or 80
        barw = max(4, (width - 50) // 2)
        hist_w = max(4, (width - 16) // 2)
        out = Text(no_wrap=True, overflow="crop")
        for d in snap.devices:
            out.append(f"GPU{d.index} ", style="bold")
            if d.error:
                out.append(f"{d.name}: {d.error}\n\n", style="red")
                continue
            util = d.util_percent or 0.0
            temp = f"{d.temperature_c:.0f}°C" if d.temperature_c is not None else "–"
            if d.power_w is None:
                power = "–"
            elif d.power_limit_w:
                power = f"{d.power_w:.0f}/{d.power_limit_w:.0f}W"
            else:
                power = f"{d.power_w:.0f}W"
            used = (d.mem_used_bytes or 0) / 2**30
            total = (d.mem_total_bytes or 0) / 2**30
            out.append("util ")
            out.append_text(bar(util, barw))
            out.append(f" {util:3.0f}%  mem ")
            out.append_text(bar(mem_pct(d), barw))
            out.append(f" {used:5.1f}/{total:.0f}G  {temp:>5} {power:>9}")
            if d.runs:
                out.append("  " + ", ".join(d.runs), style="cyan")
            out.append("\n")
            util_hist, mem_hist = self.history(d.index)
            out.append("     util ", style="dim")
            out.append_text(timeline(util_hist, hist_w, "green"))
            out.append("  mem ", style="dim")
            out.append_text(timeline(mem_hist, hist_w, "cyan"))
            out.append("\n")
        out.rstrip()
        return out
