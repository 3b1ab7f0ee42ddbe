"""The dashboard's header: status, iteration of max, throughput, ETA and the watchdog's flags."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from cosmos_tui.tui.state import RunView
from cosmos_tui.tui.widgets.format import STATUS_STYLE, duration, loss, progress


class RunHeader(Widget):
    """Renders one :class:`RunView` in two lines."""

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
        text.append("  ETA ", style="dim")
        text.append(duration(v.eta_s))
        if r.exit_code is not None and not r.active:
            text.append(f"  exit {r.exit_code}", style="red" if r.exit_code else "green")
        for flag in v.flags:
            text.append(f"  ⚠ {flag}", style="bold red")
        return text
