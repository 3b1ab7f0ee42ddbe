"""Per-GPU bars (utilisation, memory, temperature, power) and a short history of each.

The widget renders the :class:`~cosmos_tui.tui.state.GpuState` snapshots it is given; the history
is the last readings it was shown, kept in a bounded deque per device.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widget import Widget

from cosmos_tui.tui.state import GpuState

_SPARK = "▁▂▃▄▅▆▇█"


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


class GpuPanel(Widget):
    """Bars and history for every GPU; an explicit empty state when there is none."""

    HISTORY = 120
    """Readings kept per device (two minutes at 1 Hz)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = GpuState(reason="Reading GPUs…")
        self._util: dict[int, deque[float]] = {}
        self._mem: dict[int, deque[float]] = {}

    def show(self, state: GpuState) -> None:
        """Render a new reading and add it to the history."""
        self.state = state
        for g in state.gpus:
            self._util.setdefault(g.index, deque(maxlen=self.HISTORY)).append(g.util_pct)
            self._mem.setdefault(g.index, deque(maxlen=self.HISTORY)).append(g.mem_pct)
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, 2 * len(self.state.gpus))

    def render(self) -> Text:
        if not self.state.gpus:
            return Text.assemble(
                ("No GPU  ", "bold"),
                (self.state.reason or "", "dim"),
                ("\nThe builtin tiny model trains on CPU; upstream models need NVIDIA GPUs.", "dim"),
            )
        width = self.content_size.width or 80
        barw = max(4, (width - 50) // 2)
        out = Text(no_wrap=True, overflow="crop")
        for g in self.state.gpus:
            temp = f"{g.temp_c:.0f}°C" if g.temp_c is not None else "–"
            power = (
                f"{g.power_w:.0f}/{g.power_limit_w:.0f}W"
                if g.power_w is not None and g.power_limit_w
                else f"{g.power_w:.0f}W"
                if g.power_w is not None
                else "–"
            )
            out.append(f"GPU{g.index} ", style="bold")
            out.append("util ")
            out.append_text(bar(g.util_pct, barw))
            out.append(f" {g.util_pct:3.0f}%  mem ")
            out.append_text(bar(g.mem_pct, barw))
            out.append(f" {g.mem_used_mb / 1024:5.1f}/{g.mem_total_mb / 1024:.0f}G  {temp:>5} {power:>9}\n")
            hist_w = max(4, (width - 16) // 2)
            out.append("     util ", style="dim")
            out.append(spark(list(self._util.get(g.index, [])), hist_w).ljust(hist_w), style="green")
            out.append("  mem ", style="dim")
            out.append(spark(list(self._mem.get(g.index, [])), hist_w), style="cyan")
            out.append("\n")
        out.rstrip()
        return out
