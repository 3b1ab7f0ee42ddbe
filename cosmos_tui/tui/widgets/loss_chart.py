"""A compact line chart drawn with braille dots: one or more curves (loss, or another metric)
over iterations, and which metric the dashboard's chart shows (:data:`CHART_METRICS`).

Textual has no chart widget; braille gives 2x4 dots per cell, enough for a readable curve in a
few rows. The widget only renders the series it is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cosmos_tui.core.monitor.series import ema

Series = Sequence[tuple[float, float]]
# Bit of each dot in a braille cell, by (column, row) within the 2x4 cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
PALETTE = ("green", "cyan", "magenta", "yellow", "blue", "red")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


def series_style(series: dict[str, Series], styles: dict[str, str] | None = None) -> list[str]:
    """The style of each curve, in order: its own from ``styles``, else the next palette colour."""
    styles = styles or {}
    out, used = [], 0
    for name in series:
        if name in styles:
            out.append(styles[name])
        else:
            out.append(PALETTE[used % len(PALETTE)])
            used += 1
    return out


def render_chart(
    series: dict[str, Series],
    width: int,
    height: int,
    *,
    empty: str = "no data yet",
    styles: dict[str, str] | None = None,
) -> Text:
    """The chart as styled text of ``height`` lines, ``width`` cells wide, with a y-axis label
    column (max, min) and the x range on the last line; ``styles`` overrides a curve's colour
    (a dimmed reference). Where curves share a cell, the later one's colour shows."""
    pts = [(x, y) for s in series.values() for x, y in s if math.isfinite(y)]
    if not pts or width < 12 or height < 3:
        return Text(empty, style="dim", justify="center")
    rows = height - 1
    ymin = min(y for _, y in pts)
    ymax = max(y for _, y in pts)
    xmin = min(x for x, _ in pts)
    xmax = max(x for x, _ in pts)
    label_w = max(len(_fmt(ymax)), len(_fmt(ymin))) + 1
    cols = width - label_w
    dots_w, dots_h = cols * 2, rows * 4
    yspan = (ymax - ymin) or 1.0
    xspan = (xmax - xmin) or 1.0
    cells: list[list[int]] = [[0] * cols for _ in range(rows)]
    owner: list[list[int]] = [[-1] * cols for _ in range(rows)]
    style_of = series_style(series, styles)

    def plot(dx: int, dy: int, idx: int) -> None:
        cx, cy = dx // 2, dy // 4
        cells[cy][cx] |= _DOTS[dx % 2][dy % 4]
        owner[cy][cx] = idx

    for idx, s in enumerate(series.values()):
        prev: tuple[int, int] | None = None
        for x, y in s:
            if not math.isfinite(y):
                prev = None
                continue
            dx = min(dots_w - 1, int((x - xmin) / xspan * (dots_w - 1) + 0.5))
            dy = min(dots_h - 1, int((ymax - y) / yspan * (dots_h - 1) + 0.5))
            if prev is not None:  # join with a straight line of dots
                px, py = prev
                steps = max(abs(dx - px), abs(dy - py), 1)
                for k in range(1, steps):
                    plot(px + (dx - px) * k // steps, py + (dy - py) * k // steps, idx)
            plot(dx, dy, idx)
            prev = (dx, dy)
    text = Text(no_wrap=True, overflow="crop")
    for r in range(rows):
        label = _fmt(ymax) if r == 0 else _fmt(ymin) if r == rows - 1 else ""
        text.append(label.rjust(label_w - 1) + "│", style="dim")
        for c in range(cols):
            bits = cells[r][c]
            text.append(chr(0x2800 + bits), style=style_of[owner[r][c]] if bits else "")
        text.append("\n")
    left, right = f"{int(xmin)}", f"it {int(xmax)}"
    text.append(" " * label_w + left + right.rjust(max(1, cols - len(left))), style="dim")
    return text


MIN_CHART_ROWS = 5
"""The fewest rows a chart with a label line is readable in: the label, three rows of dots (max,
a middle, min) and the x range."""


def legend_lines(
    names: Sequence[str], styles: Sequence[str], width: int, short: dict[str, str], max_lines: int = 1
) -> list[Text]:
    """The legend in ``width`` columns: the names with two spaces between, else one, else their
    ``short`` names; what still does not fit wraps between entries onto up to ``max_lines``
    lines, and only then is cut (with an ellipsis)."""

    def entries(use_short: bool) -> list[tuple[str, str]]:
        return [(short.get(n, n) if use_short else n, st) for n, st in zip(names, styles, strict=True)]

    def line(items: list[tuple[str, str]], gap: str) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        for k, (name, style) in enumerate(items):
            if k:
                text.append(gap)
            text.append("■ ", style=style)
            text.append(name)
        return text

    for use_short, gap in ((False, "  "), (False, " "), (True, " ")):
        whole = line(entries(use_short), gap)
        if whole.cell_len <= width:
            if gap == "  " and whole.cell_len + 2 <= width:
                whole.append(gap)  # as the legend always ended (the snapshots' text)
            return [whole]
    lines: list[list[tuple[str, str]]] = [[]]
    for item in entries(True):
        if lines[-1] and line([*lines[-1], item], " ").cell_len > width and len(lines) < max_lines:
            lines.append([])
        lines[-1].append(item)
    out = [line(items, " ") for items in lines]
    for text in out:
        text.truncate(max(1, width), overflow="ellipsis")
    return out


class LossChart(Widget):
    """Loss over iterations for one run, or several runs in different colours (with a legend);
    a single curve gets a label line only when :attr:`label` is set (a second chart says what it
    draws). The label is one line, cut to the width; the legend fits the width (one space between
    entries, then the curves' :attr:`curve_short` names) and wraps onto a second line only when
    even that does not fit and the chart keeps :data:`MIN_CHART_ROWS` rows."""

    series: reactive[dict[str, tuple[tuple[int, float], ...]]] = reactive(dict, layout=False)
    """Curves by name; each a sequence of ``(iteration, loss)``."""

    def __init__(self, *, empty: str = "no loss reported yet", label: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.empty = empty
        self.label = label
        self.curve_styles: dict[str, str] = {}
        """A curve's own style by name (set before :attr:`series`); the rest take the palette."""
        self.curve_short: dict[str, str] = {}
        """A curve's short legend name by name (set before :attr:`series`), used when the legend
        does not fit the width otherwise."""

    def render(self) -> Text:
        width, height = self.content_size
        series = dict(self.series)
        legend = len(series) > 1
        if not legend and self.label is None:
            return render_chart(series, width, height, empty=self.empty, styles=self.curve_styles)
        if legend:
            styles = series_style(series, self.curve_styles)
            spare = 2 if height - 2 >= MIN_CHART_ROWS - 1 else 1
            lines = legend_lines(list(series), styles, max(1, width), self.curve_short, spare)
        else:
            label = Text(str(self.label), style="bold", no_wrap=True, overflow="crop")
            label.truncate(max(1, width), overflow="ellipsis")
            lines = [label]
        chart = render_chart(series, width, height - len(lines), empty=self.empty, styles=self.curve_styles)
        text = Text("\n", no_wrap=True, overflow="crop").join([*lines, chart])
        text.no_wrap, text.overflow = True, "crop"
        return text


CHART_METRICS = (
    ("loss", "loss"),
    ("lr", "learning rate"),
    ("grad_norm", "grad norm"),
    ("samples_per_s", "samples/s"),
    ("tokens_per_s", "tokens/s"),
    ("peak_mem_gb", "peak memory GB"),
    ("mfu", "MFU"),
)
"""What the dashboard's chart can show, in the order ``m`` cycles through: ``(key, title)``; the
keys are ``metrics.jsonl``'s."""
SMOOTHING = 0.9
"""The EMA weight of the smoothed view."""


def chart_choices(metrics: dict[str, object]) -> tuple[str, ...]:
    """The metrics there is something to chart for: the loss, and each of ``metrics`` that has points."""
    return tuple(k for k, _ in CHART_METRICS if k == "loss" or metrics.get(k))


def next_metric(current: str, metrics: dict[str, object]) -> str:
    """The metric after ``current`` among :func:`chart_choices` (round to the loss)."""
    choices = chart_choices(metrics)
    if current not in choices:
        return choices[0]
    return choices[(choices.index(current) + 1) % len(choices)]


def chart_title(metric: str, smooth: bool) -> str:
    """The chart box's title: the metric, and ``EMA`` when smoothed."""
    title = dict(CHART_METRICS).get(metric, metric)
    return f"{title} · EMA {SMOOTHING}" if smooth else title


REFERENCE_STYLE = "grey42"
"""The dimmed colour of a preset's reference curve."""


def loss_series(
    name: str, losses: Series, val_loss: Series, reference: Series, reference_label: str
) -> tuple[dict[str, Series], dict[str, str]]:
    """The loss chart's curves and their own styles: the preset's reference first (drawn under
    the others, dimmed), the training loss ``name``, then the held-out loss."""
    series: dict[str, Series] = {}
    styles: dict[str, str] = {}
    if reference:
        label = reference_label or "reference"
        series[label], styles[label] = reference, REFERENCE_STYLE
    series[name] = losses
    if val_loss:
        series["val loss"] = val_loss
    return series, styles


def loss_short_names(name: str, reference_label: str) -> dict[str, str]:
    """The loss chart's legend names where the whole ones do not fit (an 80-column dashboard):
    ``ref x8`` for the reference (always of the run's own device), ``loss``, ``val``."""
    ranks = reference_label.rsplit(" ", 1)[-1] if reference_label else ""
    ref = f"ref {ranks}" if ranks.startswith("x") else "ref"
    return {reference_label or "reference": ref, name: "loss", "val loss": "val"}


def chart_points(
    metric: str, losses: Series, metrics: dict[str, Series], *, smooth: bool = False
) -> tuple[tuple[float, float], ...]:
    """The points to draw for ``metric`` (``losses`` for the loss), smoothed (EMA) when asked."""
    points = losses if metric == "loss" else metrics.get(metric, ())
    return tuple(ema(points, SMOOTHING)) if smooth else tuple(points)
