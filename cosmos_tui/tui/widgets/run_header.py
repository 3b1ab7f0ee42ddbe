"""The dashboard's header: status, iteration of max, throughput, ETA; then the watchdog's health
and flags and the live disk forecast."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from cosmos_tui.tui.state import RunView
from cosmos_tui.tui.widgets.format import STATUS_STYLE, duration, loss, progress, size

HEALTH_STYLE = {
    "starting": "cyan",
    "running": "green",
    "saving": "cyan",
    "stalled": "bold yellow",
    "finished": "green",
    "crashed": "bold red",
    "stopped": "yellow",
    "lost": "bold red",
}
"""Rich style of each watchdog state."""

DISK_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "unknown": "dim"}
"""Rich style of each disk forecast verdict."""


class RunHeader(Widget):
    """Renders one :class:`RunView` in three lines."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view: RunView | None = None

    def show(self, view: RunView) -> None:
        """Render a new snapshot."""
        self.view = view
        self.refresh()

    def render(self) -> Text:
        v = self.view
        if v is None:
            return Text("Reading the run…", style="dim")
        r = v.row
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {r.status.upper()} ", style=f"reverse {STATUS_STYLE.get(r.status, '')}")
        text.append(f" {r.id}", style="bold")
        text.append(f"  {r.experiment}", style="dim")
        text.append("\n")
        text.append("iter ", style="dim")
        text.append(progress(r.iteration, r.max_iter), style="bold")
        text.append("  loss ", style="dim")
        text.append(loss(r.loss))
        text.append("  speed ", style="dim")
        text.append(f"{v.sec_per_iter:.2f} s/it" if v.sec_per_iter else "–")
        if v.samples_per_s:
            text.append(f" {v.samples_per_s:.1f} samples/s")
        if v.tokens_per_s:
            text.append(f" {v.tokens_per_s:,.0f} tokens/s")
        if v.parallelism:
            text.append("  ", style="dim")
            text.append(v.parallelism.split(" (")[0])
        text.append("  ETA ", style="dim")
        text.append(duration(v.eta_s))
        if r.exit_code is not None and not r.active:
            text.append(f"  exit {r.exit_code}", style="red" if r.exit_code else "green")
        text.append("\n")
        text.append("health ", style="dim")
        text.append(v.health, style=HEALTH_STYLE.get(v.health, ""))
        if v.cpu_percent is not None:
            text.append(f"  cpu {v.cpu_percent:.0f}%", style="dim")
        if v.rss_bytes is not None:
            text.append(f" rss {size(v.rss_bytes)}", style="dim")
        for flag in v.flags:
            text.append(f"  ⚠ {flag}", style="bold red")
        if v.steps:
            text.append("  steps ", style="dim")
            text.append(" > ".join(f"{name} {status}" for name, status in v.steps))
        if v.samples:
            text.append(f"  samples {v.samples}", style="dim")
        if v.cost:
            text.append("  cost ", style="dim")
            text.append(v.cost)
        if v.disk_message:
            text.append("  disk ", style="dim")
            text.append(v.disk_message, style=DISK_STYLE.get(v.disk_verdict or "unknown", ""))
        return text
